"""Pure transformations for gold.topic_forecast (docs/marts.md#goldtopic_forecast).

- `series_forecast`: one series' forecast (pandas): the next ``horizon_days`` of conversations
  opened and of the negative share of scored customer messages, with 80% and 95% intervals,
  and the rolling-origin backtest of the same method against a seasonal-naive forecast.
- `build_topic_forecast`: every topic's series and the whole service's (topic_id -1), from
  gold.topic_daily rows up to the forecast's origin, through `series_forecast` per series with
  ``applyInPandas``.

Method. Volume: the series is divided by the service's weekday profile (the mean of each
weekday over the trailing ``profile_weeks`` weeks against the mean of all days: the same
profile the topic alerts use, estimated from the whole service because a single topic is
too sparse to carry seven seasonal states), an exponential-smoothing state-space model is
selected by AICc among additive-error ETS models with no, additive or damped trend
(statsforecast's AutoETS: a maintained library) and fitted, and its point forecast and
intervals are multiplied back by the target day's weekday factor; lower bounds are clipped at
0. Negative share: the daily share of scored customer messages that are negative (a day
without any carries the previous day's share), the same ETS selection with no weekday
profile, clipped to [0, 1].

Backtest. ``backtest_windows`` origins, ``backtest_step_days`` apart, the last one
``horizon_days`` before the forecast's origin; at each the method is refitted on the series
up to it and scored on the next ``horizon_days``: MASE (mean absolute error over the in-sample
mean absolute error of the same-weekday-last-week forecast) of the method and of that
seasonal-naive forecast itself, and the share of actual values inside the 80% and 95%
intervals (for the share: on days with scored messages). No reads, writes or actions here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.config import ConfigError, params_from_mapping
from voicelake.jobs.transforms.topic_trends import topic_series

SERVICE_TOPIC_ID = -1
SERVICE_TOPIC_LABEL = "(all topics)"
FORECAST_METRICS = ("volume", "negative_share")
LEVELS = (80, 95)
SEASON = 7
FORECAST_SCHEMA = (
    "date date, topic_id int, topic_label string, metric string, target_date date, horizon int, "
    "forecast double, lo_80 double, hi_80 double, lo_95 double, hi_95 double, last_7_days double, "
    "history_days int, model string, backtest_mase double, backtest_naive_mase double, "
    "backtest_coverage_80 double, backtest_coverage_95 double, backtest_points int")
FORECAST_COLUMNS = tuple(part.strip().split(" ")[0] for part in FORECAST_SCHEMA.split(","))


@dataclass(frozen=True)
class ForecastParams:
    """Settings of gold.topic_forecast (conf: ``topics.forecast``)."""

    horizon_days: int = 14         # days forecast after the origin
    history_days: int = 182        # days of history a forecast is fitted on (at most)
    min_history_days: int = 28     # a series is forecast once the lake holds this many days up to the origin
    backtest_windows: int = 3      # rolling origins of the backtest
    backtest_step_days: int = 7    # days between them
    profile_weeks: int = 8         # weeks of the service's volume the weekday profile is estimated from
    risk_days: int = 7             # the health check's look-ahead: the forecast's first days ...
    risk_ratio: float = 1.5        # ... whose volume is at least this multiple of the last 7 days
    risk_min_conversations: int = 10  # ... and at least this many conversations, are a forecasted risk

    @classmethod
    def from_config(cls, values: dict | None) -> ForecastParams:
        params = params_from_mapping(cls, values, "topics.forecast")
        if params.horizon_days < 1 or params.risk_days < 1 or params.risk_days > params.horizon_days:
            raise ConfigError("topics.forecast: horizon_days >= 1 and 1 <= risk_days <= horizon_days")
        if params.min_history_days < SEASON:  # a weekday profile needs two weeks; a forecast at least one
            raise ConfigError(f"topics.forecast.min_history_days must be at least {SEASON}")
        if params.history_days < params.min_history_days:
            raise ConfigError("topics.forecast.history_days must be at least min_history_days")
        if params.backtest_windows < 0 or params.backtest_step_days < 1:
            raise ConfigError("topics.forecast: backtest_windows >= 0 and backtest_step_days >= 1")
        return params


@dataclass(frozen=True)
class Forecast:
    mean: np.ndarray
    low: dict[int, np.ndarray]   # level -> lower bound
    high: dict[int, np.ndarray]  # level -> upper bound
    model: str


def _ets(y: np.ndarray, horizon: int) -> Forecast:
    """AutoETS (additive error; no, additive or damped trend; no season) on ``y``."""
    from statsforecast.models import AutoETS

    if np.ptp(y) == 0:  # a constant series (often all zeros): the constant, no spread
        flat = np.full(horizon, float(y[-1]))
        return Forecast(flat, dict.fromkeys(LEVELS, flat), dict.fromkeys(LEVELS, flat), "constant")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AutoETS(season_length=1, model="AZN").fit(y.astype(float))
        out = model.predict(h=horizon, level=list(LEVELS))
    name = str(model.model_.get("method", "ETS"))
    return Forecast(np.asarray(out["mean"]), {lv: np.asarray(out[f"lo-{lv}"]) for lv in LEVELS},
                    {lv: np.asarray(out[f"hi-{lv}"]) for lv in LEVELS}, name)


def weekday_profile(service: np.ndarray, weekdays: np.ndarray, weeks: int) -> np.ndarray:
    """Each weekday's mean service volume over the last ``weeks`` weeks against the mean of
    those days (7 factors averaging 1; all 1 without volume or with under two weeks)."""
    days = min(len(service), weeks * SEASON)
    recent, recent_days = service[-days:].astype(float), weekdays[-days:]
    if days < 2 * SEASON or recent.sum() <= 0:
        return np.ones(SEASON)
    means = np.array([recent[recent_days == w].mean() if (recent_days == w).any() else np.nan
                      for w in range(SEASON)])
    means = np.where(np.isnan(means) | (means <= 0), np.nanmean(means[means > 0]), means)
    return means / means.mean()


def forecast_volume(counts: np.ndarray, service: np.ndarray, weekdays: np.ndarray, target_weekdays: np.ndarray,
                    params: ForecastParams) -> Forecast:
    """Conversations of the next days: ETS on the series without the service's weekday
    profile, the profile put back on the target days."""
    profile = weekday_profile(service, weekdays, params.profile_weeks)
    fit = _ets(counts / profile[weekdays], len(target_weekdays))
    factor = profile[target_weekdays]

    def scale(values: np.ndarray) -> np.ndarray:
        return np.maximum(values * factor, 0.0)

    return Forecast(scale(fit.mean), {lv: scale(v) for lv, v in fit.low.items()},
                    {lv: scale(v) for lv, v in fit.high.items()}, fit.model)


def daily_share(negative: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """Negative share per day; a day without scored messages carries the previous day's (the
    first days: the series' overall share)."""
    overall = negative.sum() / scored.sum() if scored.sum() > 0 else 0.0
    share = pd.Series(np.where(scored > 0, negative / np.maximum(scored, 1), np.nan))
    return share.ffill().fillna(overall).to_numpy()


