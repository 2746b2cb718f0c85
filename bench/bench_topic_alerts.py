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
With ``--model-days N``, also runs a lake of N days through ingest, silver, planted emotion
scores and the real topic model (`model_figures`) and judges the alerts on its topic ids.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from planted_histories import seasonal_topic_daily  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=182)
    parser.add_argument("--customers", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--model-days", type=int, default=0,
                        help="also judge the alerts on the topic model's topics over a lake of this many days")
    parser.add_argument("--model-customers", type=int, default=2000)
    args = parser.parse_args()


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
        frame = seasonal_topic_daily(spark, start, args.days, args.series)
        t0 = time.perf_counter()
        n = build_topic_alerts(frame, None, params, start, end).count()
        seconds = time.perf_counter() - t0
        tested = args.series * (args.days - params.min_history_days)
        print(f"{args.series} series x {args.days} days: alerts in {seconds:.1f} s on 2 cores "
              f"({tested / seconds:,.0f} series-days/s); {n} alerts on seasonal noise "
              f"({n / tested * 1500:.2f} per 30 days per 50 series)")
        if args.model_days:
            model_figures(config, Path(tmp) / "model", args.model_days, args.model_customers)
        spark.stop()


def model_figures(base_config: object, home: Path, days: int, customers: int) -> None:
    """The alerts on the topics the topic model assigns, as a daily pipeline would: ingest,
    silver, planted emotion scores, topics fitted on the first 28 days, the rest assigned by
    that champion (refitting itself as the job does when the stored openings have doubled)."""
    from voicelake.config import load_config
    from voicelake.generator import GeneratorSettings, generate_history, judge
    from voicelake.generator.scores import planted_scores
    from voicelake.jobs.build_silver import build_silver
    from voicelake.jobs.ingest import ingest
    from voicelake.jobs.topic_marts import build_topic_marts
    from voicelake.jobs.topics import build_topics
    from voicelake.lake import Lake
    from voicelake.models.taxonomy import load_taxonomy
    from voicelake.runtime import JobContext
    from voicelake.schemas import GOLD_TOPIC_ALERTS, SILVER_MESSAGE_EMOTIONS, SILVER_MESSAGE_TOPICS, SILVER_MESSAGES
    from voicelake.spark import get_spark

    start = date(2026, 1, 5)
    generate_history(GeneratorSettings(days=days, customers=customers, seed=1, start=start,
                                       landing=home / "landing", answers=home / "answers.json"))
    config = load_config("local", overrides={"home": str(home / "home"), "lake": {"landing": str(home / "landing")}})
    spark = get_spark(config)
    ctx = JobContext(config, spark, Lake(spark, config))
    t0 = time.perf_counter()
    ingest(ctx)
    build_silver(ctx)
    taxonomy = load_taxonomy()
    truth = judge.read_truth(spark, home / "answers.json")
    ctx.lake.overwrite(planted_scores(ctx.lake.read(SILVER_MESSAGES), truth["messages"], taxonomy.labels,
                                      taxonomy.positive, taxonomy.negative),
                       SILVER_MESSAGE_EMOTIONS, partition_by=["sent_date"])
    print(f"model lake: {days} days x {customers} customers ingested, silver and planted scores in "
          f"{time.perf_counter() - t0:.0f}s")
    t0 = time.perf_counter()
    first = build_topics(ctx, since=start, until=start + timedelta(days=27))
    rest = build_topics(ctx, since=start + timedelta(days=28), until=start + timedelta(days=days - 1))
    print(f"topics: fitted v{first.version} on 28 days, then v{rest.version} ({rest.refit or 'no refit'}); "
          f"{first.embedded + rest.embedded} openings embedded in {time.perf_counter() - t0:.0f}s")
    marts = build_topic_marts(ctx, None)
    alerts = marts[GOLD_TOPIC_ALERTS].toPandas()
    topics = ctx.lake.read(SILVER_MESSAGE_TOPICS)
    n_topics = topics.select("topic_id").distinct().count()
    scenarios = json.loads((home / "answers.json").read_text())["scenarios"]
    from voicelake.jobs.transforms.topic_trends import AlertParams

    tested_days = days - AlertParams().min_history_days
    found = judge.model_topic_alert_detection(alerts, topics, truth["conversations"], scenarios,
                                              n_topics * tested_days)
    print(f"with the topic model ({n_topics} topic ids): lags (days) {found.lags}, kinds {found.kinds}; "
          f"other alerts {found.false_alerts} in {found.series_days} series-days "
          f"({found.false_per_1500:.2f} per 30 days per 50 series)")
    print(alerts.sort_values(["date", "topic_id"])[["date", "topic_id", "topic_label", "metric", "kind",
                                                    "observed", "expected", "statistic"]].to_string())


if __name__ == "__main__":
    main()
