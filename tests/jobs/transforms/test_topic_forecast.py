"""gold.topic_forecast's method on seeded series (no Spark): the weekday profile is kept, the
backtest beats the seasonal-naive forecast with intervals that cover about as often as they
say, a growing topic is forecast to keep growing, shares stay shares, and a series too short
to say anything gets no rows. The planted history's figures are in test_topic_trends.py."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from voicelake.config import ConfigError
from voicelake.jobs.transforms.topic_forecast import (
    FORECAST_COLUMNS,
    ForecastParams,
    series_forecast,
    weekday_profile,
)

START = date(2026, 1, 5)  # a Monday
PARAMS = ForecastParams()


def _series(counts: np.ndarray, negative: np.ndarray | None = None, service: np.ndarray | None = None,
            topic_id: int = 1) -> pd.DataFrame:
    n = len(counts)
    return pd.DataFrame({
        "date": [START + timedelta(days=i) for i in range(n)], "topic_id": topic_id, "topic_label": "billing error",
        "conversations": counts, "scored": counts, "negative": counts * 0 if negative is None else negative,
        "service_conversations": counts if service is None else service})


def _profile(days: int, weekend: float = 0.3) -> np.ndarray:
    return np.array([1.0 if (START + timedelta(days=i)).weekday() < 5 else weekend for i in range(days)])


def _origin(days: int) -> date:
    return START + timedelta(days=days - 1)


def test_the_weekday_profile_comes_from_the_service_and_averages_one() -> None:
    weekdays = np.array([(START + timedelta(days=i)).weekday() for i in range(56)])
    profile = weekday_profile(1000 * _profile(56), weekdays, weeks=8)
    assert profile.mean() == pytest.approx(1.0)
    assert profile[5] == pytest.approx(profile[6]) and profile[0] == pytest.approx(profile[4])
    assert profile[5] / profile[0] == pytest.approx(0.3)
    assert np.all(weekday_profile(np.zeros(56), weekdays, weeks=8) == 1.0)  # no volume: no profile


def test_a_seasonal_series_is_forecast_by_weekday_and_beats_the_seasonal_naive_forecast() -> None:
    rng = np.random.default_rng(7)
    days = 112
    service = rng.poisson(800 * _profile(days))
    rows = []
    for topic in range(12):
        counts = rng.poisson(rng.uniform(4, 40) * _profile(days))
        rows.append(series_forecast(_series(counts, rng.binomial(counts, 0.3), service, topic), PARAMS,
                                    _origin(days)))
    forecast = pd.concat(rows)
    volume = forecast[forecast["metric"] == "volume"]
    assert set(volume["horizon"]) == set(range(1, PARAMS.horizon_days + 1))
    weekend = pd.to_datetime(volume["target_date"]).dt.weekday >= 5
    ratio = volume[weekend].groupby("topic_id")["forecast"].mean() / volume[~weekend].groupby("topic_id")[
        "forecast"].mean()
    assert ratio.between(0.2, 0.45).all(), ratio  # the service's weekend is 0.3 of a weekday
    per_series = forecast[forecast["horizon"] == 1]
    for metric, group in per_series.groupby("metric"):
        points = group["backtest_points"].sum()
        coverage_80 = (group["backtest_coverage_80"] * group["backtest_points"]).sum() / points
        coverage_95 = (group["backtest_coverage_95"] * group["backtest_points"]).sum() / points
        assert group["backtest_mase"].mean() < group["backtest_naive_mase"].mean(), (metric, group)
        assert 0.70 <= coverage_80 <= 0.90 and 0.88 <= coverage_95 <= 1.0, (metric, coverage_80, coverage_95)
    assert (per_series["backtest_points"] > 0).all()


def test_a_growing_topic_is_forecast_to_keep_growing() -> None:
    counts = np.zeros(60, dtype=int)
    counts[52:] = [1, 2, 3, 4, 6, 8, 10, 13]  # doubling about every three days, a week in
    forecast = series_forecast(_series(counts, service=np.full(60, 500)), PARAMS, _origin(60))
    volume = forecast[forecast["metric"] == "volume"].sort_values("horizon")
    assert volume["forecast"].iloc[6] > volume["forecast"].iloc[0] > counts[-3:].mean()
    assert volume["forecast"].iloc[:7].sum() > 2 * counts[-7:].sum()
    assert "A,A" in volume["model"].iloc[0] or "A,Ad" in volume["model"].iloc[0]  # a trend was chosen


def test_shares_stay_shares_and_intervals_nest() -> None:
    rng = np.random.default_rng(2)
    counts = rng.poisson(3 * _profile(70))
    negative = rng.binomial(counts, 0.9)  # near the top of the range: the interval is clipped at 1
    forecast = series_forecast(_series(counts, negative), PARAMS, _origin(70))
    share = forecast[forecast["metric"] == "negative_share"]
    assert share["hi_95"].max() <= 1.0 and share["lo_95"].min() >= 0.0
    assert share["forecast"].between(0.7, 1.0).all()
    for low, high in (("lo_95", "lo_80"), ("lo_80", "forecast"), ("forecast", "hi_80"), ("hi_80", "hi_95")):
        assert (forecast[low] <= forecast[high] + 1e-9).all(), (low, high)
    assert (forecast["lo_95"] >= 0).all()  # a volume below zero is clipped too


def test_a_series_too_short_or_empty_says_so() -> None:
    short = series_forecast(_series(np.ones(PARAMS.min_history_days - 1, dtype=int)), PARAMS,
                            _origin(PARAMS.min_history_days - 1))
    assert short.empty and list(short.columns) == list(FORECAST_COLUMNS)
    silent = series_forecast(_series(np.zeros(60, dtype=int), service=np.full(60, 100)), PARAMS, _origin(60))
    volume = silent[silent["metric"] == "volume"]
    assert (volume[["forecast", "lo_95", "hi_95"]] == 0).all().all() and set(volume["model"]) == {"constant"}
    assert volume["backtest_mase"].isna().all()  # nothing to scale an error by: no figure, not a zero


def test_forecast_settings_are_checked() -> None:
    assert ForecastParams.from_config({"horizon_days": "7", "risk_days": 7}).horizon_days == 7
    with pytest.raises(ConfigError, match="risk_days"):
        ForecastParams.from_config({"horizon_days": 7, "risk_days": 8})
    with pytest.raises(ConfigError, match="min_history_days"):
        ForecastParams.from_config({"min_history_days": 6})
    with pytest.raises(ConfigError, match="unknown keys"):
        ForecastParams.from_config({"horizon": 7})
