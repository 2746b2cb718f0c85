"""gold.product_feedback on a hand-made lake whose every figure is worked out in the
comments: distinct customers, nesting counts, versions, the trend and its interval, the
weekly series with its empty week, the requesters' valence, examples nearest the centroid,
ranks, the ungrouped suggestions and small ideas; and the suite that gates it."""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from voicelake.config import ConfigError
from voicelake.jobs.transforms.product_feedback import (
    UNGROUPED_LABEL,
    FeedbackParams,
    build_product_feedback,
    product_requests,
)

AS_OF = date(2026, 3, 1)  # a Sunday: the recent window is 02-23..03-01, the one before 02-16..02-22
PARAMS = FeedbackParams(trend_days=7, weeks=3, examples=3, min_customers=3)
# (message, conversation, customer, product, version, day, idea, sentence, distance to the centroid, valence)
REQUESTS = [
    ("m1", "k1", "c1", "A", "1.0", "2026-02-17", 0, "Please add a dark mode.", 0.1, 0.5),
    ("m2", "k2", "c1", "A", "1.1", "2026-02-25", 0, "Please add a dark mode.", 0.1, None),
    ("m3", "k3", "c2", "A", "1.1", "2026-02-24", 0, "Dark theme would be nice.", 0.2, 0.2),
    ("m4", "k4", "c3", "A", "1.1", "2026-02-26", 0, "Night mode pls.", 0.3, 0.4),
    ("m5", "k5", "c4", "A", "1.1", "2026-02-27", 0, "I want dark.", 0.5, None),
    ("m6", "k6", "c5", "A", "1.1", "2026-02-18", 0, "Dark colours, please.", 0.55, -0.3),
    ("m7", "k7", "c6", "A", "1.1", "2026-02-20", 1, "Export to CSV please.", 0.1, None),
    ("m8", "k8", "c7", "A", "1.1", "2026-02-28", -1, "Make it better.", 0.9, None),
    ("m9", "k9", "c8", "A", "1.1", "2026-03-02", 0, "Dark mode!", 0.1, None),  # after the as-of date
    ("m10", "k10", "c1", "B", "2.0", "2026-02-25", 0, "Add a guest network.", 0.1, None),
]
OTHER_MESSAGES = [  # not suggestions: c1's other message counts toward c1's valence (0.5 and -0.5: 0.0)
    ("m11", "k1", "c1", "A", "1.0", "2026-02-17", -0.5),
]


@pytest.fixture(scope="module")
def lake(spark: SparkSession) -> dict[str, DataFrame]:
    def ts(day: str) -> datetime:
        return datetime.fromisoformat(day + "T10:00:00")

    ideas = spark.createDataFrame(
        [(m, p, i, {0: "dark mode", 1: "csv export"}.get(i), s, d, 4, date.fromisoformat(day))
         for m, _, _, p, _, day, i, s, d, _ in REQUESTS],
        "message_id string, product string, idea_id int, idea_label string, sentence string, distance double, "
        "idea_model_version int, sent_date date")
    suggestions = spark.createDataFrame([(m, True, "7") for m, *_ in REQUESTS],
                                        "message_id string, is_suggestion boolean, model_version string")
    rows = [(m, k, c, p, v, day) for m, k, c, p, v, day, *_ in REQUESTS] + [r[:6] for r in OTHER_MESSAGES]
    messages = spark.createDataFrame(
        [(m, k, c, "customer", p, v, ts(day), date.fromisoformat(day)) for m, k, c, p, v, day in rows]
        + [("a1", "k1", None, "agent", "A", "1.0", ts("2026-02-17"), date(2026, 2, 17))],
        "message_id string, conversation_id string, customer_key string, author_role string, product string, "
        "product_version string, sent_at timestamp, sent_date date")
    valence = [(r[0], r[-1]) for r in REQUESTS if r[-1] is not None] + [(r[0], r[-1]) for r in OTHER_MESSAGES]
    emotions = spark.createDataFrame(valence + [("a1", 0.9)], "message_id string, valence double")
    requests = product_requests(ideas, suggestions, messages, AS_OF)
    mart = build_product_feedback(requests, messages, emotions, AS_OF, PARAMS).cache()
    return {"mart": mart, "ideas": ideas, "messages": messages, "suggestions": suggestions, "emotions": emotions}


