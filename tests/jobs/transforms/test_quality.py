"""Derived columns the expectation suites check, and the suite files themselves."""

from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from voicelake.config import ConfigError, active_conf_dir
from voicelake.jobs.transforms.quality import emotion_coverage, label_drift, with_group_share_sum
from voicelake.quality import _failing_rows_condition, bronze_suite, checked_columns, load_suite

D = date(2026, 1, 5)
LABELS = ("joy", "anger")
EMO = "message_id string, label string, valence double, model_version string, p_joy double, p_anger double, " \
      "sent_date date"


def test_emotion_coverage_counts_scores_per_message(spark: SparkSession) -> None:
    messages = spark.createDataFrame([("m1", D), ("m2", D), ("m3", D), ("m4", date(2026, 1, 6))],
                                     "message_id string, sent_date date")
    emotions = spark.createDataFrame([
        ("m1", "joy", 0.5, "3", 0.75, 0.25, D),
        ("m2", "anger", -0.9, "3", 0.05, 0.95, D), ("m2", "anger", -0.9, "4", 0.1, 0.95, D),
        ("m4", "joy", 1.0, "3", 1.0, 0.0, date(2026, 1, 6)),
    ], EMO)
    out = emotion_coverage(messages, emotions, LABELS, [D]).select("message_id", "scores", "p_min", "p_max")
    assertDataFrameEqual(out, [("m1", 1, 0.25, 0.75), ("m2", 2, 0.05, 0.95), ("m3", 0, None, None)])
    sums = emotion_coverage(messages, emotions, LABELS, [D]).where("message_id = 'm1'").select("p_sum")
    assert sums.first()[0] == pytest.approx(1.0)


def test_label_drift_compares_the_day_with_its_baseline(spark: SparkSession) -> None:
    rows = [("a", "joy", D), ("b", "anger", D), ("c", "anger", D), ("d", "anger", D)]
    rows += [(f"x{i}", "joy" if i < 3 else "anger", date(2026, 1, 1 + i % 4)) for i in range(4)]
    rows += [("old", "joy", date(2025, 11, 1))]  # outside the 28-day baseline
    emotions = spark.createDataFrame(rows, "message_id string, label string, sent_date date")
    out = label_drift(emotions, D, 28).select("label", "day_total", "baseline_total", "day_share",
                                               "baseline_share", "shift")
    assertDataFrameEqual(out, [("joy", 4, 4, 0.25, 0.75, 0.5), ("anger", 4, 4, 0.75, 0.25, 0.5)])


def test_share_sum_is_per_group(spark: SparkSession) -> None:
    daily = spark.createDataFrame([
        (D, "chat", "P", "customer", "joy", 0.25), (D, "chat", "P", "customer", "anger", 0.75),
        (D, "chat", "P", "agent", "joy", 0.5),
    ], "date date, channel string, product string, author_role string, label string, share double")
    sums = {(r["author_role"], r["label"]): r["share_sum"] for r in with_group_share_sum(daily).collect()}
    assert sums == {("customer", "joy"): 1.0, ("customer", "anger"): 1.0, ("agent", "joy"): 0.5}


def test_every_suite_file_loads_and_the_bronze_suites_follow_the_contract() -> None:
    suites = {p.stem: load_suite(p) for p in Path(active_conf_dir(), "expectations").glob("*.yaml")}
    assert set(suites) == {"silver_messages", "silver_message_emotions", "emotion_drift",
                           "gold_service_daily", "gold_emotion_daily"}
    assert all(s.expectations and s.row_id for s in suites.values())
    assert load_suite(Path(active_conf_dir(), "expectations", "emotion_drift.yaml"), "critical") \
        .expectations[0].severity == "critical"
    tickets = bronze_suite("tickets")
    assert {e.target for e in tickets.expectations if e.type == "expect_column_values_to_not_be_null"} == {
        "ticket_id", "customer_id", "created_at"}
    assert bronze_suite("tickets", dated=False).expectations[-1].type == "expect_column_values_to_not_be_null"


def test_a_suite_with_an_unknown_severity_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("suite: s\ntable: gold.x\nexpectations:\n  - type: expect_column_to_exist\n"
                    "    kwargs: {column: a}\n    severity: loud\n")
    with pytest.raises(ConfigError, match="severity 'loud'"):
        load_suite(path)


def test_the_failing_rows_condition_is_read_from_the_gx_query() -> None:
    query = "df.filter(F.expr(\"(text IS NOT NULL) AND (NOT (NOT RLIKE(text, '\\\\\\\\d{3}')))\"))"
    assert _failing_rows_condition({"unexpected_index_query": query}) == \
        "(text IS NOT NULL) AND (NOT (NOT RLIKE(text, '\\\\d{3}')))"
    assert _failing_rows_condition({"unexpected_index_query": "something else"}) is None
    assert _failing_rows_condition({}) is None


def test_only_the_columns_a_suite_reads_are_cached() -> None:
    suite = load_suite(Path(active_conf_dir(), "expectations", "silver_messages.yaml"))
    columns = ["message_id", "conversation_id", "customer_key", "author_role", "channel", "sent_at", "text",
               "sent_date", "sent_at_date", "language"]
    assert checked_columns(suite, columns) == ["message_id", "author_role", "channel", "text", "sent_date",
                                               "sent_at_date"]
    assert checked_columns(bronze_suite("tickets"), columns) == columns  # checks the column set itself
