"""gold.incident_impact and gold.unexplained_spikes: the statistics on their own, inline
complaint histories with a known rise, and the planted truth of a generated history (the
SEV1 matched with its lead time, decoys not flagged, the dark outage unexplained, the silent
incident unnoticed), and gold.release_impact on that history (its bad release flagged)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import DataFrame, SparkSession

from voicelake.config import ConfigError
from voicelake.generator import GeneratorSettings, generate_history
from voicelake.generator.history import TRUTH_DIR
from voicelake.generator.judge import (
    incident_detection,
    landed_incidents,
    landed_releases,
    planted_openings,
    release_detection,
)
from voicelake.jobs.transforms.incidents import (
    IncidentParams,
    bh_qvalues,
    build_incident_impact,
    build_unexplained_spikes,
    change_point,
    rate_ratio_test,
    silver_incidents,
)
from voicelake.jobs.transforms.releases import ReleaseParams, build_release_impact

START = date(2026, 1, 1)
PARAMS = IncidentParams()
OPENING_SCHEMA = ("conversation_id string, message_id string, product string, customer_key string, "
                  "channel string, opened_at timestamp, negative boolean, topic_label string")
INCIDENT_SCHEMA = "incident_id string, product string, severity string, started_at timestamp, " \
                  "ended_at timestamp, title string"


def test_the_rate_ratio_test_bh_and_the_change_point() -> None:
    p, low, high = rate_ratio_test(np.array([30, 4, 0]), np.array([20, 16, 8]), np.array([4.0, 4.0, 4.0]))
    assert p[0] < 1e-6 < 0.3 < p[1] and p[2] == 1.0
    assert low[0] > 3 and high[0] > 6 > low[0]  # 30 against 5 per window: the ratio 6 lies inside
    assert low[1] < 1 < high[1]
    q = bh_qvalues(np.array([0.01, 0.04, 0.03, 0.5]))
    assert np.allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.5])  # p * n / rank, then the running minimum from the top
    background = [10.0, 70.0]  # two events at the background rate, then a burst from minute 100
    burst = [100 + 5 * i for i in range(20)]
    assert change_point(background + burst, 200, 0.01) == 100
    assert change_point([5.0, 50.0], 200, 0.01) is None


def test_incident_params_reject_unknown_keys_and_bad_windows() -> None:
    assert IncidentParams.from_config({"min_lift": "3"}).min_lift == 3.0
    with pytest.raises(ConfigError, match="unknown keys"):
        IncidentParams.from_config({"lift": 3})
    with pytest.raises(ConfigError, match="divide a day"):
        IncidentParams.from_config({"spike_bin_minutes": 50})


def _history(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    """Products P and Q: a complaint and a calm contact every hour 9-16 of 45 days. P's
    incident A (day 42, declared 10:00-12:00) has 20 more complaints from 09:30 to 12:00;
    incident B (P, day 43) and C (day 3, before any baseline) change nothing; Q has 15 more
    complaints at 15:00-16:00 of day 44 and no incident."""
    rows = []

    def add(product: str, at: datetime, negative: bool, topic: str) -> None:
        n = len(rows)
        rows.append((f"c{n}", f"m{n}", product, f"k{n % 500}", "chat", at, negative, topic))

    for d in range(45):
        day = datetime.combine(START + timedelta(days=d), datetime.min.time())
        for product in ("P", "Q"):
            for h in range(9, 17):
                add(product, day + timedelta(hours=h), True, "billing")
                add(product, day + timedelta(hours=h, minutes=20), False, "billing")
    a = datetime.combine(START + timedelta(days=42), datetime.min.time())
    for i in range(20):
        add("P", a + timedelta(hours=9, minutes=30 + 7.5 * i), True, "outage")
    q = datetime.combine(START + timedelta(days=44), datetime.min.time())
    for i in range(15):
        add("Q", q + timedelta(hours=15, minutes=2 + 3 * i), True, "sync")
    b = datetime.combine(START + timedelta(days=43), datetime.min.time())
    c = datetime.combine(START + timedelta(days=3), datetime.min.time())
    incidents = spark.createDataFrame([
        ("A", "P", "SEV1", a + timedelta(hours=10), a + timedelta(hours=12), "P down"),
        ("B", "P", "SEV3", b + timedelta(hours=14), b + timedelta(hours=14, minutes=30), "P slow"),
        ("C", "P", "SEV2", c + timedelta(hours=11), None, "P early")], INCIDENT_SCHEMA)
    return spark.createDataFrame(rows, OPENING_SCHEMA), incidents


def test_incident_impact_and_unexplained_spikes_on_a_known_history(spark: SparkSession) -> None:
    openings, incidents = _history(spark)
    impact = build_incident_impact(incidents, openings, PARAMS, START).cache()
    rows = {r["incident_id"]: r for r in impact.collect()}
    a, b, c = rows["A"], rows["B"], rows["C"]
    # A: window 08:00-18:00 holds 8 background complaints a week; 4 weeks, equal levels
    assert (a["status"], a["customer_impact"], a["baseline_weeks"], a["complaints"]) == ("customer_impact", True, 4, 28)
    assert a["baseline_complaints"] == 32 and a["exposure"] == pytest.approx(4.0)
    assert a["expected_complaints"] == pytest.approx(32.5 / 4)
    assert a["lift"] == pytest.approx(28 / (32.5 / 4)) and a["lift_low"] < a["lift"] < a["lift_high"]
    assert a["lead_minutes"] == pytest.approx(30.0) and a["top_topics"][0] == "outage"
    assert a["q_value"] >= a["p_value"] and a["customers"] <= a["complaints"]
    assert a["negative_share"] == pytest.approx(28 / 36)
    assert (b["status"], b["customer_impact"], b["lead_minutes"]) == ("no_customer_signal", False, None)
    assert (c["status"], c["customer_impact"], c["lift"]) == ("no_baseline", None, None)

    spikes = build_unexplained_spikes(openings, incidents, impact, PARAMS, None, START).collect()
    unexplained = [r for r in spikes if r["kind"] == "unexplained_spike"]
    assert [(r["product"], r["started_at"].hour, r["ended_at"].hour, r["complaints"]) for r in unexplained] == [
        ("Q", 15, 16, 16)]  # A's burst lies in A's window; Q's has no incident
    assert unexplained[0]["top_topics"][0] == "sync" and unexplained[0]["lift"] > PARAMS.spike_min_lift
    assert sorted(r["incident_id"] for r in spikes if r["kind"] == "unnoticed_incident") == ["B"]
    # a dated run sees only its dates' spikes
    dated = build_unexplained_spikes(openings, incidents, impact.where("incident_id = 'B'"), PARAMS,
                                     [START + timedelta(days=43)], START).collect()
    assert [r["kind"] for r in dated] == ["unnoticed_incident"]


def test_silver_incidents_name_products_as_messages_do(spark: SparkSession) -> None:
    raw = spark.createDataFrame([("I1", "orbit-api", " sev1 ", datetime(2026, 1, 2, 9), datetime(2026, 1, 2, 10),
                                  "api down")], INCIDENT_SCHEMA)
    row = silver_incidents(raw, {"orbit-api": "Orbit Cloud"}).first()
    assert row is not None
    assert (row["product"], row["source_product"], row["severity"], row["duration_minutes"]) == (
        "Orbit Cloud", "orbit-api", "SEV1", 60.0)


@dataclass(frozen=True)
class PlantedHistory:
    root: Path
    openings: DataFrame  # what a perfect emotion and topic model give (cached)
    scenarios: dict


@pytest.fixture(scope="module")
def planted(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlantedHistory]:
    """70 days x 2,000 customers, generated once for the incident and release marts."""
    root = tmp_path_factory.mktemp("planted-incidents")
    generate_history(GeneratorSettings(days=70, customers=2000, seed=1, start=START, landing=root / "landing",
                                       answers=root / "answers.json", workers=2))
    openings = planted_openings(spark.read.json(str(root / TRUTH_DIR / "conversations.jsonl"))).cache()
    yield PlantedHistory(root, openings, json.loads((root / "answers.json").read_text())["scenarios"])
    openings.unpersist()


def test_planted_incidents_are_matched_and_the_dark_outage_is_unexplained(
        spark: SparkSession, planted: PlantedHistory) -> None:
    """What a perfect emotion model gives, through the Spark marts."""
    incidents = landed_incidents(spark, planted.root / "landing")
    impact = build_incident_impact(incidents, planted.openings, PARAMS, START).cache()
    spikes = build_unexplained_spikes(planted.openings, incidents, impact, PARAMS, None, START).toPandas()
    found = incident_detection(impact.toPandas(), spikes, planted.scenarios)
    assert found.sev1_impact and found.sev1_lift is not None and found.sev1_lift >= 3
    assert found.lead_error_minutes is not None and found.lead_error_minutes <= 30
    assert found.decoys > 3 and found.decoys_flagged == 0
    assert found.dark_outage_found and found.other_spikes == 0
    assert found.silent_unnoticed
    impact.unpersist()


def test_planted_bad_release_is_flagged_with_its_topic_first_and_no_decoy_is(
        spark: SparkSession, planted: PlantedHistory) -> None:
    """gold.release_impact on the same history (tests/jobs/transforms/test_releases.py has the
    statistics on simulated histories)."""
    history_start = datetime.combine(START, datetime.min.time())
    rows = build_release_impact(landed_releases(spark, planted.root / "landing"), planted.openings, ReleaseParams(),
                                history_start, history_start + timedelta(days=70)).toPandas()
    found = release_detection(rows, planted.scenarios)
    assert found.bad_status == "hurt" and found.bad_interval_excludes_zero
    low, high = found.bad_negative_diff[1], found.bad_negative_diff[2]
    assert low is not None and high is not None and 0 < low < high
    assert found.bad_topic_rank == 1
    assert found.decoys == 3 and found.decoys_flagged == 0
    # the first versions shipped before the history: nothing to compare them with
    assert set(rows.loc[rows["version"].isin(["3.1", "5.0", "2.0", "2026.1"]), "status"]) == {"before_history"}