def test_counts_versions_dates_and_ranks(lake: dict[str, DataFrame]) -> None:
    rows = {(r["product"], r["idea_id"]): r.asDict() for r in lake["mart"].collect()}
    assert set(rows) == {("A", 0), ("A", 1), ("A", -1), ("B", 0)}
    dark = rows[("A", 0)]
    # c1..c5 (c8 asked after the as-of date); c1 twice, in two conversations
    assert (dark["customers"], dark["suggestions"], dark["conversations"]) == (5, 6, 6)
    assert dark["versions"] == ["1.0", "1.1"] and dark["idea_label"] == "dark mode"
    assert dark["first_seen"] == datetime(2026, 2, 17, 10) and dark["last_seen"] == datetime(2026, 2, 27, 10)
    assert (dark["rank"], rows[("A", 1)]["rank"], rows[("A", -1)]["rank"], rows[("B", 0)]["rank"]) == (1, 2, None, 1)
    assert rows[("A", -1)]["idea_label"] == UNGROUPED_LABEL
    assert rows[("B", 0)]["customers"] == 1  # c1 again, but for another product
    assert dark["enough_data"] and not rows[("A", 1)]["enough_data"]  # min_customers 3
    assert dark["as_of"] == AS_OF and dark["detector_version"] == "7" and dark["idea_model_version"] == 4


def test_trend_with_its_interval_and_the_weekly_series(lake: dict[str, DataFrame]) -> None:
    rows = {(r["product"], r["idea_id"]): r.asDict(recursive=True) for r in lake["mart"].collect()}
    dark = rows[("A", 0)]
    # recent (02-23..03-01): c1, c2, c3, c4 = 4; before (02-16..02-22): c1, c5 = 2
    assert (dark["customers_recent"], dark["customers_before"]) == (4, 2)
    half = 1.959964 * math.sqrt(1 / 4 + 1 / 2)
    assert dark["trend_ratio"] == pytest.approx(2.0)
    assert dark["trend_ratio_lo"] == pytest.approx(2.0 * math.exp(-half), rel=1e-4)
    assert dark["trend_ratio_hi"] == pytest.approx(2.0 * math.exp(half), rel=1e-4)
    assert dark["trend"] == "steady"  # the interval (0.37, 10.9) holds 1
    assert rows[("A", 1)]["trend"] == "too few" and rows[("A", 1)]["trend_ratio"] is None
    assert rows[("B", 0)]["trend"] == "too few"
    # weeks from Monday 02-09 (nobody), 02-16 (c1, c5), 02-23 (c1, c2, c3, c4)
    assert [(w["week_start"], w["customers"]) for w in dark["weekly_customers"]] == [
        (date(2026, 2, 9), 0), (date(2026, 2, 16), 2), (date(2026, 2, 23), 4)]


def test_requester_valence_examples_and_settings(lake: dict[str, DataFrame]) -> None:
    dark = lake["mart"].where((F.col("product") == "A") & (F.col("idea_id") == 0)).first()
    assert dark is not None
    # per requester: c1 (0.5 - 0.5) / 2 = 0.0, c2 0.2, c3 0.4, c5 -0.3 (c4 has no scored message)
    values = [0.0, 0.2, 0.4, -0.3]
    mean = sum(values) / 4
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 3)
    assert dark["requesters_scored"] == 4 and dark["requester_valence"] == pytest.approx(mean)
    assert dark["requester_valence_lo"] == pytest.approx(mean - 1.959964 * sd / 2, rel=1e-4)
    # the three distinct sentences nearest the centroid, nearest first
    assert dark["examples"] == ["Please add a dark mode.", "Dark theme would be nice.", "Night mode pls."]
    assert (dark["requester_churn_risk"], dark["requesters_with_risk"]) == (None, 0)  # no customer_health yet
    with pytest.raises(ConfigError, match="suggestions.feedback"):
        FeedbackParams.from_config({"weeks": 0})
    with pytest.raises(ConfigError, match="unknown keys"):
        FeedbackParams.from_config({"window": 7})


