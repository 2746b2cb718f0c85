"""What the validation tests share: a private copy of the run's gold lake, a day to validate,
and planting a broken row in a table for one test (its Delta version restored after)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from tests.conftest import SHARED_LAKE_START, GoldLake, small_lake
from voicelake.jobs.validate import ValidationReport
from voicelake.lake import Lake
from voicelake.runtime import JobContext
from voicelake.schemas import QUARANTINE, VALIDATION_RESULTS

DAY = SHARED_LAKE_START + timedelta(days=8)  # about 50 customer messages that day; drift has a week of baseline


def gold_lake_copy(spark: SparkSession, gold_lake: GoldLake, folder: Path) -> JobContext:
    """A copy of the run's gold lake (generated, ingested, scored and built to gold once per run)."""
    config = small_lake(gold_lake.lake.copy(folder / "home"))
    config = replace(config, validation=replace(config.validation, drift_min_messages=20))  # a small lake
    return JobContext(config, spark, Lake(spark, config))


@contextmanager
def planted(ctx: JobContext, table: str, plant: Callable[[DeltaTable], None]) -> Iterator[None]:
    """Change a table for one test, then restore its previous Delta version."""
    delta = DeltaTable.forPath(ctx.spark, ctx.lake.location(table))
    version = ctx.lake.version(table)
    assert version is not None, f"{table} does not exist"
    plant(delta)
    try:
        yield
    finally:
        delta.restoreToVersion(version)


def quarantined(ctx: JobContext, suite: str, day: date = DAY) -> DataFrame:
    return ctx.lake.read(QUARANTINE).where(F.col("batch_id") == f"validate:{suite}:{day}")


def outcome(report: ValidationReport, suite: str):  # type: ignore[no-untyped-def]
    return next(o for o in report.outcomes if o.suite.name == suite)


def failed_expectations(report: ValidationReport, suite: str) -> set[str]:
    return {f"{o.expectation}({o.target})" for o in outcome(report, suite).failures}


def recorded(ctx: JobContext, report: ValidationReport) -> DataFrame:
    return ctx.lake.read(VALIDATION_RESULTS).where(F.col("run_id") == report.run_id)


@contextmanager
def planted_everywhere(ctx: JobContext, plants: dict[str, Callable[[DeltaTable], None]]) -> Iterator[None]:
    """Plant in several tables at once (one validation run covers them all), then restore each."""
    with ExitStack() as stack:
        for table, plant in plants.items():
            stack.enter_context(planted(ctx, table, plant))
        yield


