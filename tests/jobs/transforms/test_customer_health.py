"""gold.customer_health's customer-week features on a hand-made lake whose every figure is worked
out in the comments (contacts, repeats, unresolved conversations, emotion, surveys, the
cancellation label and its threat decoy), the proof that later events change no feature, the
mart's rows and the suite that gates them; and the churn model on a small synthetic history:
fitted, registered, promoted only when better, loaded back."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from voicelake.config import ConfigError
from voicelake.jobs.transforms.customer_health import build_customer_health, customer_week_features
from voicelake.jobs.transforms.voc import OutcomeParams
from voicelake.models.churn import ChurnParams, TooLittleHistory

W0 = date(2026, 3, 2)  # a Monday
W1, W2, W3 = (W0 + timedelta(weeks=k) for k in (1, 2, 3))
PARAMS = ChurnParams(horizon_weeks=2, recent_weeks=1, lookback_weeks=3)
OUTCOME = OutcomeParams()
DATA_END = datetime(2026, 3, 26)  # Thursday of W3


def at(week: date, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(week, datetime.min.time()) + timedelta(days=day, hours=hour, minutes=minute)


# (conversation, customer, channel, queue, opened, nps, csat)
CONVERSATIONS = [
    ("k1", "c1", "chat", "billing", at(W0, 1, 10), None, None),      # ends unhappy
    ("k2", "c1", "chat", "billing", at(W0, 3, 10), None, None),      # a repeat of k1 (same queue, 2 days later)
    ("s1", "c1", "survey", None, at(W1, 2, 12), 3, None),            # NPS 3
    ("k3", "c1", "ticket", "accounts", at(W2, 1, 10), None, None),   # the agent confirms the cancellation
    ("r1", "c2", "review", None, at(W0, 4, 9), None, None),
    ("s2", "c2", "survey", None, at(W0, 5, 12), None, 4.0),          # CSAT 4 -> 7.5
    ("k4", "c3", "chat", "technical", at(W1, 0, 9), None, None),     # threatens to cancel: no churn
]
# (message, conversation, role, sent, text, valence)
MESSAGES = [
    ("m1", "k1", "customer", at(W0, 1, 10), "my invoice is wrong", -0.6),
    ("a1", "k1", "agent", at(W0, 1, 10, 10), "Let me check that.", None),
    ("m2", "k1", "customer", at(W0, 1, 10, 30), "still wrong", -0.4),
    ("m3", "k2", "customer", at(W0, 3, 10), "thanks, it is fixed now", 0.5),
    ("m4", "k3", "customer", at(W2, 1, 10), "please cancel my subscription", -0.3),
    ("a2", "k3", "agent", at(W2, 1, 11), "I've cancelled your subscription as requested.", None),
    ("m5", "r1", "customer", at(W0, 4, 9), "love it", 0.8),
    ("m6", "k4", "customer", at(W1, 0, 9), "Still broken. I'm cancelling.", -0.8),
    ("a3", "k4", "agent", at(W1, 0, 9, 30), "Your ticket has been closed, sorry about that.", None),
]


def _lake(spark: SparkSession, conversations: list[tuple], messages: list[tuple]) -> tuple[DataFrame, ...]:
    owner = {c[0]: c[1] for c in conversations}
    conv = spark.createDataFrame(
        [(c, k, ch, q, "Atlas App", o, nps, csat) for c, k, ch, q, o, nps, csat in conversations],
        "conversation_id string, customer_key string, channel string, queue string, product string, "
        "opened_at timestamp, nps_score int, csat double")
    msgs = spark.createDataFrame(
        [(m, c, owner[c] if role == "customer" else None, role, sent, text) for m, c, role, sent, text, _ in messages],
        "message_id string, conversation_id string, customer_key string, author_role string, sent_at timestamp, "
        "text string")
    emotions = spark.createDataFrame([(m, v) for m, _, role, _, _, v in messages if role == "customer"],
                                     "message_id string, valence double")
    return conv, msgs, emotions


@pytest.fixture(scope="module")
def lake(spark: SparkSession) -> tuple[DataFrame, ...]:
    return _lake(spark, CONVERSATIONS, MESSAGES)


def _rows(frame: DataFrame) -> dict[tuple[str, date], dict]:
    return {(r["customer_key"], r["week"]): r.asDict() for r in frame.collect()}


def test_customer_weeks_their_features_and_the_label(lake: tuple[DataFrame, ...]) -> None:
    rows = _rows(customer_week_features(*lake, PARAMS, OUTCOME, DATA_END))
    # c1 cancelled on W2's Tuesday: no row from W2 on; c2 and c3 keep theirs for the 3-week lookback
    assert set(rows) == {("c1", W0), ("c1", W1), ("c2", W0), ("c2", W1), ("c2", W2),
                         ("c3", W1), ("c3", W2), ("c3", W3)}
    c1 = rows[("c1", W0)]
    # k1 and k2 in W0, k2 a repeat; k1 ends at -0.4 (unhappy); k2 opened Thursday 10:00, 3 d 14 h before W1
    assert (c1["contacts_recent"], c1["contacts_lookback"], c1["repeat_contacts_recent"], c1["unresolved_recent"]) \
        == (2.0, 2.0, 1.0, 1.0)
    assert c1["days_since_last_contact"] == pytest.approx(3 + 14 / 24)
    # three customer turns: -0.6, -0.4, 0.5; two below -0.2
    assert c1["customer_messages_recent"] == 3.0 and c1["mean_valence_recent"] == pytest.approx(-0.5 / 3)
    assert (c1["negative_share_recent"], c1["last_valence"], c1["valence_trend"]) == (pytest.approx(2 / 3), 0.5, 0.0)
    assert (c1["last_survey_score"], c1["weeks_since_survey"]) == (-1.0, -1.0)
    # the lookback is W0 alone: k1 opened at -0.6 (negative), k2 at 0.5
    assert (c1["mean_valence_lookback"], c1["min_valence_lookback"]) == (pytest.approx(-0.5 / 3), -0.6)
    assert (c1["opening_valence_lookback"], c1["negative_openings_lookback"]) == (pytest.approx(-0.05), 1.0)
    assert (c1["as_of"], c1["churned_within_horizon"]) == (at(W1, 0, 0), True)
    c1_w1 = rows[("c1", W1)]  # only the survey in W1: no recent contact, the W0 figures are the lookback's
    assert (c1_w1["contacts_recent"], c1_w1["contacts_lookback"], c1_w1["unresolved_recent"]) == (0.0, 2.0, 0.0)
    assert (c1_w1["last_survey_score"], c1_w1["weeks_since_survey"]) == (3.0, pytest.approx(4.5 / 7))
    # W1's window ends after the data: NULL, though c1 has cancelled (a label known early for
    # churners only would bias the latest weeks)
    assert (c1_w1["last_valence"], c1_w1["mean_valence_recent"], c1_w1["churned_within_horizon"]) == (0.5, 0.0, None)
    c2 = rows[("c2", W0)]  # a review and a CSAT answer: no support contact
    assert (c2["contacts_recent"], c2["customer_messages_recent"], c2["mean_valence_recent"]) == (0.0, 1.0, 0.8)
    assert (c2["last_survey_score"], c2["days_since_last_contact"]) == (7.5, 1.5)
    # the label: W0's two-week window ends W3's Monday, inside the data; W1's does not
    assert (c2["churned_within_horizon"], rows[("c2", W1)]["churned_within_horizon"]) == (False, None)
    c3 = rows[("c3", W3)]  # "I'm cancelling" and a closed ticket are no cancellation; W3 is not over
    assert (c3["cancelled_at"], c3["as_of"], c3["churned_within_horizon"]) == (None, DATA_END, None)
    assert (rows[("c3", W1)]["unresolved_recent"], rows[("c3", W1)]["valence_trend"]) == (1.0, 0.0)
    assert (c3["contacts_recent"], c3["contacts_lookback"], c3["last_valence"]) == (0.0, 1.0, -0.8)


def test_later_events_change_no_feature(spark: SparkSession, lake: tuple[DataFrame, ...]) -> None:
    """Every conversation and message from W1 on moves three weeks later: W0's rows stay as they
    were (but for the label, which is about the future)."""
    def move(ts: datetime) -> datetime:
        return ts + timedelta(weeks=3) if ts >= at(W1, 0, 0) else ts

    shuffled = _lake(spark, [(c, k, ch, q, move(o), *rest) for c, k, ch, q, o, *rest in CONVERSATIONS],
                     [(m, c, role, move(sent), *rest) for m, c, role, sent, *rest in MESSAGES])
    end = DATA_END + timedelta(weeks=3)

    def w0(frame: tuple[DataFrame, ...], data_end: datetime) -> DataFrame:
        return customer_week_features(*frame, PARAMS, OUTCOME, data_end).where(F.col("week") == F.lit(W0)) \
            .drop("churned_within_horizon", "cancelled_at")

    before, after = w0(lake, DATA_END), w0(shuffled, end)
    assert before.count() == 2
    assert before.exceptAll(after).count() == 0 and after.exceptAll(before).count() == 0


def test_the_mart_ranks_lifts_and_names_its_model(spark: SparkSession, lake: tuple[DataFrame, ...]) -> None:
    features = customer_week_features(*lake, PARAMS, OUTCOME, DATA_END)
    scored = features.withColumn("churn_probability", F.when(F.col("customer_key") == "c1", 0.4)
                                 .when(F.col("customer_key") == "c3", 0.1).otherwise(0.02))
    predicted = spark.createDataFrame([(W1, "c1", "detractor", 0.05, 0.8)],
                                      "week date, customer_key string, predicted_nps_class string, "
                                      "p_promoter double, p_detractor double")
    mart = _rows(build_customer_health(scored, 0.05, "2", predicted))
    w1 = {k: r for (k, w), r in mart.items() if w == W1}
    assert [w1[c]["risk_rank"] for c in ("c1", "c3", "c2")] == [1, 2, 3]
    assert w1["c1"]["risk_lift"] == pytest.approx(8.0) and w1["c2"]["risk_lift"] == pytest.approx(0.4)
    assert (w1["c1"]["predicted_nps_class"], w1["c3"]["predicted_nps_class"]) == ("detractor", None)
    assert (w1["c1"]["last_survey_score"], w1["c3"]["last_survey_score"]) == (3.0, None)  # -1 -> NULL
    assert {r["model_version"] for r in mart.values()} == {"2"} and mart[("c1", W0)]["base_rate"] == 0.05


def test_the_suite_reconciles_with_silver_and_fails_on_broken_rows(lake: tuple[DataFrame, ...],
                                                                   tmp_path: Path) -> None:
    """gold_customer_health passes the mart and catches a duplicated row, a probability above 1
    and a customer the mart lost (silver's own count of the week's customers)."""
    from tests.conftest import make_config
    from voicelake.jobs.validate import churn_frames
    from voicelake.quality import Validator

    config = make_config(tmp_path / "home")
    config = dataclasses.replace(config, churn={"horizon_weeks": 2, "recent_weeks": 1, "lookback_weeks": 3})
    conversations, messages, _ = lake
    mart = build_customer_health(customer_week_features(*lake, PARAMS, OUTCOME, DATA_END)
                                 .withColumn("churn_probability", F.lit(0.3)), 0.1, "1")

    def run(frame: DataFrame) -> set[str]:
        [(suite, checked, note)] = list(churn_frames(lambda _: frame, config, conversations, messages, None))
        assert note is None and checked is not None
        return {f"{f.expectation}({f.target})" for f in Validator(config).run(suite, checked, {}).failures}

    assert run(mart) == set()
    key, week = F.col("customer_key"), F.col("week")
    broken = (mart.where(~((key == "c1") & (week == F.lit(W0))))
              .unionByName(mart.where((key == "c2") & (week == F.lit(W1))))
              .withColumn("churn_probability", F.when((key == "c3") & (week == F.lit(W2)), 1.5)
                          .otherwise(F.col("churn_probability"))))
    assert run(broken) == {"expect_compound_columns_to_be_unique(week,customer_key)",
                           "expect_column_values_to_be_between(churn_probability)",
                           "expect_column_pair_values_to_be_equal(week_rows,silver_customers)"}


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="churn"):
        ChurnParams.from_config({"horizon_weeks": 0})
    with pytest.raises(ConfigError, match="lookback_weeks"):
        ChurnParams.from_config({"recent_weeks": 8, "lookback_weeks": 4})
    with pytest.raises(ConfigError, match="regular expression"):
        ChurnParams.from_config({"cancellation_pattern": "(cancel"})
    with pytest.raises(ConfigError, match="unknown keys"):
        ChurnParams.from_config({"horizon_days": 3})


def _synthetic_weeks(spark: SparkSession, weeks: int = 12, per_week: int = 120) -> DataFrame:
    """Customer-weeks whose label is decided by the recent valence (so the trees separate them)
    while the survey answer is noise."""
    import random

    from voicelake.models.churn import NUMERIC_FEATURES

    rng = random.Random(3)
    rows = []
    for w in range(weeks):
        for n in range(per_week):
            values = {f: rng.uniform(0, 5) for f in NUMERIC_FEATURES}
            values["mean_valence_recent"] = rng.uniform(-1, 1)
            rows.append((f"c{n}", W0 + timedelta(weeks=w), "Atlas App", *(values[f] for f in NUMERIC_FEATURES),
                         float(values["mean_valence_recent"] < -0.6)))
    return spark.createDataFrame(rows, ["customer_key", "week", "product", *NUMERIC_FEATURES, "label"])


def test_the_model_is_fitted_registered_promoted_only_when_better_and_loaded(
        spark: SparkSession, tmp_path: Path) -> None:
    from tests.conftest import make_config
    from voicelake.models.churn import auc, churn_probability, fit_churn, load_churn_champion, register_churn

    config = make_config(tmp_path / "home")
    params = ChurnParams(max_iter=8, min_train_rows=100)
    rows = _synthetic_weeks(spark).cache()
    assert load_churn_champion(config) is None
    fit = fit_churn(rows, params, log=lambda _: None)
    # weeks 0-11: the test weeks are 9-11; training stops at week 8, whose one-week label window
    # (week 9) has closed when week 9's rows are scored at its end
    assert fit.metrics["train_rows"] == 9 * 120 and fit.metrics["test_rows"] == 3 * 120
    assert fit.metrics["test_auc"] > 0.95 and fit.metrics["baseline_auc"] < 0.7
    assert fit.metrics["test_brier"] < fit.metrics["baseline_brier"]
    first = register_churn(config, fit, params, log=lambda _: None)
    assert first.promoted and "survey-only baseline" in first.reason
    again = register_churn(config, fit, params, log=lambda _: None)  # the same model: not better
    assert not again.promoted and f"champion v{first.version}" in again.reason
    champion = load_churn_champion(config)
    assert champion is not None and champion.version == first.version
    assert champion.base_rate == pytest.approx(fit.base_rate)
    assert auc(churn_probability(champion.model, fit.test)) == pytest.approx(fit.metrics["test_auc"])
    with pytest.raises(TooLittleHistory, match="one class only"):
        fit_churn(rows.withColumn("label", F.lit(0.0)), params)
