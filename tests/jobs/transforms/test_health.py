"""gold.health_check from inline marts: a quiet day says ok, a day with a complaint rise, an
incident, an unexplained spike, a release that hurt, a high alert and a topic forecast to grow
names each reason; a
mart that is not built leaves its columns empty."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from pyspark.sql import SparkSession

from voicelake.config import ConfigError
from voicelake.jobs.transforms.health import HealthParams, build_health_check
from voicelake.jobs.transforms.topic_forecast import ForecastParams, forecast_risks

START = date(2026, 3, 2)  # a Monday
BAD = START + timedelta(days=8)


def test_health_params_reject_unknown_keys() -> None:
    with pytest.raises(ConfigError, match="voc.health"):
        HealthParams.from_config({"baseline": 3})


def test_a_quiet_day_is_ok_and_a_bad_day_names_every_reason(spark: SparkSession) -> None:
    daily = spark.createDataFrame(
        [(START + timedelta(days=i), 200, 120 if START + timedelta(days=i) == BAD else 40) for i in range(10)],
        "date date, customer_messages long, negative_messages long")
    alerts = spark.createDataFrame(
        [(BAD, "wifi drops", "volume", "spike", 9.0, "high"), (BAD, "billing", "volume", "spike", 4.0, "medium"),
         (BAD - timedelta(days=1), "billing", "negative_share", "sustained_rise", 3.0, "low")],
        "date date, topic_label string, metric string, kind string, statistic double, severity string")
    incidents = spark.createDataFrame(
        [(BAD, "INC-1", datetime(2026, 3, 10, 9), True), (BAD, "INC-2", datetime(2026, 3, 10, 11), False)],
        "date date, incident_id string, started_at timestamp, customer_impact boolean")
    spikes = spark.createDataFrame(
        [(BAD, "unexplained_spike", "Pulse", datetime(2026, 3, 10, 13)),
         (BAD, "unnoticed_incident", "Atlas", datetime(2026, 3, 10, 3))],
        "date date, kind string, product string, started_at timestamp")
    releases = spark.createDataFrame(
        [("R-1", datetime(2026, 3, 9, 10), datetime(2026, 3, 23, 10), True),
         ("R-2", datetime(2026, 3, 9, 10), datetime(2026, 3, 23, 10), False)],
        "release_id string, released_at timestamp, window_end timestamp, hurt boolean")
    gaps = spark.createDataFrame(
        [(START + timedelta(days=7), "segment", 1, "billing", "chat", "Atlas", "12-18"),
         (START + timedelta(days=7), "segment", 5, "setup", "email", "Pulse", "00-06"),
         (START + timedelta(days=7), "queue", 1, "billing", "all", "all", "all")],
        "week date, level string, gap_rank int, queue string, channel string, product string, hour_band string")
    index = spark.createDataFrame(
        [(START + timedelta(days=7), "all", "Atlas", 12.5, 4.0, 20.0, 300, "ok"),
         (START, "all", "Atlas", 20.0, 11.0, 28.0, 280, "ok"),
         (START + timedelta(days=7), "chat", "Atlas", 10.0, 1.0, 19.0, 100, "ok")],
        "week date, channel string, product string, emotion_index double, emotion_index_low double, "
        "emotion_index_high double, active_customers long, status string")
    # forecast from BAD: login loop grows (5 a day after 2), billing stays, the service and a tiny topic don't count
    forecast = spark.createDataFrame(
        [(BAD, topic, label, "volume", h, value, value - 1.0, last) for topic, label, value, last in (
            (3, "login loop", 5.0, 2.0), (4, "billing", 10.0, 10.0), (-1, "(all topics)", 90.0, 40.0),
            (5, "tiny", 1.0, 0.1)) for h in range(1, 15)]
        + [(BAD, 3, "login loop", "negative_share", h, 0.9, 0.8, 0.2) for h in range(1, 15)],
        "date date, topic_id int, topic_label string, metric string, horizon int, forecast double, lo_80 double, "
        "last_7_days double")
    rows = {r["date"]: r for r in build_health_check(
        daily, [START + timedelta(days=i) for i in range(1, 10)], HealthParams(), emotion_index=index,
        topic_alerts=alerts, incident_impact=incidents, unexplained_spikes=spikes, release_impact=releases,
        service_gaps=gaps, forecast_risks=forecast_risks(forecast, ForecastParams())).collect()}
    assert sorted(rows) == [START + timedelta(days=i) for i in range(1, 10)]  # the run's dates only
    early = rows[START + timedelta(days=1)]
    assert early["baseline_days"] == 1 and early["baseline_negative_share"] is None and early["status"] == "ok"
    calm = rows[START + timedelta(days=5)]
    assert calm["baseline_negative_share"] == pytest.approx(0.2) and calm["negative_share_change"] == 0
    assert calm["status"] == "ok" and calm["attention"] == []
    assert [p["change"] for p in calm["emotion_index_by_product"]] == [None]  # the first week: no change
    bad = rows[BAD]
    assert bad["negative_share"] == pytest.approx(0.6) and bad["baseline_negative_share"] == pytest.approx(0.2)
    assert bad["negative_rise"] and bad["status"] == "attention"
    assert bad["attention"] == ["negative share rose", "incident with customer impact",
                                "complaint spike no incident explains", "a release hurt", "high topic alert",
                                "a topic is forecast to grow"]
    assert bad["forecast_risks"] == ["login loop: 35 expected in the next days (14 at the last 7 days' rate)"]
    assert (bad["new_alerts"], bad["high_alerts"]) == (2, 1)
    assert bad["top_alerts"] == ["spike high: wifi drops (volume)", "spike medium: billing (volume)"]
    assert bad["incidents_with_impact"] == ["INC-1"] and bad["unexplained_spikes"] == ["Pulse 13:00"]
    assert bad["releases_hurt"] == ["R-1"] and bad["top_gaps"] == ["billing / chat / Atlas / 12-18"]
    assert [(p["product"], p["emotion_index"], p["change"]) for p in bad["emotion_index_by_product"]] == [
        ("Atlas", 12.5, -7.5)]  # against the week before
    # the day after the release: hurt too, and nothing else
    assert rows[BAD - timedelta(days=1)]["attention"] == ["a release hurt"]
    assert rows[BAD - timedelta(days=1)]["forecast_risks"] == []  # forecast from BAD only
    assert rows[BAD - timedelta(days=1)]["top_alerts"] == ["sustained_rise low: billing (negative_share)"]

    alone = build_health_check(daily, [BAD], HealthParams()).first()
    assert alone is not None and alone["attention"] == ["negative share rose"]
    assert alone["incidents_with_impact"] == [] and alone["new_alerts"] == 0 and alone["top_gaps"] == []
    assert alone["forecast_risks"] == []
