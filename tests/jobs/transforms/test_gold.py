from datetime import date

from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from voicelake.jobs.transforms.gold import build_service_daily

D = date(2026, 1, 5)
CONV = ("conversation_id string, channel string, product string, first_response_minutes double, "
        "resolution_minutes double, sla_breached boolean, csat double, nps_score int, opened_date date, "
        "first_response_censored boolean, sla_target_minutes int, timing_flag string")
MSG = "message_id string, channel string, product string, author_role string, sent_date date"


def test_service_daily_figures(spark: SparkSession) -> None:
    conversations = spark.createDataFrame([
        ("c1", "chat", "P", 1.0, 10.0, False, 5.0, None, D, False, 5, None),
        ("c2", "chat", "P", 3.0, 30.0, True, 3.0, None, D, False, 5, None),
        ("c3", "chat", "P", 11.0, None, True, None, None, D, False, 5, None),
        ("s1", "survey", "P", None, None, None, None, 10, D, False, None, None),
        ("s2", "survey", "P", None, None, None, None, 7, D, False, None, None),
        ("s3", "survey", "P", None, None, None, None, 3, D, False, None, None),
        ("s4", "survey", None, None, None, None, None, 9, D, False, None, None),
    ], CONV)
    messages = spark.createDataFrame([
        ("m1", "chat", "P", "customer", D), ("m2", "chat", "P", "agent", D),
        ("m3", "email", "P", "customer", D),
    ], MSG)
    out = build_service_daily(conversations, messages).select(*HEADLINE)
    assertDataFrameEqual(out, [
        (D, "chat", "P", 3, 2, 1, 3.0, 9.4, 20.0, 2 / 3, 4.0, 2, None, 0),
        (D, "survey", "P", 3, 0, 0, None, None, None, None, None, 0, 0.0, 3),
        (D, "survey", "unknown", 1, 0, 0, None, None, None, None, None, 0, 100.0, 1),
        (D, "email", "P", 0, 1, 1, None, None, None, None, None, 0, None, 0),
    ], checkRowOrder=False)
    assert build_service_daily(conversations, messages).columns[:len(HEADLINE)] == HEADLINE


HEADLINE = [
    "date", "channel", "product", "conversations", "messages", "customer_messages",
    "median_first_response_minutes", "p90_first_response_minutes", "median_resolution_minutes",
    "sla_breach_rate", "csat", "csat_responses", "nps", "nps_responses"]


def test_unanswered_conversations_count_in_first_response_percentiles(spark: SparkSession) -> None:
    rows = [(f"c{i}", "email", "P", float(m), None, m > 60, None, None, D, False, 60, None)
            for i, m in enumerate([10, 20, 30, 40])]
    rows += [(f"u{i}", "email", "P", None, None, None, None, None, D, True, 60, None) for i in range(3)]
    rows += [("p1", "email", "P", None, None, None, None, None, D, True, 60, None),
             ("t1", "ticket", "P", 5.0, None, False, None, None, D, False, 60, "resolved_before_opened")]
    out = {r["channel"]: r for r in build_service_daily(spark.createDataFrame(rows, CONV),
                                                         spark.createDataFrame([], MSG)).collect()}
    email = out["email"]
    # 4 answered + 4 unanswered (+inf): the median lies among the unanswered, so it is not known
    assert email["median_first_response_minutes"] is None and email["p90_first_response_minutes"] is None
    assert (email["first_responses"], email["unanswered"], email["first_response_minutes_sum"]) == (4, 4, 100.0)
    assert (email["first_response_le_15"], email["first_response_le_60"], email["first_response_gt_1440"]) == (
        1, 3, 0)
    assert (email["sla_breaches"], email["sla_decided"], email["sla_pending"]) == (0, 4, 4)
    assert out["ticket"]["timing_flagged"] == 1
    fewer = build_service_daily(spark.createDataFrame(rows[:5], CONV), spark.createDataFrame([], MSG)).first()
    assert fewer["median_first_response_minutes"] == 30.0  # ranks 10, 20, 30, 40, +inf
    assert fewer["p90_first_response_minutes"] is None