def forecast_share(negative: np.ndarray, scored: np.ndarray, horizon: int) -> Forecast:
    fit = _ets(daily_share(negative, scored), horizon)

    def clip(values: np.ndarray) -> np.ndarray:
        return np.clip(values, 0.0, 1.0)

    return Forecast(clip(fit.mean), {lv: clip(v) for lv, v in fit.low.items()},
                    {lv: clip(v) for lv, v in fit.high.items()}, fit.model)


@dataclass(frozen=True)
class Backtest:
    mase: float
    naive_mase: float
    coverage: dict[int, float]
    points: int


def _seasonal_scale(y: np.ndarray) -> float:
    """In-sample MAE of the same-weekday-last-week forecast (MASE's denominator)."""
    return float(np.mean(np.abs(y[SEASON:] - y[:-SEASON]))) if len(y) > SEASON else float("nan")


def backtest(y: np.ndarray, actual_ok: np.ndarray, predict: Callable[[int, int], Forecast],
             params: ForecastParams) -> Backtest:
    """Rolling-origin backtest: ``predict(end, horizon)`` forecasts from the first ``end``
    days; scored against ``y`` where ``actual_ok``."""
    h, n = params.horizon_days, len(y)
    errors, naive_errors, hits, points = [], [], dict.fromkeys(LEVELS, 0), 0
    for k in range(params.backtest_windows):
        end = n - h - k * params.backtest_step_days
        if end < params.min_history_days:
            break
        train, test, ok = y[:end], y[end:end + h], actual_ok[end:end + h]
        scale = _seasonal_scale(train)
        if not ok.any() or not scale > 0:
            continue
        fit = predict(end, h)
        naive = np.resize(train[-SEASON:], h)
        errors.append(np.mean(np.abs(test - fit.mean)[ok]) / scale)
        naive_errors.append(np.mean(np.abs(test - naive)[ok]) / scale)
        for lv in LEVELS:
            hits[lv] += int(((test >= fit.low[lv] - 1e-9) & (test <= fit.high[lv] + 1e-9))[ok].sum())
        points += int(ok.sum())
    if not points:
        return Backtest(float("nan"), float("nan"), dict.fromkeys(LEVELS, float("nan")), 0)
    return Backtest(float(np.mean(errors)), float(np.mean(naive_errors)),
                    {lv: hits[lv] / points for lv in LEVELS}, points)


