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

import argparse
import json
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path


def _fmt(triple: tuple[float | None, float | None, float | None]) -> str:
    est, lo, hi = (float("nan") if x is None else x for x in triple)
    return f"{est:.2f} [{lo:.2f}, {hi:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=70)
    parser.add_argument("--customers", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()

    from voicelake.config import load_config
    from voicelake.generator import GeneratorSettings, generate_history
    from voicelake.generator.history import TRUTH_DIR
    from voicelake.generator.judge import landed_releases, planted_openings, release_detection
    from voicelake.jobs.transforms.releases import ReleaseParams, build_release_impact
    from voicelake.spark import get_spark

    params = ReleaseParams()
    start = date(2026, 1, 5)
    history_start = datetime.combine(start, datetime.min.time())
    as_of = history_start + timedelta(days=args.days)
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config("local", overrides={"home": str(Path(tmp) / "home")}).with_spark_conf(
            master="local[2]", **{"spark.sql.shuffle.partitions": "4"})
        spark = get_spark(config)
        for customers in args.customers:
            for seed in args.seeds:
                root = Path(tmp) / f"c{customers}-s{seed}"
                generate_history(GeneratorSettings(days=args.days, customers=customers, seed=seed, start=start,
                                                   landing=root / "landing", answers=root / "answers.json"))
                openings = planted_openings(spark.read.json(str(root / TRUTH_DIR / "conversations.jsonl"))).cache()
                releases = landed_releases(spark, root / "landing").cache()
                n = openings.count()
                t0 = time.perf_counter()
                rows = build_release_impact(releases, openings, params, history_start, as_of).toPandas()
                seconds = time.perf_counter() - t0
                found = release_detection(rows, json.loads((root / "answers.json").read_text())["scenarios"])
                print(f"customers {customers} seed {seed}: bad release {found.bad_status}, contact rate ratio "
                      f"{_fmt(found.bad_rate_ratio)}, negative share diff {_fmt(found.bad_negative_diff)}, "
                      f"topic rank {found.bad_topic_rank}; decoys flagged {found.decoys_flagged}/{found.decoys}; "
                      f"{n} openings, mart in {seconds:.1f}s")
                openings.unpersist()
                releases.unpersist()
        spark.stop()


if __name__ == "__main__":
    main()
