"""What the benches share: the loop bench_incidents.py and bench_releases.py run (for each
(customers, seed), a generated history's conversation openings as planted
(`planted_openings`: what a perfect emotion and topic model give, so the figures judge a
mart, not the models) and its scenarios, on one local Spark session), and the synthetic
seasonal topic series bench_topic_alerts.py and bench_forecast.py time their marts on."""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

START = date(2026, 1, 5)


@dataclass(frozen=True)
class PlantedHistory:
    customers: int
    seed: int
    landing: Path
    openings: Any        # pyspark DataFrame, cached while the caller works on it
    scenarios: dict
    spark: Any


def parse_args(description: str, days: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--days", type=int, default=days)
    parser.add_argument("--customers", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    return parser.parse_args()


def planted_histories(args: argparse.Namespace) -> Iterator[PlantedHistory]:
    from voicelake.config import load_config
    from voicelake.generator import GeneratorSettings, generate_history
    from voicelake.generator.history import TRUTH_DIR
    from voicelake.generator.judge import planted_openings
    from voicelake.spark import get_spark

    with tempfile.TemporaryDirectory() as tmp:
        config = load_config("local", overrides={"home": str(Path(tmp) / "home")}).with_spark_conf(
            master="local[2]", **{"spark.sql.shuffle.partitions": "4"})
        spark = get_spark(config)
        for customers in args.customers:
            for seed in args.seeds:
                root = Path(tmp) / f"c{customers}-s{seed}"
                generate_history(GeneratorSettings(days=args.days, customers=customers, seed=seed, start=START,
                                                   landing=root / "landing", answers=root / "answers.json"))
                openings = planted_openings(spark.read.json(str(root / TRUTH_DIR / "conversations.jsonl"))).cache()
                yield PlantedHistory(customers, seed, root / "landing", openings,
                                     json.loads((root / "answers.json").read_text())["scenarios"], spark)
                openings.unpersist()
        spark.stop()


def seasonal_topic_daily(spark: Any, start: date, days: int, series: int, seed: int = 0) -> Any:
    """gold.topic_daily's shape for ``series`` synthetic topics over ``days`` days: Poisson
    volumes with log-normal means and weekends at 40% of weekdays, a quarter negative; cached."""
    from datetime import timedelta

    import numpy as np
    import pandas as pd
    from pyspark.sql import functions as F

    rng = np.random.default_rng(seed)
    dates = [start + timedelta(days=i) for i in range(days)]
    profile = np.array([1.0 if d.weekday() < 5 else 0.4 for d in dates])
    means = rng.lognormal(1.5, 1.0, size=series)
    rows = pd.DataFrame({
        "date": np.tile(dates, series), "topic_id": np.repeat(np.arange(series), days),
        "topic_label": "topic", "conversations": rng.poisson(np.outer(means, profile)).ravel()})
    rows["negative_messages"] = rng.binomial(rows["conversations"], 0.25)
    rows["scored_messages"] = rows["conversations"]
    frame = spark.createDataFrame(rows).withColumn("topic_id", F.col("topic_id").cast("int")).cache()
    frame.count()
    return frame


class StepTimer:
    """``timer(name, fn, *args)`` runs ``fn`` and keeps its seconds under ``name``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import time

        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[name] = time.perf_counter() - t0
        return out

    def summary(self) -> str:
        return "seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in self.seconds.items())


@contextmanager
def scored_lake(home: Path, days: int, customers: int, seed: int,
                timed: Callable[..., Any]) -> Iterator[Any]:
    """A generated history ingested, built to silver and scored with the emotion each text was
    drawn from (a perfect emotion model: the figures judge what is built on it); yields the
    open JobContext. ``timed(name, fn, *args)`` runs and times each step."""
    from voicelake.config import load_config
    from voicelake.generator import GeneratorSettings, generate_history, judge
    from voicelake.generator.scores import planted_scores
    from voicelake.jobs.build_silver import build_silver
    from voicelake.jobs.ingest import ingest
    from voicelake.models.registry import configure_mlflow
    from voicelake.models.taxonomy import load_taxonomy
    from voicelake.runtime import open_lake
    from voicelake.schemas import SILVER_MESSAGE_EMOTIONS, SILVER_MESSAGES

    timed("generate", generate_history, GeneratorSettings(
        days=days, customers=customers, seed=seed, start=START, landing=home / "landing",
        answers=home / "answers.json"))
    config = load_config("local", overrides={"home": str(home)})
    configure_mlflow(config)
    with open_lake(config=config) as ctx:
        timed("ingest", ingest, ctx)
        timed("silver", build_silver, ctx)
        truth = judge.read_truth(ctx.spark, home / "answers.json")
        taxonomy = load_taxonomy()
        ctx.lake.overwrite(planted_scores(ctx.lake.read(SILVER_MESSAGES), truth["messages"], taxonomy.labels,
                                          taxonomy.positive, taxonomy.negative),
                           SILVER_MESSAGE_EMOTIONS, partition_by=["sent_date"])
        yield ctx