def series_forecast(series: pd.DataFrame, params: ForecastParams, origin: date) -> pd.DataFrame:
    """gold.topic_forecast rows of one series: ``series`` holds one topic's days up to
    ``origin`` (topic_series columns, days without messages at 0). Fewer than
    ``params.min_history_days`` days: no rows."""
    frame = series.assign(date=pd.to_datetime(series["date"]).dt.date)
    frame = frame[frame["date"] <= origin].sort_values("date").tail(params.history_days)
    if len(frame) < params.min_history_days:
        return pd.DataFrame(columns=list(FORECAST_COLUMNS))
    h = params.horizon_days
    weekdays = np.array([d.weekday() for d in frame["date"]])
    targets = [origin + timedelta(days=i) for i in range(1, h + 1)]
    target_weekdays = np.array([d.weekday() for d in targets])
    counts = frame["conversations"].to_numpy(dtype=float)
    service = frame["service_conversations"].to_numpy(dtype=float)
    scored = frame["scored"].to_numpy(dtype=float)
    negative = frame["negative"].to_numpy(dtype=float)

    def volume(end: int, horizon: int) -> Forecast:
        ahead = weekdays[end:end + horizon] if end < len(counts) else target_weekdays
        return forecast_volume(counts[:end], service[:end], weekdays[:end], ahead, params)

    def share(end: int, horizon: int) -> Forecast:
        return forecast_share(negative[:end], scored[:end], horizon)

    week_scored = scored[-SEASON:].sum()
    plans = {"volume": (volume, counts, np.ones(len(counts), dtype=bool), counts[-SEASON:].mean()),
             "negative_share": (share, daily_share(negative, scored), scored > 0,
                                negative[-SEASON:].sum() / week_scored if week_scored else np.nan)}
    rows = []
    for metric in FORECAST_METRICS:
        predict, y, ok, last_week = plans[metric]
        fit = predict(len(y), h)
        tested = backtest(y, ok, predict, params)
        for i, target in enumerate(targets):
            rows.append((origin, int(frame["topic_id"].iloc[0]), str(frame["topic_label"].iloc[-1]), metric, target,
                         i + 1, float(fit.mean[i]), float(fit.low[80][i]), float(fit.high[80][i]),
                         float(fit.low[95][i]), float(fit.high[95][i]), float(last_week), len(frame), fit.model,
                         tested.mase, tested.naive_mase, tested.coverage[80], tested.coverage[95], tested.points))
    return pd.DataFrame(rows, columns=list(FORECAST_COLUMNS))


# -- Spark ----------------------------------------------------------------------------------

def forecast_series(daily: DataFrame, start: date, origin: date) -> DataFrame:
    """Each topic's daily series from ``start`` to ``origin`` (`topic_series`) and the whole
    service's, as topic ``SERVICE_TOPIC_ID``."""
    topics = topic_series(daily, start, origin)
    service = topics.groupBy("date").agg(
        F.lit(SERVICE_TOPIC_ID).alias("topic_id"), F.lit(SERVICE_TOPIC_LABEL).alias("topic_label"),
        F.sum("conversations").alias("conversations"), F.sum("scored").alias("scored"),
        F.sum("negative").alias("negative"), F.first("service_conversations").alias("service_conversations"))
    return topics.unionByName(service)


def build_topic_forecast(daily: DataFrame, origin: date, params: ForecastParams, lake_start: date) -> DataFrame:
    """gold.topic_forecast from ``origin``: every topic's and the service's next
    ``horizon_days``, from gold.topic_daily rows of the ``history_days`` up to ``origin``."""
    start = max(lake_start, origin - timedelta(days=params.history_days - 1))

    def apply(pdf: pd.DataFrame) -> pd.DataFrame:
        return series_forecast(pdf, params, origin)

    return forecast_series(daily, start, origin).groupBy("topic_id").applyInPandas(apply, FORECAST_SCHEMA)


def forecast_risks(forecast: DataFrame, params: ForecastParams) -> DataFrame:
    """Topics whose forecast volume over the next ``risk_days`` is at least ``risk_ratio``
    times their last 7 days' (scaled to as many days) and at least ``risk_min_conversations``:
    ``date, topic_id, topic_label, expected, expected_low, recent, ratio`` (the forecast's
    sum, the sum of its 80% lower bounds, the last 7 days' mean times ``risk_days``)."""
    ahead = (forecast.where((F.col("metric") == "volume") & (F.col("topic_id") != SERVICE_TOPIC_ID)
                            & (F.col("horizon") <= params.risk_days))
             .groupBy("date", "topic_id", "topic_label")
             .agg(F.sum("forecast").alias("expected"), F.sum("lo_80").alias("expected_low"),
                  (F.first("last_7_days") * params.risk_days).alias("recent")))
    ratio = F.try_divide(F.col("expected"), F.col("recent"))
    return (ahead.withColumn("ratio", ratio)
            .where((F.col("expected") >= params.risk_min_conversations)
                   & (F.coalesce(F.col("ratio"), F.lit(float("inf"))) >= params.risk_ratio)))
