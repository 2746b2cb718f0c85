"""Acceptance and speed of gold.incident_impact and gold.unexplained_spikes on planted truth.

    .venv/bin/python bench/bench_incidents.py [--days 91] [--customers 2000 5000] [--seeds 1 2 3]

For each (customers, seed): generates the history, takes every conversation's opening at the
time it was planted, negative when its planted emotion is (`planted_openings`: what a perfect
emotion model gives, so the figures judge the marts, not the scorer), builds both marts with
Spark exactly as build_gold does, and prints the planted SEV1's lift (target >= 3) and lead
time (target: within 30 minutes of the planted one), the SEV3 decoys flagged (target 0),
whether the dark outage is an unexplained spike and the silent incident unnoticed, other
unexplained spikes, and the seconds both marts took.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=91)
    parser.add_argument("--customers", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()

    from voicelake.config import load_config
    from voicelake.generator import GeneratorSettings, generate_history
    from voicelake.generator.history import TRUTH_DIR
    from voicelake.generator.judge import incident_detection, landed_incidents, planted_openings
    from voicelake.jobs.transforms.incidents import IncidentParams, build_incident_impact, build_unexplained_spikes
    from voicelake.spark import get_spark

    params = IncidentParams()
    start = date(2026, 1, 5)
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
                incidents = landed_incidents(spark, root / "landing").cache()
                n = openings.count()
                t0 = time.perf_counter()
                impact = build_incident_impact(incidents, openings, params, start).cache()
                spikes = build_unexplained_spikes(openings, incidents, impact, params, None, start).toPandas()
                impact_rows = impact.toPandas()
                seconds = time.perf_counter() - t0
                scenarios = json.loads((root / "answers.json").read_text())["scenarios"]
                found = incident_detection(impact_rows, spikes, scenarios)
                print(f"customers {customers} seed {seed}: SEV1 lift {found.sev1_lift:.1f} impact {found.sev1_impact}, "
                      f"lead {found.lead_minutes} min (planted {found.planted_lead_minutes:.0f}); decoys flagged "
                      f"{found.decoys_flagged}/{found.decoys}; dark outage found {found.dark_outage_found}, "
                      f"other unexplained spikes {found.other_spikes}; silent incident unnoticed "
                      f"{found.silent_unnoticed}; {n} openings, both marts in {seconds:.1f}s")
                openings.unpersist()
                incidents.unpersist()
                impact.unpersist()
        spark.stop()


if __name__ == "__main__":
    main()
