"""Crash drills and concurrent runs on a small generated lake.

Each drill runs one job as a subprocess (``voicelake <job>``) with ``VOICELAKE_FAULT`` set, so
that the process kills itself with SIGKILL at a named point between two writes, then reruns
the job in-process on the shared session and checks that nothing was lost or duplicated.
The gold drills kill the build between staging and publishing, and between publishing one
table and the next (``gold.between_tables``); a rerun must then equal a clean rebuild.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from tests.conftest import make_config, run_killed
from voicelake.generator import GeneratorSettings, generate_history
from voicelake.generator.scores import synthetic_scores
from voicelake.jobs.build_gold import build_gold
from voicelake.jobs.build_silver import build_silver
from voicelake.jobs.ingest import ingest
from voicelake.jobs.transforms.gold import build_emotion_daily, build_service_daily
from voicelake.lake import Lake
from voicelake.models.taxonomy import load_taxonomy
from voicelake.runtime import JobContext
from voicelake.schemas import (
    GOLD_EMOTION_DAILY,
    GOLD_SERVICE_DAILY,
    INGEST_LOG,
    QUARANTINE,
    SILVER_CONVERSATIONS,
    SILVER_MESSAGE_EMOTIONS,
    SILVER_MESSAGES,
    SOURCES,
    bronze_table,
)

START = date(2026, 3, 1)
pytestmark = pytest.mark.scenario  # each drill kills a `voicelake` process (its own JVM) and rebuilds: minutes each


@pytest.fixture(scope="module")
def lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobContext]:
    config = make_config(tmp_path_factory.mktemp("crash"))
    generate_history(GeneratorSettings(
        days=1, customers=25, seed=9, start=START, landing=Path(config.lake.landing),
        answers=Path(config.home) / "answers.json", malformed_rate=0.02, workers=1))
    yield JobContext(config, spark, Lake(spark, config))


def ensure_silver(lake: JobContext) -> None:
    """Bronze and silver for the gold tests (already there when the earlier drills ran)."""
    if not lake.lake.exists(SILVER_MESSAGES):
        ingest(lake)
        build_silver(lake)


def test_ingest_killed_between_append_and_log_loses_and_duplicates_nothing(lake: JobContext) -> None:
    run_killed(lake, "ingest", "ingest.after_append")
    assert not lake.lake.exists(INGEST_LOG)  # killed before its commit point
    results = ingest(lake)  # takes over the dead run's lease at once, rolls its rows back
    assert all(r.reconciled for r in results) and sum(r.landed for r in results) > 0
    log = {(r["source"], r["source_file"]): r for r in lake.lake.read(INGEST_LOG).collect()}
    quarantine = lake.lake.read(QUARANTINE)
    for source, schema in SOURCES.items():
        if not lake.lake.exists(bronze_table(source)):
            continue
        bronze = lake.lake.read(bronze_table(source))
        assert bronze.count() == bronze.select(schema.key).distinct().count(), source  # no duplicates
        found = {r["_source_file"]: r["count"] for r in bronze.groupBy("_source_file").count().collect()}
        quarantined = {r["source_file"]: r["count"] for r in quarantine.where(F.col("source") == source)
                       .groupBy("source_file").count().collect()}
        for (logged_source, file), row in log.items():
            if logged_source == source:  # landed = bronze + quarantine, per file
                assert row["landed"] == found.get(file, 0) + quarantined.get(file, 0), file


def test_silver_killed_between_its_two_tables_is_repaired_by_a_rerun(lake: JobContext) -> None:
    ingest(lake)  # bronze as the ingest drill left it (a no-op then)
    run_killed(lake, "build-silver", "silver.between_tables")
    build_silver(lake)
    messages = lake.lake.read(SILVER_MESSAGES)
    assert messages.count() > 0 and messages.count() == messages.select("message_id").distinct().count()
    conversations = lake.lake.read(SILVER_CONVERSATIONS)
    assert conversations.count() == conversations.select("conversation_id").distinct().count()
    assert messages.select("conversation_id").distinct().join(
        conversations, "conversation_id", "left_anti").count() == 0  # both tables from one build


@pytest.mark.parametrize("point", ["gold.before_publish", "gold.between_tables"])
def test_gold_killed_mid_publish_equals_a_clean_rebuild_after_a_rerun(lake: JobContext, point: str) -> None:
    ensure_silver(lake)
    taxonomy = load_taxonomy()
    if not lake.lake.exists(SILVER_MESSAGE_EMOTIONS):
        scores = synthetic_scores(lake.lake.read(SILVER_MESSAGES), taxonomy.labels, taxonomy.positive,
                                  taxonomy.negative)
        lake.lake.overwrite(scores, SILVER_MESSAGE_EMOTIONS, partition_by=["sent_date"])
    run_killed(lake, "build-gold", point)
    build_gold(lake)
    messages = lake.lake.read(SILVER_MESSAGES)
    clean = {GOLD_SERVICE_DAILY: build_service_daily(lake.lake.read(SILVER_CONVERSATIONS), messages),
             GOLD_EMOTION_DAILY: build_emotion_daily(messages, lake.lake.read(SILVER_MESSAGE_EMOTIONS))}
    for table, expected in clean.items():
        assertDataFrameEqual(lake.lake.read(table), expected.select(*lake.lake.read(table).columns),
                             checkRowOrder=False)
