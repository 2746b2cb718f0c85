"""gold.health_check, which build_gold stages after the other marts of the run, from their
staged copies (docs/marts.md#goldhealth_check): one row per date of the run.

The day's negative share is compared with the ``baseline_days`` before it, read from silver;
everything else comes from the marts the same run staged, so the row agrees with what the run
publishes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.config import Config
from voicelake.jobs.topic_marts import forecast_params, negative_valence
from voicelake.jobs.transforms.health import HealthParams, build_health_check, daily_negatives
from voicelake.jobs.transforms.topic_forecast import forecast_risks
from voicelake.runtime import JobContext
from voicelake.schemas import (
    GOLD_EMOTION_INDEX,
    GOLD_HEALTH_CHECK,
    GOLD_INCIDENT_IMPACT,
    GOLD_RELEASE_IMPACT,
    GOLD_SERVICE_GAPS,
    GOLD_TOPIC_ALERTS,
    GOLD_TOPIC_FORECAST,
    GOLD_UNEXPLAINED_SPIKES,
    SILVER_MESSAGE_EMOTIONS,
    SILVER_MESSAGES,
)

HEALTH_MARTS = (GOLD_HEALTH_CHECK,)


def health_params(config: Config) -> HealthParams:
    return HealthParams.from_config(dict(config.voc.health))


def build_health_marts(ctx: JobContext, dates: Sequence[date] | None,
                       staged: Mapping[str, DataFrame]) -> dict[str, DataFrame]:
    """gold.health_check for the dates (every date when None) from the run's ``staged`` marts;
    nothing before messages are scored."""
    if not ctx.lake.exists(SILVER_MESSAGE_EMOTIONS):
        return {}
    params = health_params(ctx.config)
    messages, emotions = ctx.lake.read(SILVER_MESSAGES), ctx.lake.read(SILVER_MESSAGE_EMOTIONS)
    if dates is not None:
        span = F.col("sent_date").between(F.lit(min(dates) - timedelta(days=params.baseline_days)), F.lit(max(dates)))
        messages, emotions = messages.where(span), emotions.where(span)
    daily = daily_negatives(messages, emotions, negative_valence(ctx))
    return {GOLD_HEALTH_CHECK: build_health_check(
        daily, dates, params, emotion_index=staged.get(GOLD_EMOTION_INDEX), topic_alerts=staged.get(GOLD_TOPIC_ALERTS),
        incident_impact=staged.get(GOLD_INCIDENT_IMPACT), unexplained_spikes=staged.get(GOLD_UNEXPLAINED_SPIKES),
        release_impact=staged.get(GOLD_RELEASE_IMPACT), service_gaps=staged.get(GOLD_SERVICE_GAPS),
        forecast_risks=None if GOLD_TOPIC_FORECAST not in staged else
        forecast_risks(staged[GOLD_TOPIC_FORECAST], forecast_params(ctx.config)))}
