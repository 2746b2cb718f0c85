"""Acceptance and speed of gold.topic_forecast on planted truth, over several seeded histories.

    .venv/bin/python bench/bench_forecast.py [--days 182] [--customers 2000 5000] [--seeds 1 2 3]
                                             [--series 1000]

For each (customers, seed): generates the history, counts each conversation under its planted
topic (`planted_topic_daily`: what a perfect topic model gives, so the figures judge the
forecast, not the topics), forecasts every topic and the whole service from the last day with
Spark exactly as build_gold does, and prints the rolling-origin backtest: mean MASE against the
seasonal-naive forecast's (target: below it) and the pooled coverage of the 80% and 95%
intervals (target: within 5 points). Then forecasts the emerging topic from 3, 6 and 9 days
after it starts (it doubles every three days for about 16 days, then levels off): growth shown
before the peak is a forecast of the next 7 days above the last 7 and rising. Last, times the
forecast of ``--series`` synthetic seasonal series (target: under a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from planted_histories import seasonal_topic_daily  # noqa: E402


def backtest_figures(forecast: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per metric: series backtested, mean MASE and the seasonal-naive one, pooled coverage."""
    figures = {}
    for metric, group in forecast[forecast["horizon"] == 1].groupby("metric"):
        tested = group[group["backtest_points"] > 0]
        points = tested["backtest_points"].sum()
        figures[str(metric)] = {
            "series": float(len(tested)), "mase": float(tested["backtest_mase"].mean()),
            "naive_mase": float(tested["backtest_naive_mase"].mean()),
            "coverage_80": float((tested["backtest_coverage_80"] * tested["backtest_points"]).sum() / points),
            "coverage_95": float((tested["backtest_coverage_95"] * tested["backtest_points"]).sum() / points)}
    return figures


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
    from voicelake.generator.judge import planted_topic_daily
    from voicelake.jobs.transforms.topic_forecast import ForecastParams, build_topic_forecast
    from voicelake.spark import get_spark

    params = ForecastParams()
    start = date(2026, 1, 5)
    end = start + timedelta(days=args.days - 1)
    pooled: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config("local", overrides={"home": str(Path(tmp) / "home")}).with_spark_conf(
            master="local[2]", **{"spark.sql.shuffle.partitions": "4"})
        spark = get_spark(config)
        for customers in args.customers:
            for seed in args.seeds:
                root = Path(tmp) / f"c{customers}-s{seed}"
                generate_history(GeneratorSettings(days=args.days, customers=customers, seed=seed, start=start,
                                                   landing=root / "landing", answers=root / "answers.json"))
                truth = spark.read.json(str(root / TRUTH_DIR / "conversations.jsonl"))
                daily = planted_topic_daily(spark, truth, start).cache()
                t0 = time.perf_counter()
                forecast = build_topic_forecast(daily, end, params, start).toPandas()
                seconds = time.perf_counter() - t0
                figures = backtest_figures(forecast)
                for metric, values in figures.items():
                    pooled.setdefault(metric, []).append(values)
                    print(f"customers {customers} seed {seed} {metric}: {values['series']:.0f} series, MASE "
                          f"{values['mase']:.3f} vs seasonal naive {values['naive_mase']:.3f}, coverage 80% "
                          f"{values['coverage_80']:.3f}, 95% {values['coverage_95']:.3f} ({seconds:.1f} s)")
                scenarios = json.loads((root / "answers.json").read_text())["scenarios"]
                emerging = scenarios["emerging_topic"]
                began = date.fromisoformat(emerging["starts_on"])
                topic = daily.where(F.col("topic_label") == emerging["topic"]).toPandas()
                topic["date"] = pd.to_datetime(topic["date"]).dt.date
                shown = []
                for after in (3, 6, 9):
                    origin = began + timedelta(days=after)
                    early = build_topic_forecast(daily.where(F.col("date") <= F.lit(origin)), origin, params,
                                                 start).toPandas()
                    mine = early[(early["topic_label"] == emerging["topic"]) & (early["metric"] == "volume")]
                    mine = mine.sort_values("horizon")
                    last = topic[(topic["date"] <= origin) & (topic["date"] > origin - timedelta(days=7))][
                        "conversations"].sum()
                    nxt = topic[(topic["date"] > origin) & (topic["date"] <= origin + timedelta(days=7))][
                        "conversations"].sum()
                    ahead = mine["forecast"].iloc[:7].sum()
                    rising = mine["forecast"].iloc[6] > mine["forecast"].iloc[0]
                    shown.append(f"+{after}d: last 7 {last}, forecast next 7 {ahead:.0f} "
                                 f"[{mine['lo_80'].iloc[:7].sum():.0f}, {mine['hi_80'].iloc[:7].sum():.0f}], actual "
                                 f"{nxt}, {'rising' if rising else 'flat'} ({mine['model'].iloc[0]})")
                print("  emerging topic " + "; ".join(shown))
                daily.unpersist()
        for metric, runs in pooled.items():
            print(f"all histories {metric}: MASE {np.mean([r['mase'] for r in runs]):.3f} vs seasonal naive "
                  f"{np.mean([r['naive_mase'] for r in runs]):.3f}; coverage 80% "
                  f"{min(r['coverage_80'] for r in runs):.3f}-{max(r['coverage_80'] for r in runs):.3f}, 95% "
                  f"{min(r['coverage_95'] for r in runs):.3f}-{max(r['coverage_95'] for r in runs):.3f}")

        # speed: many seasonal series through the same Spark path
        frame = seasonal_topic_daily(spark, start, args.days, args.series)
        t0 = time.perf_counter()
        forecast = build_topic_forecast(frame, end, params, start).toPandas()
        seconds = time.perf_counter() - t0
        figures = backtest_figures(forecast)
        print(f"{args.series} series (+ the service) x {args.days} days, 2 metrics, {params.backtest_windows} "
              f"backtest windows: forecast in {seconds:.1f} s on 2 cores; volume MASE "
              f"{figures['volume']['mase']:.3f} vs {figures['volume']['naive_mase']:.3f}, coverage "
              f"{figures['volume']['coverage_80']:.3f} / {figures['volume']['coverage_95']:.3f}")
        spark.stop()


if __name__ == "__main__":
    main()