def test_requester_churn_risk_from_each_requesters_latest_week(spark: SparkSession, lake: dict[str, DataFrame]) -> None:
    """gold.customer_health's latest week per requester: c1 0.4 (its week 02-23, not 02-16's 0.9),
    c2 0.2; c3 has no row; the others are not dark mode requesters."""
    health = spark.createDataFrame(
        [("c1", date(2026, 2, 16), 0.9), ("c1", date(2026, 2, 23), 0.4), ("c2", date(2026, 2, 23), 0.2),
         ("x9", date(2026, 2, 23), 0.8)], "customer_key string, week date, churn_probability double")
    mart = build_product_feedback(product_requests(lake["ideas"], lake["suggestions"], lake["messages"], AS_OF),
                                  lake["messages"], lake["emotions"], AS_OF, PARAMS, health)
    dark = mart.where((F.col("product") == "A") & (F.col("idea_id") == 0)).first()
    assert dark is not None and dark["requesters_with_risk"] == 2
    half = 1.959964 * math.sqrt(((0.4 - 0.3) ** 2 + (0.2 - 0.3) ** 2) / 1) / math.sqrt(2)
    assert dark["requester_churn_risk"] == pytest.approx(0.3)
    assert dark["requester_churn_risk_hi"] == pytest.approx(0.3 + half, rel=1e-4)


def test_the_suite_reconciles_with_silver_and_fails_on_broken_rows(lake: dict[str, DataFrame], tmp_path: Path) -> None:
    """gold_product_feedback passes the mart, and catches a duplicated row, counts that do not
    nest, and a mart that lost a suggestion silver has (the reconciliation)."""
    from tests.conftest import make_config
    from voicelake.jobs.validate import feedback_frames
    from voicelake.quality import Validator

    config = make_config(tmp_path / "home")
    mart, ideas, messages = lake["mart"], lake["ideas"], lake["messages"]

    def run(frame: DataFrame) -> set[str]:
        [(suite, checked, note)] = list(feedback_frames(lambda _: frame, config, ideas, messages))
        assert note is None and checked is not None
        return {f"{f.expectation}({f.target})" for f in Validator(config).run(suite, checked, {}).failures}

    assert run(mart) == set()
    row = mart.where(F.col("product") == "B")
    broken = mart.where(F.col("product") == "A").unionByName(row).unionByName(row.withColumn("conversations", F.lit(0)))
    assert run(broken) == {"expect_compound_columns_to_be_unique(product,idea_id)",
                           "expect_column_pair_values_a_to_be_greater_than_b(conversations,customers)",
                           "expect_column_pair_values_to_be_equal(product_suggestions,silver_product_suggestions)"}
    lost = mart.where(F.col("idea_id") >= 0)  # the ungrouped suggestions of A went missing
    assert run(lost) == {"expect_column_pair_values_to_be_equal(product_suggestions,silver_product_suggestions)"}


def test_the_suggestion_suite_wants_every_customer_message_read_once(lake: dict[str, DataFrame],
                                                                    spark: SparkSession, tmp_path: Path) -> None:
    """silver_message_suggestions passes when every customer message of the dates has one
    reading, and fails on a message read twice, one never read, and a suggestion without its
    sentence."""
    from tests.conftest import make_config
    from voicelake.jobs.transforms.quality import suggestion_coverage
    from voicelake.quality import Validator, configured_suite

    config = make_config(tmp_path / "home")
    messages = lake["messages"]
    readings = messages.where(F.col("author_role") == "customer").select(
        "message_id", F.lit(True).alias("is_suggestion"), F.lit(0.8).alias("suggestion_probability"),
        F.lit("Please add it.").alias("suggestion_sentence"), F.lit("7").alias("model_version"), "sent_date")
    suite = configured_suite(config, "silver_message_suggestions")

    def failures(rows: DataFrame) -> set[str]:
        frame = suggestion_coverage(messages, rows, [date(2026, 2, 17), date(2026, 2, 25)])
        return {f"{f.expectation}({f.target})" for f in Validator(config).run(suite, frame, {}).failures}

    assert failures(readings) == set()
    broken = (readings.where(F.col("message_id") != "m2")  # m2 (02-25) never read
              .unionByName(readings.where(F.col("message_id") == "m1"))  # m1 read twice
              .withColumn("suggestion_sentence", F.when(F.col("message_id") == "m11", None)
                          .otherwise(F.col("suggestion_sentence"))))
    # m2 unread: no reading, so no decision and no model version either
    assert failures(broken) == {"expect_column_values_to_be_between(readings)",
                                "expect_column_values_to_not_be_null(is_suggestion)",
                                "expect_column_values_to_not_be_null(model_version)",
                                "expect_column_values_to_not_be_null(suggestion_sentence)"}
