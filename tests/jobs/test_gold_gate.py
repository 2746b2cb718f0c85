"""The gold publishing gate on a copy of the run's gold lake: a gold suite that fails leaves
every published table at its version (nothing of the run is published), the failing rows
are in quarantine and the run is recorded; a day without data is not published; gold rows
must reconcile with silver; `voicelake validate` exits non-zero on a failure. (The other
layers' suites: test_validate.py, a module of its own so the two run on different workers.)"""

from __future__ import annotations

from datetime import date

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tests.conftest import GoldLake
from tests.jobs.gates import (
    DAY,
    failed_expectations,
    gold_lake_copy,
    planted,
    planted_everywhere,
    quarantined,
    recorded,
)
from voicelake.jobs.build_gold import build_gold
from voicelake.jobs.validate import ValidationFailed, main, validate
from voicelake.runtime import JobContext
from voicelake.schemas import GOLD_EMOTION_DAILY, GOLD_SERVICE_DAILY, SILVER_MESSAGE_EMOTIONS


@pytest.fixture(scope="module")
def ctx(spark: SparkSession, gold_lake: GoldLake, tmp_path_factory: pytest.TempPathFactory) -> JobContext:
    return gold_lake_copy(spark, gold_lake, tmp_path_factory.mktemp("gold-gate"))


def test_gold_suites_reconcile_messages_with_silver(ctx: JobContext) -> None:
    def plus_one(delta: DeltaTable) -> None:
        delta.update(F.col("date") == F.lit(DAY), {"messages": F.col("messages") + 1})

    with planted_everywhere(ctx, {GOLD_SERVICE_DAILY: plus_one, GOLD_EMOTION_DAILY: plus_one}):
        report = validate(ctx, ["gold"], [DAY])
    for suite in ("gold_service_daily", "gold_emotion_daily"):
        assert failed_expectations(report, suite) == {
            "expect_column_pair_values_to_be_equal(date_messages,silver_messages)"}, report.summary()


def test_failed_gold_validation_leaves_gold_at_its_version(ctx: JobContext) -> None:
    before = {t: ctx.lake.version(t) for t in (GOLD_SERVICE_DAILY, GOLD_EMOTION_DAILY)}
    day_before = ctx.lake.read(GOLD_EMOTION_DAILY).where(F.col("date") == DAY).collect()

    def plant(delta: DeltaTable) -> None:
        delta.update(F.col("sent_date") == F.lit(DAY), {"label": F.lit("boredom")})

    with planted(ctx, SILVER_MESSAGE_EMOTIONS, plant):
        with pytest.raises(ValidationFailed) as failure:
            build_gold(ctx, day=DAY)
        assert {t: ctx.lake.version(t) for t in before} == before
        assert ctx.lake.read(GOLD_EMOTION_DAILY).where(F.col("date") == DAY).collect() == day_before
        message = str(failure.value)
        assert "gold_emotion_daily" in message and "expect_column_values_to_be_in_set(label)" in message
        assert "boredom" in message
        rows = quarantined(ctx, "gold_emotion_daily").collect()
        assert rows and all(r["source"] == GOLD_EMOTION_DAILY and '"label":"boredom"' in r["raw_record"]
                            for r in rows)
        failed = recorded(ctx, failure.value.report).where(~F.col("suite_success"))
        assert {r[0] for r in failed.select("suite").distinct().collect()} == {"gold_emotion_daily"}



def test_a_day_without_data_is_not_published(ctx: JobContext) -> None:
    before = ctx.lake.version(GOLD_SERVICE_DAILY)
    with pytest.raises(ValidationFailed, match="expect_column_distinct_values_to_contain_set"):
        build_gold(ctx, day=date(2026, 2, 1))
    assert ctx.lake.version(GOLD_SERVICE_DAILY) == before


def test_validate_command_exit_codes(ctx: JobContext, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`voicelake validate` exits 1 when a critical check fails (0 when all pass: the DAG tests
    run it clean), prints each suite's verdict and where the Data Docs are."""
    monkeypatch.setenv("VOICELAKE_HOME", ctx.config.home)

    def plant(delta: DeltaTable) -> None:
        delta.update(F.col("date") == F.lit(DAY), {"messages": F.lit(-1)})

    with planted(ctx, GOLD_SERVICE_DAILY, plant):
        assert main(["--date", DAY.isoformat(), "--layer", "gold"]) == 1
        err = capsys.readouterr().err  # a failed run reports on stderr: every suite, and where the docs are
        assert "PASS  gold_emotion_daily" in err and f"Data Docs: {ctx.config.validation.data_docs_dir}" in err
        assert "FAIL  gold_service_daily" in err
        assert "expect_column_pair_values_to_be_equal(date_messages,silver_messages)" in err
