"""Shared fixtures: one local Spark session with Delta for the whole run, a fresh lake
home per test, and helpers to write landing files."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from voicelake.config import Config, load_config
from voicelake.lake import Lake
from voicelake.runtime import JobContext
from voicelake.spark import get_spark

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.pop("VOICELAKE_HOME", None)
os.environ.pop("VOICELAKE_ENV", None)

TEST_SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "2g",
}


def make_config(home: Path) -> Config:
    """The local config with every location under ``home`` and test-sized Spark."""
    return load_config("local", overrides={"home": str(home)}).with_spark_conf(master="local[2]", **TEST_SPARK_CONF)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    session = get_spark(make_config(tmp_path_factory.mktemp("session-home")))
    yield session
    session.stop()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path / "home")


@pytest.fixture
def ctx(spark: SparkSession, config: Config) -> JobContext:
    return JobContext(config, spark, Lake(spark, config))


def write_jsonl(folder: Path, name: str, records: list[dict | str | bytes]) -> Path:
    """Write records (dicts, raw strings or raw bytes) as one JSON Lines file."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for rec in records:
        if isinstance(rec, dict):
            lines.append(json.dumps(rec).encode())
        elif isinstance(rec, str):
            lines.append(rec.encode())
        else:
            lines.append(rec)
    path = folder / name
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path
