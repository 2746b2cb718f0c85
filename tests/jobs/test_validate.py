"""Great Expectations gates on a small generated lake: clean data passes every suite; a
planted violation fails its suite, sends the rows to quarantine and is recorded in
gold.validation_results. The gold publishing gate (a failed gold validation leaves the
published tables at their version) is in test_gold_gate.py, on its own copy of the lake."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tests.conftest import GoldLake, make_config
from tests.jobs.gates import (
    DAY,
    failed_expectations,
    gold_lake_copy,
    outcome,
    planted,
    planted_everywhere,
    quarantined,
    recorded,
)
from voicelake.jobs.validate import LAYERS, validate
from voicelake.quality import ExpectationSpec, bronze_suite
from voicelake.runtime import JobContext
from voicelake.schemas import SILVER_MESSAGE_EMOTIONS, SILVER_MESSAGES, SOURCES


@pytest.fixture(scope="module")
def ctx(spark: SparkSession, gold_lake: GoldLake, tmp_path_factory: pytest.TempPathFactory) -> JobContext:
    return gold_lake_copy(spark, gold_lake, tmp_path_factory.mktemp("validate"))


def test_clean_day_passes_every_suite(ctx: JobContext) -> None:
    report = validate(ctx, LAYERS, [DAY])
    assert report.success, report.summary()
    ran = {o.suite.name for o in report.outcomes if o.outcomes}
    assert ran == {f"bronze_{s}" for s in SOURCES} | {
        "silver_messages", "message_counts", "silver_message_emotions", "emotion_drift", "gold_service_daily",
        "gold_emotion_daily", "gold_emotion_index", "gold_conversation_outcomes", "gold_agent_scorecard",
        "gold_service_gaps", "gold_passive_drivers", "gold_incident_impact", "gold_unexplained_spikes",
        "gold_release_impact", "gold_health_check"}, \
        report.summary()
    rows = recorded(ctx, report)
    # a warning-level check (label drift against the trailing days) may fire on a clean day: the
    # generator's customers change how they feel over time; it never blocks, so no critical one fails
    assert rows.where(~F.col("success") & (F.col("severity") != "warning")).count() == 0
    assert rows.where(~F.col("suite_success")).count() == 0
    # every suite is recorded, skipped ones too (topics, suggestions, the SLA and churn models: this
    # lake has none yet)
    skipped = {o.suite.name for o in report.outcomes if not o.outcomes}
    assert skipped == {"silver_message_topics", "gold_topic_daily", "gold_topic_alerts", "gold_topic_forecast",
                       "silver_message_suggestions", "gold_product_feedback", "gold_sla_risk",
                       "gold_customer_health"}
    assert rows.select("suite").distinct().count() == len(ran) + len(skipped)
    assert rows.where(F.col("run_dates") != DAY.isoformat()).count() == 0
    index = Path(report.docs)
    assert index.exists() and "silver_messages" in index.read_text()
    assert any(Path(index.parent, "validations").rglob("*.html"))


def test_every_bronze_suite_fails_on_a_record_without_its_key(ctx: JobContext) -> None:
    """Every source's suite requires its key (checked on the suites); a record without it fails
    its suite and goes to quarantine (run on two sources of different shapes: the same code)."""
    for source, schema in SOURCES.items():
        assert ExpectationSpec("expect_column_values_to_not_be_null", {"column": schema.key}) in \
            bronze_suite(source).expectations, source
    planted_sources = ("chat_messages", "tickets")

    def plant_for(source: str) -> Callable[[DeltaTable], None]:
        schema = SOURCES[source]
        table = f"bronze.{source}"
        bad = (ctx.lake.read(table).limit(1).withColumn(schema.event_time, F.lit(datetime.combine(DAY, time(12))))
               .withColumn(schema.key, F.lit(None).cast("string")))
        return lambda _: ctx.lake.append(bad, table)

    with planted_everywhere(ctx, {f"bronze.{s}": plant_for(s) for s in planted_sources}):
        report = validate(ctx, ["bronze"], [DAY], suites=[f"bronze_{s}" for s in planted_sources])
    assert not report.success
    for source in planted_sources:
        assert failed_expectations(report, f"bronze_{source}") == {
            f"expect_column_values_to_not_be_null({SOURCES[source].key})"}, report.summary()
    # each bad record is in quarantine with the expectation it failed, and recorded
    rows = quarantined(ctx, "bronze_chat_messages").collect()
    assert len(rows) == 1 and rows[0]["source"] == "bronze.chat_messages"
    assert rows[0]["reason"] == ("expectation bronze_chat_messages."
                                 "expect_column_values_to_not_be_null(message_id) [critical]")
    failed = recorded(ctx, report).where(~F.col("success") & (F.col("suite") == "bronze_chat_messages"))
    assert [r[0] for r in failed.select("target").collect()] == ["message_id"]


def test_message_counts_reconcile_bronze_silver_and_scores_per_date(ctx: JobContext) -> None:
    lost = ctx.lake.read(SILVER_MESSAGES).where(F.col("sent_date") == DAY).orderBy("message_id").collect()[0][0]
    # a message lost between bronze and silver: every check on silver.messages' own rows still passes
    with planted(ctx, SILVER_MESSAGES, lambda delta: delta.delete(F.col("message_id") == lost)):
        report = validate(ctx, ["silver"], [DAY])
        assert outcome(report, "silver_messages").success
        assert failed_expectations(report, "message_counts") == {
            "expect_column_pair_values_to_be_equal(bronze_messages,silver_messages)",
            "expect_column_pair_values_to_be_equal(silver_messages,scored_messages)"}, report.summary()
        rows = quarantined(ctx, "message_counts").collect()
        assert rows and all(f'"date":"{DAY}"' in r["raw_record"] for r in rows)


def test_pii_check_uses_its_own_patterns(ctx: JobContext) -> None:
    texts = {"planted-digits": "call me on 5551234567", "planted-intl": "my number is +447946095812",
             "planted-national": "ring 07946 095812 after six", "planted-iban": "iban gb82 west 1234 5698 7654 32",
             "planted-mail": "write to bob@mail.example.org", "planted-clean": "order 1234 arrived on 2026-03-04"}
    base = ctx.lake.read(SILVER_MESSAGES).where(F.col("sent_date") == DAY).limit(1)
    texts_df = ctx.spark.createDataFrame(list(texts.items()), "_id string, _text string")
    numbered = (base.crossJoin(texts_df).withColumn("message_id", F.col("_id")).withColumn("text", F.col("_text"))
                .drop("_id", "_text"))
    with planted(ctx, SILVER_MESSAGES, lambda _: ctx.lake.append(numbered, SILVER_MESSAGES)):
        report = validate(ctx, ["silver"], [DAY])
        assert "expect_column_values_to_not_match_regex_list(text)" in failed_expectations(report, "silver_messages")
        flagged = {r["raw_record"].split('"message_id":"')[1].split('"')[0]
                   for r in quarantined(ctx, "silver_messages").collect()
                   if "not_match_regex_list" in r["reason"]}
        assert flagged == set(texts) - {"planted-clean"}
        # the HTML report shows failing rows' samples, redacted: none of the planted PII is there
        pages = "".join(p.read_text(errors="replace") for p in Path(report.docs).parent.rglob("*") if p.is_file())
        assert any(p in pages for p in ("[PHONE]", "[EMAIL]", "[IBAN]"))  # the samples are there, redacted
        for raw in ("5551234567", "+447946095812", "07946 095812", "bob@mail.example.org"):
            assert raw not in pages, raw


def test_data_docs_show_failing_samples_redacted(spark: SparkSession, tmp_path: Path) -> None:
    """GX keeps sample values of failing rows in its results; the HTML report gets them redacted."""
    from voicelake.quality import ExpectationSpec, SuiteSpec, Validator

    validator = Validator(make_config(tmp_path / "home"))
    texts = ["call me on 5551234567", "write to bob@mail.example.org", "all good"]
    frame = spark.createDataFrame([(f"m{i}", t) for i, t in enumerate(texts)], "message_id string, text string")
    suite = SuiteSpec("planted", "silver.messages", ("message_id",), (ExpectationSpec(
        "expect_column_values_to_not_match_regex", {"column": "text", "regex": "[0-9]{6}|@"}),))
    outcome = validator.run(suite, frame, {})
    assert not outcome.success
    pages = "".join(p.read_text(errors="replace") for p in Path(validator.build_docs()).parent.rglob("*")
                    if p.is_file())
    assert "[PHONE]" in pages and "[EMAIL]" in pages
    assert "5551234567" not in pages and "bob@mail.example.org" not in pages


def test_silver_messages_suite_catches_duplicates_pii_and_misplaced_rows(ctx: JobContext) -> None:
    day_rows = ctx.lake.read(SILVER_MESSAGES).where(F.col("sent_date") == DAY).orderBy("message_id").limit(3)
    first, second, third = day_rows.collect()
    duplicate = day_rows.where(F.col("message_id") == first["message_id"])
    leak = (day_rows.where(F.col("message_id") == second["message_id"])
            .withColumn("message_id", F.lit("planted-pii"))
            .withColumn("text", F.lit("please mail jane.doe@example.com or call +49 30 1234567")))
    misplaced = (day_rows.where(F.col("message_id") == third["message_id"])
                 .withColumn("message_id", F.lit("planted-late"))
                 .withColumn("sent_at", F.lit(datetime.combine(DAY + timedelta(days=5), time(12)))))
    plant = duplicate.unionByName(leak).unionByName(misplaced)
    two_pass = replace(ctx.config, validation=replace(ctx.config.validation, detail_rows=0))
    with planted(ctx, SILVER_MESSAGES, lambda _: ctx.lake.append(plant, SILVER_MESSAGES)):
        # as on a large table: a pass/fail pass, then details for the failed expectations only
        report = validate(JobContext(two_pass, ctx.spark, ctx.lake), ["silver"], [DAY])
        assert failed_expectations(report, "silver_messages") == {
            "expect_column_values_to_be_unique(message_id)",
            "expect_column_values_to_not_match_regex_list(text)",
            "expect_column_pair_values_to_be_equal(sent_at_date,sent_date)"}
        # the extra rows are not scored either: the emotions suite sees them too
        assert "expect_column_values_to_be_between(scores)" in failed_expectations(report, "silver_message_emotions")
        rows = quarantined(ctx, "silver_messages").collect()
        reasons = {r["reason"].split(".", 1)[1].split(" ")[0] for r in rows}
        assert reasons == {"expect_column_values_to_be_unique(message_id)",
                           "expect_column_values_to_not_match_regex_list(text)",
                           "expect_column_pair_values_to_be_equal(sent_at_date,sent_date)"}
        ids = sorted(r["raw_record"].split('"message_id":"')[1].split('"')[0] for r in rows)
        assert ids == sorted([first["message_id"]] * 2 + ["planted-pii", "planted-late"])


def test_message_emotions_suite_catches_unscored_and_broken_scores(ctx: JobContext) -> None:
    ids = [r[0] for r in ctx.lake.read(SILVER_MESSAGE_EMOTIONS).where(F.col("sent_date") == DAY)
           .orderBy("message_id").select("message_id").limit(2).collect()]

    def plant(delta: DeltaTable) -> None:
        delta.delete(F.col("message_id") == ids[0])
        delta.update(F.col("message_id") == ids[1], {"label": F.lit("boredom"), "p_anger": F.lit(0.95)})

    with planted(ctx, SILVER_MESSAGE_EMOTIONS, plant):
        report = validate(ctx, ["silver"], [DAY])
        assert failed_expectations(report, "silver_message_emotions") == {
            "expect_column_values_to_be_between(scores)",
            "expect_column_values_to_be_in_set(label)",
            "expect_column_values_to_be_between(p_sum)"}
        assert outcome(report, "silver_messages").success
        rows = quarantined(ctx, "silver_message_emotions").collect()
        assert {r["raw_record"].split('"message_id":"')[1].split('"')[0] for r in rows} == set(ids)
        assert all(r["source"] == SILVER_MESSAGE_EMOTIONS for r in rows)


def test_label_drift_warns_by_default_and_fails_when_configured(ctx: JobContext) -> None:
    def plant(delta: DeltaTable) -> None:
        delta.update(F.col("sent_date") == F.lit(DAY), {"label": F.lit("anger")})

    with planted(ctx, SILVER_MESSAGE_EMOTIONS, plant):
        report = validate(ctx, ["silver"], [DAY])
        drift = outcome(report, "emotion_drift")
        assert report.success and drift.success  # a warning does not block
        assert [w.expectation for w in drift.warnings] == ["expect_column_max_to_be_between"]
        row = recorded(ctx, report).where(F.col("suite") == "emotion_drift").collect()[0]
        assert row["severity"] == "warning" and not row["success"] and float(row["observed_value"]) > 0.5

        strict = replace(ctx.config, validation=replace(ctx.config.validation, drift_severity="critical"))
        report = validate(JobContext(strict, ctx.spark, ctx.lake), ["silver"], [DAY])
        assert not report.success
        assert failed_expectations(report, "emotion_drift") == {"expect_column_max_to_be_between(shift)"}
