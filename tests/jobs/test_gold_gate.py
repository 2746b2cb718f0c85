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
from voicelake.jobs.build_gold import NoSilverData, build_gold, new_run_id, publish_gold
from voicelake.jobs.validate import ValidationFailed, main, validate
from voicelake.runtime import JobContext
from voicelake.schemas import GOLD_EMOTION_DAILY, GOLD_SERVICE_DAILY


@pytest.fixture(scope="module")
def ctx(spark: SparkSession, gold_lake: GoldLake, tmp_path_factory: pytest.TempPathFactory) -> JobContext:
    return gold_lake_copy(spark, gold_lake, tmp_path_factory.mktemp("gold-gate"))


def test_gold_suites_reconcile_messages_with_silver(ctx: JobContext) -> None:
    def plus_one(delta: DeltaTable) -> None:
        delta.update(F.col("date") == F.lit(DAY), {"messages": F.col("messages") + 1})

    tables = (GOLD_SERVICE_DAILY, GOLD_EMOTION_DAILY)
    with planted_everywhere(ctx, dict.fromkeys(tables, plus_one)):
        # the two planted marts' suites only (test_validate.py runs every suite on a clean day)
        report = validate(ctx, ["gold"], [DAY], gold={t: ctx.lake.read(t) for t in tables})
    for suite in ("gold_service_daily", "gold_emotion_daily"):
        assert failed_expectations(report, suite) == {
            "expect_column_pair_values_to_be_equal(date_messages,silver_messages)"}, report.summary()


def test_failed_gold_validation_leaves_gold_at_its_version(ctx: JobContext) -> None:
    """build-gold's publishing step (the DAG's validate_publish_gold) on a staged run whose
    emotion mart names a label the taxonomy lacks: nothing is published, not even the mart
    that passed, the failing rows are quarantined and the run is recorded."""
    tables = (GOLD_SERVICE_DAILY, GOLD_EMOTION_DAILY)
    before = {t: ctx.lake.version(t) for t in tables}
    day_before = ctx.lake.read(GOLD_EMOTION_DAILY).where(F.col("date") == DAY).collect()
    published = {t: ctx.lake.read(t).where(F.col("date") == DAY) for t in tables}
    broken = published[GOLD_EMOTION_DAILY].withColumn(
        "label", F.when(F.col("label") == "joy", "boredom").otherwise(F.col("label")))
    run_id = new_run_id()
    staged = {GOLD_SERVICE_DAILY: ctx.lake.stage(published[GOLD_SERVICE_DAILY], GOLD_SERVICE_DAILY, run_id, ["date"]),
              GOLD_EMOTION_DAILY: ctx.lake.stage(broken, GOLD_EMOTION_DAILY, run_id, ["date"])}
    with pytest.raises(ValidationFailed) as failure:
        publish_gold(ctx, staged, [DAY])
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
    ctx.lake.drop_staging(run_id)


def test_a_day_without_data_is_not_published(ctx: JobContext) -> None:
    """build-gold refuses a date silver holds no message for before building anything; the
    suite behind that refusal fails such a day too (a staged mart without the date)."""
    empty = date(2026, 2, 1)
    before = ctx.lake.version(GOLD_SERVICE_DAILY)
    with pytest.raises(NoSilverData, match="holds no message on 2026-02-01") as refused:
        build_gold(ctx, day=empty)
    assert refused.value.missing == [empty]
    assert ctx.lake.version(GOLD_SERVICE_DAILY) == before
    report = validate(ctx, ["gold"], [empty], gold={GOLD_SERVICE_DAILY: ctx.lake.read(GOLD_SERVICE_DAILY)})
    assert "expect_column_distinct_values_to_contain_set(date)" in failed_expectations(
        report, "gold_service_daily"), report.summary()


def test_validate_command_exit_codes(ctx: JobContext, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`voicelake validate` exits 1 when a critical check fails (0 when all pass: the DAG tests
    run it clean), prints each suite's verdict and where the Data Docs are; `--suite` runs the
    suites it names only, and a name that is no suite is a clear error."""
    monkeypatch.setenv("VOICELAKE_HOME", ctx.config.home)

    def plant(delta: DeltaTable) -> None:
        delta.update(F.col("date") == F.lit(DAY), {"messages": F.lit(-1)})

    with planted(ctx, GOLD_SERVICE_DAILY, plant):
        assert main(["--date", DAY.isoformat(), "--layer", "gold", "--suite", "gold_service_daily",
                     "--suite", "gold_emotion_daily"]) == 1
        err = capsys.readouterr().err  # a failed run reports on stderr: every suite, and where the docs are
        assert "PASS  gold_emotion_daily" in err and f"Data Docs: {ctx.config.validation.data_docs_dir}" in err
        assert "FAIL  gold_service_daily" in err and "gold_agent_scorecard" not in err
        assert "expect_column_pair_values_to_be_equal(date_messages,silver_messages)" in err
    assert main(["--date", DAY.isoformat(), "--suite", "gold_service_dialy"]) == 1
    assert "no suite named ['gold_service_dialy']" in capsys.readouterr().err
