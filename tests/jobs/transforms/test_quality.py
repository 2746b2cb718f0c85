"""Derived columns the expectation suites check, and the suite files themselves."""

from datetime import date, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from voicelake.config import ConfigError, active_conf_dir
from voicelake.jobs.transforms.quality import (
    emotion_coverage,
    expected_messages_per_date,
    label_drift,
    message_counts,
    with_date_reconciliation,
)
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
    assert sums.collect()[0][0] == pytest.approx(1.0)


def test_label_drift_compares_the_day_with_its_baseline(spark: SparkSession) -> None:
    rows = [("a", "joy", D), ("b", "anger", D), ("c", "anger", D), ("d", "anger", D)]
    rows += [(f"x{i}", "joy" if i < 3 else "anger", date(2026, 1, 1 + i % 4)) for i in range(4)]
    rows += [("old", "joy", date(2025, 11, 1))]  # outside the 28-day baseline
    emotions = spark.createDataFrame(rows, "message_id string, label string, sent_date date")
    out = label_drift(emotions, D, 28).select("label", "day_total", "baseline_total", "day_share",
                                               "baseline_share", "shift")
    assertDataFrameEqual(out, [("joy", 4, 4, 0.25, 0.75, 0.5), ("anger", 4, 4, 0.75, 0.25, 0.5)])


def test_expected_messages_follow_their_own_rules_from_bronze(spark: SparkSession) -> None:
    tickets = spark.createDataFrame([
        ("t1", "help", datetime(2026, 1, 5, 9), datetime(2026, 1, 5, 10), "f1"),
        ("t2", "  ", datetime(2026, 1, 5, 9), datetime(2026, 1, 5, 10), "f1"),  # no description: no message
        ("t3", "x", datetime(2026, 1, 4, 9), datetime(2026, 1, 5, 10), "f1"),  # moved to the 5th by ...
        ("t3", "x", datetime(2026, 1, 5, 9), datetime(2026, 1, 6, 10), "f2"),  # ... its newest version
    ], "ticket_id string, description string, created_at timestamp, _ingested_at timestamp, _source_file string")
    calls = spark.createDataFrame([("u1", datetime(2026, 1, 4, 23, 59), 90.0, datetime(2026, 1, 6), "f3")],
                                  "utterance_id string, call_started_at timestamp, start_offset_s double, "
                                  "_ingested_at timestamp, _source_file string")  # spoken after midnight
    out = expected_messages_per_date({"tickets": tickets, "call_utterances": calls}, [D])
    assertDataFrameEqual(out, [(D, 3)])
    silver = spark.createDataFrame([(D, 2)], "date date, silver_messages long")
    scored = spark.createDataFrame([(D, 2), (date(2026, 1, 6), 1)], "date date, scored_messages long")
    assertDataFrameEqual(message_counts(out, silver, scored, [D, date(2026, 1, 6)]),
                         [(D, 3, 2, 2), (date(2026, 1, 6), 0, 0, 1)])
    assertDataFrameEqual(message_counts(out, silver, None, [D]), [(D, 3, 2, None)])


def test_gold_rows_carry_their_dates_totals(spark: SparkSession) -> None:
    gold = spark.createDataFrame([(D, "chat", 2), (D, "email", 3), (date(2026, 1, 6), "chat", 1)],
                                 "date date, channel string, messages long")
    silver = spark.createDataFrame([(D, 5)], "date date, silver_messages long")
    out = with_date_reconciliation(gold, silver).select("channel", "date_messages", "silver_messages")
    assertDataFrameEqual(out, [("chat", 5, 5), ("email", 5, 5), ("chat", 1, 0)])


def test_every_suite_file_loads_and_the_bronze_suites_follow_the_contract() -> None:
    suites = {p.stem: load_suite(p) for p in Path(active_conf_dir(), "expectations").glob("*.yaml")}
    assert set(suites) == {"silver_messages", "message_counts", "silver_message_emotions", "emotion_drift",
                           "silver_message_topics", "silver_message_suggestions",
                           "gold_service_daily", "gold_emotion_daily", "gold_emotion_index",
                           "gold_conversation_outcomes", "gold_agent_scorecard", "gold_service_gaps",
                           "gold_passive_drivers", "gold_topic_daily", "gold_topic_alerts",
                           "gold_topic_forecast", "gold_incident_impact", "gold_unexplained_spikes",
                           "gold_release_impact", "gold_product_feedback", "gold_sla_risk",
                           "gold_customer_health", "gold_health_check"}
    assert all(s.expectations and s.row_id for s in suites.values())
    assert load_suite(Path(active_conf_dir(), "expectations", "emotion_drift.yaml"), "critical") \
        .expectations[0].severity == "critical"
    tickets = bronze_suite("tickets")
    assert {e.target for e in tickets.expectations if e.type == "expect_column_values_to_not_be_null"} == {
        "ticket_id", "customer_id", "created_at"}
    assert {e.type for e in tickets.expectations} == {"expect_table_columns_to_match_set",
                                                      "expect_column_values_to_not_be_null"}


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
