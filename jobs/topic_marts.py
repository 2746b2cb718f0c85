"""The topic marts build_gold stages once silver.message_topics exists (docs/marts.md).

    gold.topic_daily    date partitions   date x topic x product x channel
    gold.topic_alerts   date partitions   date x topic x metric: anomalous volume or negative share
    gold.topic_forecast date partitions   origin x topic x metric x horizon: the next days with intervals

A dated run rebuilds its dates; the alerts of a date read the topic counts of the
``AlertParams.history_days`` (2 x baseline_days + window_days) days before it from silver, so
a backfill or a late record changes the alerts of the dates it touches the same way a full
rebuild would. The forecast is made from one origin per run, the run's last date (a full
rebuild: the lake's), on the ``ForecastParams.history_days`` before it; its backtest figures
are logged to MLflow when the build publishes (`log_forecast_backtest`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.config import Config
from voicelake.jobs.transforms.topic_forecast import ForecastParams, build_topic_forecast
from voicelake.jobs.transforms.topic_trends import AlertParams, build_topic_alerts, build_topic_daily
from voicelake.jobs.transforms.voc import OutcomeParams
from voicelake.runtime import JobContext
from voicelake.schemas import (
    GOLD_TOPIC_ALERTS,
    GOLD_TOPIC_DAILY,
    GOLD_TOPIC_FORECAST,
    SILVER_MESSAGE_EMOTIONS,
    SILVER_MESSAGE_TOPICS,
    SILVER_MESSAGES,
)

TOPIC_MARTS = (GOLD_TOPIC_DAILY, GOLD_TOPIC_ALERTS, GOLD_TOPIC_FORECAST)


def alert_params(ctx: JobContext) -> AlertParams:
    return AlertParams.from_config(dict(ctx.config.topics.alerts))


def forecast_params(config: Config) -> ForecastParams:
    return ForecastParams.from_config(dict(config.topics.forecast))


def _topic_span(ctx: JobContext) -> tuple[date, date] | None:
    """The first and last day of silver.message_topics (None: no topics yet)."""
    span = ctx.lake.read(SILVER_MESSAGE_TOPICS).agg(F.min("sent_date"), F.max("sent_date")).first()
    return None if span is None or span[0] is None else (span[0], span[1])


def _origin(last_topic_day: date, dates: Sequence[date] | None) -> date:
    return last_topic_day if dates is None else min(max(dates), last_topic_day)


def forecast_origin(ctx: JobContext, dates: Sequence[date] | None) -> date | None:
    """The day a run's forecast is made from: its last date, or the lake's last day of topics
    when that is earlier or the run rebuilds everything (None: no topics yet)."""
    span = _topic_span(ctx) if ctx.lake.exists(SILVER_MESSAGE_TOPICS) else None
    return None if span is None else _origin(span[1], dates)


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
    span = _topic_span(ctx)  # one read of the topics' dates serves the alerts and the forecast's origin
    if span is None:
        return {}
    lake_start, lake_end = span
    origin = _origin(lake_end, dates)
    params, forecast = alert_params(ctx), forecast_params(ctx.config)
    if dates is None:
        history = _daily(ctx, None, None).cache()
        daily = history
    else:
        first = min(min(dates) - timedelta(days=params.history_days), origin - timedelta(days=forecast.history_days))
        history = _daily(ctx, max(lake_start, first), max(dates)).cache()
        daily = history.where(F.col("date").isin(list(dates)))
    cached.append(history)
    return {GOLD_TOPIC_DAILY: daily,
            GOLD_TOPIC_ALERTS: build_topic_alerts(history, dates, params, lake_start, lake_end),
            GOLD_TOPIC_FORECAST: build_topic_forecast(history, origin, forecast, lake_start)}


def log_forecast_backtest(config: Config, forecast: DataFrame) -> dict[str, float]:
    """Log the published forecast's rolling-origin backtest to MLflow (one run, experiment
    ``voicelake-topic-forecast``): per metric, the series forecast and backtested, their mean
    MASE against the seasonal-naive forecast's, and the pooled interval coverage; returns the
    metrics logged."""
    from voicelake.models.forecast_tracking import log_backtest

    per_series = forecast.where(F.col("horizon") == 1)
    metrics: dict[str, float] = {}
    origin = None
    for row in (per_series.groupBy("metric").agg(
            F.max("date").alias("origin"), F.count(F.lit(1)).alias("series"),
            F.count("backtest_mase").alias("backtested"), F.avg("backtest_mase").alias("mase"),
            F.avg("backtest_naive_mase").alias("naive_mase"),
            (F.sum(F.col("backtest_coverage_80") * F.col("backtest_points")) / F.sum("backtest_points"))
            .alias("coverage_80"),
            (F.sum(F.col("backtest_coverage_95") * F.col("backtest_points")) / F.sum("backtest_points"))
            .alias("coverage_95")).collect()):
        origin = row["origin"]
        for name in ("series", "backtested", "mase", "naive_mase", "coverage_80", "coverage_95"):
            if row[name] is not None:
                metrics[f"{row['metric']}_{name}"] = float(row[name])
    if origin is not None:
        params = forecast_params(config)
        log_backtest(config, metrics, {"origin": str(origin), "method": "AutoETS(A,Z,N) on the weekday-adjusted series",
                                       "horizon_days": params.horizon_days, "backtest_windows": params.backtest_windows,
                                       "backtest_step_days": params.backtest_step_days,
                                       "history_days": params.history_days})
    return metrics
