"""Pure transformations from silver to gold marts for BI."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

UNKNOWN = "unknown"  # key value for a missing product or channel: gold keys are never NULL


def _key(col: str) -> Column:
    return F.coalesce(F.col(col), F.lit(UNKNOWN)).alias(col)


def build_service_daily(conversations: DataFrame, messages: DataFrame) -> DataFrame:
    """gold.service_daily: date x channel x product service levels.

    Conversations count on the day they opened, messages on the day they were sent.
    First-response and resolution figures are in minutes; ``sla_breach_rate`` is over
    conversations with an SLA target; ``nps`` is %promoters (9-10) - %detractors (0-6)
    of NPS answers, ``csat`` the mean CSAT score (1-5), both where present.
    """
    conv = conversations.select(
        F.col("opened_date").alias("date"), _key("channel"), _key("product"),
        "first_response_minutes", "resolution_minutes", "sla_breached", "csat", "nps_score")
    per_conv = conv.groupBy("date", "channel", "product").agg(
        F.count(F.lit(1)).alias("conversations"),
        F.median("first_response_minutes").alias("median_first_response_minutes"),
        F.percentile("first_response_minutes", 0.9).alias("p90_first_response_minutes"),
        F.median("resolution_minutes").alias("median_resolution_minutes"),
        F.avg(F.col("sla_breached").cast("double")).alias("sla_breach_rate"),
        F.avg("csat").alias("csat"),
        F.count("csat").alias("csat_responses"),
        F.try_divide(100.0 * (F.count(F.when(F.col("nps_score") >= 9, 1))
                              - F.count(F.when(F.col("nps_score") <= 6, 1))),
                     F.count("nps_score")).alias("nps"),
        F.count("nps_score").alias("nps_responses"),
    )
    msgs = messages.select(F.col("sent_date").alias("date"), _key("channel"), _key("product"),
                           "author_role")
    per_msg = msgs.groupBy("date", "channel", "product").agg(
        F.count(F.lit(1)).alias("messages"),
        F.count(F.when(F.col("author_role") == "customer", 1)).alias("customer_messages"),
    )
    joined = per_conv.join(per_msg, ["date", "channel", "product"], "full")
    return joined.select(
        "date", "channel", "product",
        F.coalesce("conversations", F.lit(0)).cast("long").alias("conversations"),
        F.coalesce("messages", F.lit(0)).cast("long").alias("messages"),
        F.coalesce("customer_messages", F.lit(0)).cast("long").alias("customer_messages"),
        "median_first_response_minutes", "p90_first_response_minutes",
        "median_resolution_minutes", "sla_breach_rate", "csat",
        F.coalesce("csat_responses", F.lit(0)).cast("long").alias("csat_responses"),
        "nps", F.coalesce("nps_responses", F.lit(0)).cast("long").alias("nps_responses"),
    )


def build_emotion_daily(messages: DataFrame, emotions: DataFrame) -> DataFrame:
    """gold.emotion_daily: date x channel x product x author_role x label: messages, share of
    the group's messages, mean valence. Messages not scored yet are left out."""
    joined = messages.select("message_id", F.col("sent_date").alias("date"), _key("channel"),
                             _key("product"), _key("author_role")).join(
        emotions.select("message_id", "label", "valence"), "message_id")
    counts = joined.groupBy("date", "channel", "product", "author_role", "label").agg(
        F.count(F.lit(1)).alias("messages"), F.avg("valence").alias("mean_valence"))
    group = Window.partitionBy("date", "channel", "product", "author_role")
    return counts.select(
        "date", "channel", "product", "author_role", "label", "messages",
        (F.col("messages") / F.sum("messages").over(group)).alias("share"), "mean_valence")
