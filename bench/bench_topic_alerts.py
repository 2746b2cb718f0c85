"""Acceptance and speed of gold.topic_alerts on planted truth, over several seeded histories.

    .venv/bin/python bench/bench_topic_alerts.py [--days 182] [--customers 2000 5000] [--seeds 1 2 3]
                                                 [--series 1000]

For each (customers, seed): generates the history, counts each conversation under its planted
topic (`planted_topic_daily`: what a perfect topic model gives, so the figures judge the
alerts, not the topics), builds the alerts with Spark exactly as build_gold does, and prints
the days from each planted start to its first alert (incident spike, emerging topic, bad
release's topic; target: within one day) and the false alerts per 30 days per 50 topic
series (target: at most 1). Then times the alerts of ``--series`` synthetic topic series of
``--days`` days with weekly seasonality (alerts per second, and how many fired: none planted).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=182)
    parser.add_argument("--customers", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--series", type=int, default=1000)
    args = parser.parse_args()

    from pyspark.sql import functions as F

    from voicelake.config import load_config
    from voicelake.generator import GeneratorSettings, generate_history
    from voicelake.generator.history import TRUTH_DIR
    from voicelake.generator.judge import alert_detection, planted_topic_daily
    from voicelake.jobs.transforms.topic_trends import AlertParams, build_topic_alerts
    from voicelake.spark import get_spark

    params = AlertParams()
    start = date(2026, 1, 5)
    end = start + timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config("local", overrides={"home": str(Path(tmp) / "home")}).with_spark_conf(
            master="local[2]", **{"spark.sql.shuffle.partitions": "4"})
        spark = get_spark(config)
        false_total, days_total = 0, 0
        for customers in args.customers:
            for seed in args.seeds:
                root = Path(tmp) / f"c{customers}-s{seed}"
                generate_history(GeneratorSettings(days=args.days, customers=customers, seed=seed, start=start,
                                                   landing=root / "landing", answers=root / "answers.json"))
                truth = spark.read.json(str(root / TRUTH_DIR / "conversations.jsonl"))
                daily = planted_topic_daily(spark, truth, start).cache()
                alerts = build_topic_alerts(daily, None, params, start, end).toPandas()
                series_days = daily.select("topic_id").distinct().count() * (args.days - params.min_history_days)
                daily.unpersist()
                scenarios = json.loads((root / "answers.json").read_text())["scenarios"]
                found = alert_detection(alerts, scenarios, series_days)
                false_total += found.false_alerts
                days_total += series_days
                print(f"customers {customers} seed {seed}: lags (days) {found.lags}, kinds {found.kinds}; "
                      f"false alerts {found.false_alerts} in {series_days} series-days "
                      f"({found.false_per_1500:.2f} per 30 days per 50 series)")
        print(f"all histories: {false_total} false alerts in {days_total} series-days = "
              f"{false_total / days_total * 1500:.2f} per 30 days per 50 series (target <= 1)")

        # speed: many seasonal series through the same Spark path
        rng = np.random.default_rng(0)
        dates = [start + timedelta(days=i) for i in range(args.days)]
        profile = np.array([1.0 if d.weekday() < 5 else 0.4 for d in dates])
        means = rng.lognormal(1.5, 1.0, size=args.series)
        rows = pd.DataFrame({
            "date": np.tile(dates, args.series), "topic_id": np.repeat(np.arange(args.series), args.days),
            "topic_label": "topic", "conversations": rng.poisson(np.outer(means, profile)).ravel()})
        rows["negative_messages"] = rng.binomial(rows["conversations"], 0.25)
        rows["scored_messages"] = rows["conversations"]
        frame = spark.createDataFrame(rows).withColumn("topic_id", F.col("topic_id").cast("int")).cache()
        frame.count()
        t0 = time.perf_counter()
        n = build_topic_alerts(frame, None, params, start, end).count()
        seconds = time.perf_counter() - t0
        tested = args.series * (args.days - params.min_history_days)
        print(f"{args.series} series x {args.days} days: alerts in {seconds:.1f} s on 2 cores "
              f"({tested / seconds:,.0f} series-days/s); {n} alerts on seasonal noise "
              f"({n / tested * 1500:.2f} per 30 days per 50 series)")
        spark.stop()


if __name__ == "__main__":
    main()
