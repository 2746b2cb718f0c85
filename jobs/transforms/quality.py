"""Pure transformations that shape a table into what its expectation suite checks.

Great Expectations validates one DataFrame per suite, row by row or by aggregate. Checks
that span rows or tables (every message scored exactly once, shares summing to 1 per
group, a day's labels against a baseline) become derived columns here, so the suites in
conf/expectations stay declarative and a failing row can still be quarantined.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

EMOTION_GROUP = ("date", "channel", "product", "author_role")


def _on_dates(col: str, dates: Sequence[date] | None) -> Column:
    return F.lit(True) if dates is None else F.col(col).isin(list(dates))


def bronze_frame(bronze: DataFrame, event_time: str, dates: Sequence[date] | None) -> DataFrame:
    """A bronze table's rows whose event falls on the dates, with ``event_date``."""
    framed = bronze.withColumn("event_date", F.to_date(F.col(event_time)))
    return framed.where(_on_dates("event_date", dates))


def messages_frame(messages: DataFrame, dates: Sequence[date] | None) -> DataFrame:
    """silver.messages of the dates, with ``sent_at_date`` to check rows sit in their partition."""
    return (messages.where(_on_dates("sent_date", dates))
            .withColumn("sent_at_date", F.to_date("sent_at")))


def emotion_coverage(messages: DataFrame, emotions: DataFrame, labels: Sequence[str],
                     dates: Sequence[date] | None) -> DataFrame:
    """One row per silver message of the dates with its score: ``scores`` (score rows for the
    message, 1 when scored exactly once), label, valence, model_version and ``p_min``,
    ``p_max``, ``p_sum`` over the per-label probabilities."""
    probs = [F.col(f"p_{label}") for label in labels]
    scored = emotions.where(_on_dates("sent_date", dates)).select(
        "message_id", "label", "valence", "model_version",
        F.least(*probs).alias("p_min"), F.greatest(*probs).alias("p_max"),
        sum(probs[1:], probs[0]).alias("p_sum"))
    joined = messages.where(_on_dates("sent_date", dates)).select("message_id").join(
        scored, "message_id", "left")
    return joined.groupBy("message_id").agg(
        F.count("model_version").alias("scores"),
        F.first("label", ignorenulls=True).alias("label"),
        F.first("valence", ignorenulls=True).alias("valence"),
        F.first("model_version", ignorenulls=True).alias("model_version"),
        F.min("p_min").alias("p_min"), F.max("p_max").alias("p_max"),
        F.first("p_sum", ignorenulls=True).alias("p_sum"))


def label_drift(emotions: DataFrame, day: date, baseline_days: int) -> DataFrame:
    """Per label: the day's share of scored messages, its share over the ``baseline_days``
    days before, and ``shift`` = |day_share - baseline_share|; with the day and baseline
    message totals on every row."""
    first = day - timedelta(days=baseline_days)
    window = emotions.where(F.col("sent_date").between(F.lit(first), F.lit(day))).withColumn(
        "on_day", F.col("sent_date") == F.lit(day))
    counts = window.groupBy("label").agg(
        F.count(F.when(F.col("on_day"), 1)).alias("day_messages"),
        F.count(F.when(~F.col("on_day"), 1)).alias("baseline_label_messages"))
    totals = counts.agg(F.sum("day_messages").alias("day_total"),
                        F.sum("baseline_label_messages").alias("baseline_total"))
    return counts.crossJoin(totals).select(
        "label", "day_total", "baseline_total",
        F.try_divide(F.col("day_messages"), F.col("day_total")).alias("day_share"),
        F.try_divide(F.col("baseline_label_messages"), F.col("baseline_total")).alias("baseline_share"),
    ).withColumn("shift", F.abs(F.col("day_share") - F.col("baseline_share")))


def with_group_share_sum(emotion_daily: DataFrame) -> DataFrame:
    """gold.emotion_daily with ``share_sum``: the sum of ``share`` over the row's group."""
    return emotion_daily.withColumn("share_sum", F.sum("share").over(Window.partitionBy(*EMOTION_GROUP)))


def to_validation_quarantine(rows: DataFrame, table: str, reason: str, batch_id: str,
                             at: datetime) -> DataFrame:
    """Rows that failed an expectation, in bronze.quarantine's shape: the whole row as JSON,
    the table as source, the suite and expectation as reason."""
    return rows.select(
        F.lit(table).alias("source"),
        F.to_json(F.struct(*[F.col(f"`{c}`") for c in rows.columns])).alias("raw_record"),
        F.lit(None).cast("string").alias("source_file"),
        F.lit(None).cast("long").alias("source_version"),
        F.lit(reason).alias("reason"),
        F.lit(batch_id).alias("batch_id"),
        F.lit(at).cast("timestamp").alias("ingested_at"))
