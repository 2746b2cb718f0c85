"""The loop bench_incidents.py and bench_releases.py share: for each (customers, seed), a
generated history's conversation openings as planted (`planted_openings`: what a perfect
emotion and topic model give, so the figures judge a mart, not the models) and its scenarios,
on one local Spark session."""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator
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
