"""Shared fixtures: one local Spark session with Delta per pytest process, a fresh lake
home per test, one generated lake shared by every module that needs realistic data
(`shared_lake`: generated, ingested and built to silver once per run; `gold_lake`: that lake
scored and built to gold once per run; both built by whichever pytest-xdist worker asks first
and read by all), a tiny encoder for model-lifecycle tests, and helpers to write landing files."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pytest
from filelock import FileLock
from pyspark.sql import SparkSession

from tests.tiny_encoder import build_tiny_encoder
from voicelake.config import Config, load_config
from voicelake.jobs.build_silver import build_silver
from voicelake.jobs.ingest import IngestResult, ingest
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
    "spark.driver.memory": "3g",  # one JVM per pytest worker runs a whole share of the suite
}


LAKE_FIXTURES = ("shared_lake", "gold_lake")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run order for ``--dist loadfile``: the first module that needs the gold lake first (its
    worker builds the shared and gold lakes), then every module that needs no generated lake,
    then the other lake modules. The other worker works through lake-free modules while the
    lakes are built instead of waiting on their lock. Order within a module is kept."""
    def uses(item: pytest.Item, fixture: str) -> bool:
        return fixture in getattr(item, "fixturenames", ())

    modules: dict[str, int] = {}
    for item in items:
        path = str(item.path)
        lake = any(uses(item, f) for f in LAKE_FIXTURES)
        modules[path] = max(modules.get(path, 1), 2 if lake else 1)
    builder = next((str(i.path) for i in items if uses(i, "gold_lake")), None)
    if builder is not None:
        modules[builder] = 0
    position = {path: n for n, path in enumerate(modules)}
    items.sort(key=lambda item: (modules[str(item.path)], position[str(item.path)]))


def make_config(home: Path, landing: Path | None = None) -> Config:
    """The local config with every location under ``home`` (the landing zone at ``landing``
    when given) and test-sized Spark."""
    overrides: dict[str, Any] = {"home": str(home)}
    if landing is not None:
        overrides["lake"] = {"landing": str(landing)}
    return load_config("local", overrides=overrides).with_spark_conf(master="local[2]", **TEST_SPARK_CONF)


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


# -- one generated lake for the whole run ----------------------------------------------------

T = TypeVar("T")


