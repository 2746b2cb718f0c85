from datetime import date

from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from voicelake.jobs.transforms.gold import build_service_daily

D = date(2026, 1, 5)
CONV = ("conversation_id string, channel string, product string, first_response_minutes double, "
        "resolution_minutes double, sla_breached boolean, csat double, nps_score int, opened_date date")
MSG = "message_id string, channel string, product string, author_role string, sent_date date"


def test_service_daily_figures(spark: SparkSession) -> None:
    conversations = spark.createDataFrame([
        ("c1", "chat", "P", 1.0, 10.0, False, 5.0, None, D),
        ("c2", "chat", "P", 3.0, 30.0, True, 3.0, None, D),
        ("c3", "chat", "P", 11.0, None, True, None, None, D),
        ("s1", "survey", "P", None, None, None, None, 10, D),
        ("s2", "survey", "P", None, None, None, None, 7, D),
        ("s3", "survey", "P", None, None, None, None, 3, D),
        ("s4", "survey", None, None, None, None, None, 9, D),
    ], CONV)
    messages = spark.createDataFrame([
        ("m1", "chat", "P", "customer", D), ("m2", "chat", "P", "agent", D),
        ("m3", "email", "P", "customer", D),
    ], MSG)
    out = build_service_daily(conversations, messages)
    assertDataFrameEqual(out, [
        (D, "chat", "P", 3, 2, 1, 3.0, 9.4, 20.0, 2 / 3, 4.0, 2, None, 0),
        (D, "survey", "P", 3, 0, 0, None, None, None, None, None, 0, 0.0, 3),
        (D, "survey", "unknown", 1, 0, 0, None, None, None, None, None, 0, 100.0, 1),
        (D, "email", "P", 0, 1, 1, None, None, None, None, None, 0, None, 0),
    ], checkRowOrder=False)
    assert out.columns == [
        "date", "channel", "product", "conversations", "messages", "customer_messages",
        "median_first_response_minutes", "p90_first_response_minutes", "median_resolution_minutes",
        "sla_breach_rate", "csat", "csat_responses", "nps", "nps_responses"]
