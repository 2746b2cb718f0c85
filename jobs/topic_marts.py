"""The topic marts build_gold stages once silver.message_topics exists (docs/marts.md).

    gold.topic_daily    date partitions   date x topic x product x channel
    gold.topic_alerts   date partitions   date x topic x metric: anomalous volume or negative share

A dated run rebuilds its dates; the alerts of a date read the topic counts of the
``AlertParams.history_days`` (2 x baseline_days + window_days) days before it from silver, so
a backfill or a late record changes the alerts of the dates it touches the same way a full
rebuild would.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.jobs.transforms.topic_trends import AlertParams, build_topic_alerts, build_topic_daily
from voicelake.jobs.transforms.voc import OutcomeParams
from voicelake.runtime import JobContext
from voicelake.schemas import (
    GOLD_TOPIC_ALERTS,
    GOLD_TOPIC_DAILY,
    SILVER_MESSAGE_EMOTIONS,
    SILVER_MESSAGE_TOPICS,
    SILVER_MESSAGES,
)

TOPIC_MARTS = (GOLD_TOPIC_DAILY, GOLD_TOPIC_ALERTS)


def alert_params(ctx: JobContext) -> AlertParams:
    return AlertParams.from_config(dict(ctx.config.topics.alerts))


def negative_valence(ctx: JobContext) -> float:
    """The valence below which a customer message counts as negative (``voc.outcomes``)."""
    return float(ctx.config.voc.outcomes.get("negative_valence", OutcomeParams.negative_valence))


def _daily(ctx: JobContext, start: date | None, end: date | None) -> DataFrame:
    def read(table: str) -> DataFrame:
        frame = ctx.lake.read(table)
        if start is None or end is None:
            return frame
        return frame.where(F.col("sent_date").between(F.lit(start), F.lit(end)))

    return build_topic_daily(read(SILVER_MESSAGE_TOPICS), read(SILVER_MESSAGES), read(SILVER_MESSAGE_EMOTIONS),
                             negative_valence(ctx))


def build_topic_marts(ctx: JobContext, dates: Sequence[date] | None,
                      cached: list[DataFrame] | None = None) -> dict[str, DataFrame]:
    """gold.topic_daily and gold.topic_alerts for the dates (every date when None); nothing
    before topics exist. Frames both marts read are cached and appended to ``cached``."""
    cached = [] if cached is None else cached
    if not (ctx.lake.exists(SILVER_MESSAGE_TOPICS) and ctx.lake.exists(SILVER_MESSAGE_EMOTIONS)):
        return {}
    span = ctx.lake.read(SILVER_MESSAGE_TOPICS).agg(F.min("sent_date"), F.max("sent_date")).first()
    if span is None or span[0] is None:
        return {}
    lake_start, lake_end = span[0], span[1]
    params = alert_params(ctx)
    if dates is None:
        history = _daily(ctx, None, None).cache()
        daily = history
    else:
        history = _daily(ctx, max(lake_start, min(dates) - timedelta(days=params.history_days)),
                         max(dates)).cache()
        daily = history.where(F.col("date").isin(list(dates)))
    cached.append(history)
    return {GOLD_TOPIC_DAILY: daily,
            GOLD_TOPIC_ALERTS: build_topic_alerts(history, dates, params, lake_start, lake_end)}
