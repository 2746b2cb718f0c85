"""gold.release_impact: the statistics on their own, simulated contact histories with a known
effect (and none), and the planted bad release of a generated history (tests/jobs/transforms/
test_incidents.py shares its 70-day history)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from voicelake.config import ConfigError
from voicelake.jobs.transforms.releases import (
    ReleaseParams,
    _mh_rate_ratio,
    _mh_risk_difference,
    build_release_impact,
    topic_log_odds,
)

HISTORY_START = datetime(2026, 1, 1)
RELEASE_SCHEMA = "release_id string, product string, version string, released_at timestamp, notes string"
OPENING_SCHEMA = ("conversation_id string, message_id string, product string, product_version string, "
                  "customer_key string, channel string, opened_at timestamp, negative boolean, topic_label string")


def test_release_params_reject_unknown_keys_and_bad_values() -> None:
    assert ReleaseParams.from_config({"window_days": 7}).window_days == 7
    with pytest.raises(ConfigError, match="incidents.releases"):
        ReleaseParams.from_config({"window": 7})
    with pytest.raises(ConfigError, match="bootstrap"):
        ReleaseParams.from_config({"bootstrap": 10})
    with pytest.raises(ConfigError, match="alpha"):
        ReleaseParams.from_config({"alpha": 1.5})


def test_mantel_haenszel_estimates_match_the_plain_ones_in_one_stratum_and_adjust_across_days() -> None:
    # one day: the plain rate ratio (6 / 2) / (3 / 3) and risk difference 4/10 - 1/10
    assert _mh_rate_ratio(np.array([6.0]), np.array([2.0]), np.array([3.0]), np.array([3.0])) == pytest.approx(3.0)
    assert _mh_risk_difference(np.array([4.0]), np.array([10.0]), np.array([1.0]), np.array([10.0])) \
        == pytest.approx(0.3)
    # a busy day where the new cohort holds most exposure: the pooled ratio says 2.6, per day it is 1
    n_new, e_new = np.array([1.0, 50.0]), np.array([1.0, 10.0])
    n_old, e_old = np.array([10.0, 5.0]), np.array([10.0, 1.0])
    assert (n_new.sum() / e_new.sum()) / (n_old.sum() / e_old.sum()) > 2.5
    assert _mh_rate_ratio(n_new, e_new, n_old, e_old) == pytest.approx(1.0)


def test_topic_log_odds_ranks_the_topic_that_grew_first() -> None:
    old = pd.Series(["billing"] * 40 + ["wifi"] * 5 + ["setup"] * 30)
    new = pd.Series(["billing"] * 40 + ["wifi"] * 40 + ["setup"] * 30)
    moved = topic_log_odds(new, old, prior=20.0)
    assert moved.iloc[0]["topic"] == "wifi" and moved.iloc[0]["z"] > 4
    assert (moved.set_index("topic").loc[["billing", "setup"], "z"] < 0).all()
    same = topic_log_odds(old, old, prior=20.0)
    assert np.allclose(same["z"], 0.0)


def _simulated_contacts(rng: np.random.Generator, product: str, released_at: datetime, customers: int,
                        rate_old: float, rate_new: float, negative_old: float, negative_new: float,
                        new_topic: str | None, versions: tuple[str, str] = ("1.0", "2.0")) -> list[tuple]:
    """Customers of ``product`` writing as Poisson processes over the 14 days after a release,
    each upgrading at a uniform time: ``rate_*`` contacts per day, ``negative_*`` the share
    that opens negative; upgraded customers write about ``new_topic`` half the time."""
    rows: list[tuple] = []
    for c in range(customers):
        upgrade = rng.uniform(0, 14)
        for start, stop, rate, new in ((0.0, upgrade, rate_old, False), (upgrade, 14.0, rate_new, True)):
            for t in rng.uniform(start, stop, rng.poisson(rate * (stop - start))):
                topic = new_topic if new and new_topic and rng.random() < 0.5 else str(rng.choice(["billing", "setup"]))
                n = f"{product}-{released_at:%m%d}-{len(rows)}"
                rows.append((n, n, product, versions[new], f"{product}-c{c}", "chat",
                             released_at + timedelta(days=float(t)),
                             bool(rng.random() < (negative_new if new else negative_old)), topic))
    return rows


def test_release_impact_finds_a_planted_effect_and_none_where_there_is_none(spark: SparkSession) -> None:
    rng = np.random.default_rng(3)
    dock_calm_at, hurt_at, calm_at = datetime(2026, 1, 12, 10), datetime(2026, 2, 2, 10), datetime(2026, 2, 9, 10)
    openings = (_simulated_contacts(rng, "Router", hurt_at, 600, 0.15, 0.45, 0.2, 0.5, "wifi_drops")
                + _simulated_contacts(rng, "App", calm_at, 600, 0.15, 0.15, 0.2, 0.2, None)
                + _simulated_contacts(rng, "Hub", calm_at, 8, 0.15, 0.15, 0.2, 0.2, None)
                # Dock: a calm release, then one that triples contacts: its difference-in-differences
                + _simulated_contacts(rng, "Dock", dock_calm_at, 600, 0.15, 0.15, 0.2, 0.2, None, ("0.9", "1.0"))
                + _simulated_contacts(rng, "Dock", hurt_at, 600, 0.15, 0.45, 0.2, 0.2, None))
    # a contact naming no version, or one never released, belongs to neither cohort
    openings += [("x1", "x1", "App", None, "App-c0", "chat", calm_at + timedelta(days=1), True, "setup"),
                 ("x2", "x2", "App", "9.9", "App-c0", "chat", calm_at + timedelta(days=1), True, "setup")]
    releases = [("R-ROU-1.0", "Router", "1.0", datetime(2025, 9, 1), "first"),
                ("R-ROU-2.0", "Router", "2.0", hurt_at, "the bad one"),
                ("R-APP-1.0", "App", "1.0", datetime(2025, 9, 1), None),
                ("R-APP-2.0", "App", "2.0", calm_at, None),
                ("R-HUB-1.0", "Hub", "1.0", datetime(2025, 9, 1), None),
                ("R-HUB-2.0", "Hub", "2.0", calm_at, None),
                ("R-DOC-0.9", "Dock", "0.9", datetime(2025, 9, 1), None),
                ("R-DOC-1.0", "Dock", "1.0", dock_calm_at, None),
                ("R-DOC-2.0", "Dock", "2.0", hurt_at, None)]
    as_of = datetime(2026, 2, 20)  # App's and Hub's windows are still open
    rows = build_release_impact(spark.createDataFrame(releases, RELEASE_SCHEMA),
                                spark.createDataFrame(openings, OPENING_SCHEMA),
                                ReleaseParams(bootstrap=400), HISTORY_START, as_of).toPandas().set_index("release_id")
    assert len(rows) == 9
    assert set(rows.loc[["R-ROU-1.0", "R-APP-1.0", "R-HUB-1.0", "R-DOC-0.9"], "status"]) == {"before_history"}

    hurt = rows.loc["R-ROU-2.0"]
    assert hurt["status"] == "hurt" and hurt["hurt"] and hurt["window_complete"]
    assert hurt["previous_release_id"] == "R-ROU-1.0" and pd.isna(hurt["did_contact_rate_ratio"])
    # the planted ratio 3 and difference 0.3 lie inside the intervals, which exclude no change
    assert 1 < hurt["contact_rate_ratio_low"] <= 3 <= hurt["contact_rate_ratio_high"]
    assert 0 < hurt["negative_share_diff_low"] <= 0.3 <= hurt["negative_share_diff_high"]
    assert hurt["q_value"] < 0.05 and hurt["top_topics"][0] == "wifi_drops"

    calm = rows.loc["R-APP-2.0"]
    assert calm["status"] == "no_change" and not calm["window_complete"]
    # nothing changed: the revealing contacts left out, both intervals hold no change
    assert calm["contact_rate_ratio_low"] <= 1 <= calm["contact_rate_ratio_high"]
    assert calm["negative_share_diff_low"] <= 0 <= calm["negative_share_diff_high"]
    assert calm["contacts_new"] + calm["contacts_old"] == sum(
        1 for o in openings if o[2] == "App" and o[3] in ("1.0", "2.0") and o[6] < as_of)
    assert rows.loc["R-HUB-2.0", "status"] == "too_few_customers" and pd.isna(rows.loc["R-HUB-2.0", "q_value"])

    # Dock 2.0 against Dock 1.0 at the same age: contacts tripled, complaints did not move
    dock = rows.loc["R-DOC-2.0"]
    assert rows.loc["R-DOC-1.0", "status"] == "no_change" and dock["status"] == "hurt"
    assert dock["previous_release_id"] == "R-DOC-1.0"
    assert 1 < dock["did_contact_rate_ratio_low"] <= 3 <= dock["did_contact_rate_ratio_high"]
    assert dock["did_negative_share_diff_low"] <= 0 <= dock["did_negative_share_diff_high"]


def test_a_dated_run_rebuilds_the_releases_whose_window_holds_its_dates() -> None:
    from datetime import date

    from voicelake.jobs.incident_marts import release_dates

    assert release_dates(None, ReleaseParams()) is None
    rebuilt = release_dates([date(2026, 3, 15), date(2026, 3, 16)], ReleaseParams(window_days=14))
    assert rebuilt is not None and rebuilt[0] == date(2026, 3, 1) and rebuilt[-1] == date(2026, 3, 16)
    assert len(rebuilt) == 16
