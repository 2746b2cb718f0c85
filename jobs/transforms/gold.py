"""Pure transformations from silver to gold marts for BI."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

UNKNOWN = "unknown"  # key value for a missing product or channel: gold keys are never NULL


def gold_key(col: str) -> Column:
    return F.coalesce(F.col(col), F.lit(UNKNOWN)).alias(col)


FIRST_RESPONSE_BUCKETS = (5, 15, 60, 240, 1440)  # upper bounds (minutes) of the histogram columns
CENSORED = 1e15  # rank of an unanswered conversation: longer than any answer (+inf at the cut-off)


def _censored_percentile(p: float) -> Column:
    """Percentile ``p`` of first response with unanswered conversations ranked as +inf:
    NULL when it falls among (or interpolates with) the unanswered ones."""
    ranked = F.when(F.col("first_response_censored"), F.lit(CENSORED)).otherwise(F.col("first_response_minutes"))
    value = F.percentile(ranked, p)
    return F.when(value <= F.max("first_response_minutes"), value)


def build_service_daily(conversations: DataFrame, messages: DataFrame) -> DataFrame:
    """gold.service_daily: date x channel x product service levels (see docs/marts.md).

    Conversations count on the day they opened, messages on the day they were sent.
    First-response percentiles count unanswered conversations as censored (+inf at the
    build's cut-off); sums, counts and a first-response histogram are published beside every
    mean and percentile so that BI can roll days up without averaging medians.
    """
    conv = conversations.select(
        F.col("opened_date").alias("date"), gold_key("channel"), gold_key("product"),
        "first_response_minutes", F.coalesce("first_response_censored", F.lit(False)).alias("first_response_censored"),
        "resolution_minutes", "sla_breached", "sla_target_minutes", "csat", "nps_score", "timing_flag")
    frt = F.col("first_response_minutes")
    buckets = []
    lower = 0
    for upper in FIRST_RESPONSE_BUCKETS:
        cond = frt <= upper if lower == 0 else (frt > lower) & (frt <= upper)
        buckets.append(F.count(F.when(cond, 1)).alias(f"first_response_le_{upper}"))
        lower = upper
    buckets.append(F.count(F.when(frt > lower, 1)).alias(f"first_response_gt_{lower}"))
    per_conv = conv.groupBy("date", "channel", "product").agg(
        F.count(F.lit(1)).alias("conversations"),
        _censored_percentile(0.5).alias("median_first_response_minutes"),
        _censored_percentile(0.9).alias("p90_first_response_minutes"),
        F.count(frt).alias("first_responses"),
        F.count(F.when(F.col("first_response_censored"), 1)).alias("unanswered"),
        F.sum(frt).alias("first_response_minutes_sum"),
        *buckets,
        F.median("resolution_minutes").alias("median_resolution_minutes"),
        F.count("resolution_minutes").alias("resolved"),
        F.sum("resolution_minutes").alias("resolution_minutes_sum"),
        F.avg(F.col("sla_breached").cast("double")).alias("sla_breach_rate"),
        F.count(F.when(F.col("sla_breached"), 1)).alias("sla_breaches"),
        F.count("sla_breached").alias("sla_decided"),
        F.count(F.when(F.col("sla_target_minutes").isNotNull() & F.col("sla_breached").isNull(), 1))
        .alias("sla_pending"),
        F.avg("csat").alias("csat"),
        F.count("csat").alias("csat_responses"),
        F.sum("csat").alias("csat_sum"),
        F.try_divide(100.0 * (F.count(F.when(F.col("nps_score") >= 9, 1))
                              - F.count(F.when(F.col("nps_score") <= 6, 1))),
                     F.count("nps_score")).alias("nps"),
        F.count("nps_score").alias("nps_responses"),
        F.count(F.when(F.col("nps_score") >= 9, 1)).alias("nps_promoters"),
        F.count(F.when(F.col("nps_score") <= 6, 1)).alias("nps_detractors"),
        F.count("timing_flag").alias("timing_flagged"),
    )
    msgs = messages.select(F.col("sent_date").alias("date"), gold_key("channel"), gold_key("product"),
                           "author_role")
    per_msg = msgs.groupBy("date", "channel", "product").agg(
        F.count(F.lit(1)).alias("messages"),
        F.count(F.when(F.col("author_role") == "customer", 1)).alias("customer_messages"),
    )
    joined = per_conv.join(per_msg, ["date", "channel", "product"], "full")

    def count(name: str) -> Column:
        return F.coalesce(name, F.lit(0)).cast("long").alias(name)

    histogram = [f"first_response_le_{u}" for u in FIRST_RESPONSE_BUCKETS] + [f"first_response_gt_{lower}"]
    return joined.select(
        "date", "channel", "product",
        count("conversations"), count("messages"), count("customer_messages"),
        "median_first_response_minutes", "p90_first_response_minutes",
        "median_resolution_minutes", "sla_breach_rate", "csat", count("csat_responses"),
        "nps", count("nps_responses"),
        count("first_responses"), count("unanswered"), "first_response_minutes_sum",
        *[count(c) for c in histogram],
        count("resolved"), "resolution_minutes_sum",
        count("sla_breaches"), count("sla_decided"), count("sla_pending"),
        "csat_sum", count("nps_promoters"), count("nps_detractors"), count("timing_flagged"),
    )


def build_emotion_daily(messages: DataFrame, emotions: DataFrame) -> DataFrame:
    """gold.emotion_daily: date x channel x product x author_role x label: messages, share of
    the group's messages, mean valence. Messages not scored yet are left out."""
    joined = messages.select("message_id", F.col("sent_date").alias("date"), gold_key("channel"),
                             gold_key("product"), gold_key("author_role")).join(
        emotions.select("message_id", "label", "valence"), "message_id")
    counts = joined.groupBy("date", "channel", "product", "author_role", "label").agg(
        F.count(F.lit(1)).alias("messages"), F.avg("valence").alias("mean_valence"))
    group = Window.partitionBy("date", "channel", "product", "author_role")
    return counts.select(
        "date", "channel", "product", "author_role", "label", "messages",
        (F.col("messages") / F.sum("messages").over(group)).alias("share"), "mean_valence")