def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], T]) -> T:
    """``build(folder)`` run once for the whole pytest run, however many xdist workers need its
    result: the first to ask builds it in a folder of the run's temp root while the others wait
    on a file lock, then each reads the pickled result (the lake itself stays on disk, shared).
    A worker's base temp is ``<run root>/popen-gwN``; without xdist the base temp is the root."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / name
    result = folder / "fixture.pickle"
    with FileLock(f"{folder}.lock"):
        if result.exists():
            value: T = pickle.loads(result.read_bytes())
            return value
        if folder.exists():  # a build that failed half-way in another worker
            shutil.rmtree(folder)
        folder.mkdir()
        value = build(folder)
        result.write_bytes(pickle.dumps(value))
        return value


SHARED_LAKE_START = date(2026, 3, 1)
SHARED_LAKE_DAYS = 10


@dataclass(frozen=True)
class SharedLake:
    """A generated history ingested to bronze and built to silver (no scores, no gold)."""

    config: Config
    results: list[IngestResult]  # what the one ingest run reported, per source
    answers: dict[str, Any]  # the generator's answer file (records, malformed, scenarios)

    @property
    def home(self) -> Path:
        return Path(self.config.home)

    @property
    def landing(self) -> Path:
        return Path(self.config.lake.landing)

    def copy(self, home: Path) -> Config:
        """A private copy of the lake (and home: pseudonym key, nothing else) under ``home``
        for a test that writes; its landing zone stays the shared one, whose files the ingest
        log already names, so nothing is ingested twice."""
        shutil.copytree(self.home, home, ignore=lambda folder, names: ["landing"] if Path(folder) == self.home
                        else [])
        return make_config(home, landing=self.landing)


@pytest.fixture(scope="session")
def shared_lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> SharedLake:
    """10 days x 200 customers (seed 11, 1% malformed records, every generator scenario),
    ingested and built to silver once per run. Read it only; a test that writes works on
    ``shared_lake.copy(tmp_path / "home")``."""
    from voicelake.generator import GeneratorSettings, generate_history

    def build(home: Path) -> SharedLake:
        config = make_config(home)
        answers_file = home / "answers.json"
        generate_history(GeneratorSettings(
            days=SHARED_LAKE_DAYS, customers=200, seed=11, start=SHARED_LAKE_START,
            landing=Path(config.lake.landing), answers=answers_file, malformed_rate=0.01, workers=2))
        ctx = JobContext(config, spark, Lake(spark, config))
        results = ingest(ctx)
        build_silver(ctx)
        return SharedLake(config, results, json.loads(answers_file.read_text()))

    return once_per_run(tmp_path_factory, "shared-lake", build)


def small_lake(config: Config) -> Config:
    """Settings for the 10-day shared lake: few survey answers a week; fewer bootstrap
    replicates keep the suite fast."""
    return replace(config, voc=replace(config.voc, min_respondents=5, min_customers=5, bootstrap_replicates=50),
                   incidents=replace(config.incidents, releases={**config.incidents.releases, "bootstrap": 200}))


@dataclass(frozen=True)
class GoldLake:
    """The shared lake scored and built to gold (`gold_lake`)."""

    lake: SharedLake             # its config has the `small_lake` settings; a copy needs them again
    written: dict[str, int]      # rows build_gold published per table


@pytest.fixture(scope="session")
def gold_lake(spark: SparkSession, shared_lake: SharedLake, tmp_path_factory: pytest.TempPathFactory) -> GoldLake:
    """The shared lake with silver.message_emotions from the emotion each text was drawn from
    (what a perfect model gives) and every gold mart built, validated and published
    (`small_lake` settings), once per run. Read it only; a test that writes works on
    ``small_lake(gold_lake.lake.copy(tmp_path / "home"))``."""
    from voicelake.generator.history import TRUTH_DIR
    from voicelake.generator.scores import planted_scores
    from voicelake.jobs.build_gold import build_gold
    from voicelake.models.taxonomy import load_taxonomy
    from voicelake.schemas import SILVER_MESSAGE_EMOTIONS, SILVER_MESSAGES

    def build(folder: Path) -> GoldLake:
        config = small_lake(shared_lake.copy(folder / "home"))
        ctx = JobContext(config, spark, Lake(spark, config))
        taxonomy = load_taxonomy()
        truth = spark.read.json(str(shared_lake.home / TRUTH_DIR / "messages.jsonl"))
        ctx.lake.overwrite(planted_scores(ctx.lake.read(SILVER_MESSAGES), truth, taxonomy.labels, taxonomy.positive,
                                          taxonomy.negative), SILVER_MESSAGE_EMOTIONS, partition_by=["sent_date"])
        written = build_gold(ctx)
        return GoldLake(SharedLake(config, shared_lake.results, shared_lake.answers), written)

    return once_per_run(tmp_path_factory, "gold-lake", build)


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a tiny random BERT (2 layers, hidden 32) with the MiniLM tokenizer."""
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-encoder"))


def run_killed(ctx: JobContext, job: str, point: str) -> None:
    """Run ``voicelake <job>`` in a subprocess that kills itself at ``point``; assert it did."""
    env = {**os.environ, "VOICELAKE_HOME": ctx.config.home, "VOICELAKE_FAULT": point}
    env.pop("VOICELAKE_ENV", None)
    voicelake = str(Path(sys.executable).with_name("voicelake"))
    done = subprocess.run([voicelake, job], env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
    assert f"killing the process at {point}" in done.stdout
