"""Acceptance and speed of gold.release_impact on planted truth.

    .venv/bin/python bench/bench_releases.py [--days 70] [--customers 2000 5000] [--seeds 1 2 3]

For each (customers, seed): generates the history, takes every conversation's opening as it
was planted (`planted_openings`: the version the customer ran, negative when its planted
emotion is, its planted topic: what a perfect emotion and topic model give, so the figures
judge the mart, not the scorer), builds gold.release_impact with Spark exactly as build_gold
does, and prints the bad release's status (target: hurt), its contact rate ratio and
negative share difference with their 95% intervals (target: one excludes no change), the
rank of its planted topic among the topics that moved (target 1), the decoy releases
flagged (target 0) and the seconds the mart took.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from planted_histories import START, parse_args, planted_histories  # noqa: E402


def _fmt(triple: tuple[float | None, float | None, float | None]) -> str:
    est, lo, hi = (float("nan") if x is None else x for x in triple)
    return f"{est:.2f} [{lo:.2f}, {hi:.2f}]"


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], days=70)

    from voicelake.generator.judge import landed_releases, release_detection
    from voicelake.jobs.transforms.releases import ReleaseParams, build_release_impact

    params = ReleaseParams()
    history_start = datetime.combine(START, datetime.min.time())
    as_of = history_start + timedelta(days=args.days)
    for h in planted_histories(args):
        releases = landed_releases(h.spark, h.landing).cache()
        n = h.openings.count()
        t0 = time.perf_counter()
        rows = build_release_impact(releases, h.openings, params, history_start, as_of).toPandas()
        seconds = time.perf_counter() - t0
        found = release_detection(rows, h.scenarios)
        print(f"customers {h.customers} seed {h.seed}: bad release {found.bad_status}, contact rate ratio "
              f"{_fmt(found.bad_rate_ratio)}, negative share diff {_fmt(found.bad_negative_diff)}, "
              f"topic rank {found.bad_topic_rank}; decoys flagged {found.decoys_flagged}/{found.decoys}; "
              f"{n} openings, mart in {seconds:.1f}s")
        releases.unpersist()


if __name__ == "__main__":
    main()
