"""gold.sla_risk's point-in-time features on a hand-made lake whose every figure is worked out
in the comments (waiting snapshots, queue arrivals, backlog, agents on shift, the customer's
emotion so far), the proof that later events change nothing, the mart's rows and the suite
that gates them; and the model on a small synthetic history: fitted, registered, promoted
only when better, loaded back."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from voicelake.config import ConfigError
from voicelake.jobs.transforms.sla_risk import build_sla_risk, sla_features
from voicelake.models.sla_risk import SlaRiskParams, TooLittleHistory

DAY = datetime(2026, 3, 2)  # a Monday
PARAMS = SlaRiskParams()


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


# (conversation, channel, queue, priority, customer, clock start, first reply, target minutes, breached)
CONVERSATIONS = [
    ("e1", "email", "billing", None, "c1", at(9, 10), at(13, 30), 480, False),  # waits at 10, 11, 12, 13
    ("t1", "ticket", "billing", "high", "c2", at(9, 45), None, 240, True),      # waits at 10, 11, 12, 13 (due 13:45)
    ("t2", "ticket", "billing", "low", "c3", at(10), at(10, 30), 1440, False),  # waits at 10 (started on the grid)
    ("c1", "chat", "billing", None, "c4", at(10, 20), at(10, 22), 5, False),    # never waiting at a grid time
    ("s1", "social", "technical", None, "c5", at(11, 30), at(12, 10), 120, False),  # waits at 12
    ("r1", "review", None, None, "c6", at(11), None, None, None),               # no clock
]
# (message, conversation, role, agent, sent, anger, anxiety, valence)
MESSAGES = [
    ("m1", "t1", "customer", None, at(9, 45), 0.7, 0.1, -0.6),
    ("m2", "t1", "customer", None, at(11, 30), 0.9, 0.2, -0.8),
    ("m3", "e1", "customer", None, at(9, 10), 0.1, 0.6, -0.2),
    ("a1", "t2", "agent", "ag1", at(10, 30), None, None, None),
    ("a2", "c1", "agent", "ag2", at(10, 22), None, None, None),
    ("a3", "e1", "agent", "ag1", at(13, 30), None, None, None),
    ("a4", "s1", "agent", "ag3", at(12, 10), None, None, None),
]


def _lake(spark: SparkSession, conversations: list[tuple], messages: list[tuple]) -> tuple[DataFrame, ...]:
    conv = spark.createDataFrame(  # as_of: silver's cut-off column, which the mart's as_of must not meet
        [(c, ch, q, p, k, s, r, tgt, None if tgt is None else s + timedelta(minutes=tgt), b, DAY + timedelta(days=1))
         for c, ch, q, p, k, s, r, tgt, b in conversations],
        "conversation_id string, channel string, queue string, priority string, customer_key string, "
        "first_customer_message_at timestamp, first_response_at timestamp, sla_target_minutes int, "
        "sla_due_at timestamp, sla_breached boolean, as_of timestamp")
    msgs = spark.createDataFrame([(m, c, role, agent, sent) for m, c, role, agent, sent, *_ in messages],
                                 "message_id string, conversation_id string, author_role string, agent_key string, "
                                 "sent_at timestamp")
    emotions = spark.createDataFrame([(m, a, x, v) for m, _, role, _, _, a, x, v in messages if role == "customer"],
                                     "message_id string, p_anger double, p_anxiety double, valence double")
    return conv, msgs, emotions


@pytest.fixture(scope="module")
def lake(spark: SparkSession) -> tuple[DataFrame, ...]:
    return _lake(spark, CONVERSATIONS, MESSAGES)


def _rows(frame: DataFrame) -> dict[tuple[str, int], dict]:
    return {(r["conversation_id"], r["snapshot_at"].hour): r.asDict() for r in frame.collect()}


def test_waiting_snapshots_and_their_features(lake: tuple[DataFrame, ...]) -> None:
    rows = _rows(sla_features(*lake, PARAMS))
    assert set(rows) == {("e1", h) for h in (10, 11, 12, 13)} | {("t1", h) for h in (10, 11, 12, 13)} \
        | {("t2", 10), ("s1", 12)}
    t1 = rows[("t1", 11)]
    # 75 minutes waited of 240; 13:45 - 11:00 = 165 minutes left
    assert (t1["elapsed_minutes"], t1["target_used"], t1["minutes_left"]) == (75.0, 75 / 240, 165.0)
    assert (t1["priority"], t1["hour_of_day"], t1["weekend"], t1["sla_breached"]) == ("high", 11.0, 0.0, True)
    # billing at 11:00: c1 opened in (10:00, 11:00]; e1 and t1 wait (t2, c1 were answered);
    # ag1 (10:30) and ag2 (10:22) wrote in (08:00, 11:00]
    assert (t1["arrivals_last_hour"], t1["queue_backlog"], t1["agents_recent"], t1["backlog_per_agent"]) == \
        (1.0, 2.0, 2.0, 1.0)
    # at 10:00: t2 opened at 10:00 sharp and e1, t1 in the hour before; all three wait, no agent wrote yet
    t1_10 = rows[("t1", 10)]
    assert (t1_10["arrivals_last_hour"], t1_10["queue_backlog"], t1_10["agents_recent"], t1_10["backlog_per_agent"]) \
        == (3.0, 3.0, 0.0, 3.0)
    # at 13:00 the window (10:00, 13:00] still holds ag1 and ag2; e1 and t1 wait
    assert (rows[("e1", 13)]["agents_recent"], rows[("e1", 13)]["queue_backlog"]) == (2.0, 2.0)
    # the customer so far: one message at 11:00, two at 12:00 (anger 0.9, valence -0.6 -> -0.8)
    assert (t1["customer_messages"], t1["max_anger"], t1["last_valence"], t1["valence_change"]) == \
        (1.0, 0.7, -0.6, 0.0)
    t1_12 = rows[("t1", 12)]
    assert (t1_12["customer_messages"], t1_12["max_anger"], t1_12["max_anxiety"], t1_12["last_valence"]) == \
        (2.0, 0.9, 0.2, -0.8)
    assert t1_12["valence_change"] == pytest.approx(-0.2)
    # s1 (technical) at 12:00: nothing of billing counts; no scored customer message -> zeros
    s1 = rows[("s1", 12)]
    assert (s1["arrivals_last_hour"], s1["queue_backlog"], s1["customer_messages"], s1["priority"]) == \
        (1.0, 1.0, 0.0, "(none)")


def test_later_events_change_no_feature(spark: SparkSession, lake: tuple[DataFrame, ...]) -> None:
    """Every event after 11:00 moves three days later or goes (replies, messages, a conversation
    opening, a reply that never comes): the features at 11:00 and before stay as they were."""
    cut = at(11)
    later = timedelta(days=3)

    def move(ts: datetime | None) -> datetime | None:
        return ts + later if ts is not None and ts > cut else ts

    conversations = [(c, ch, q, p, k, move(s), None if c == "e1" else move(r), tgt, b)
                     for c, ch, q, p, k, s, r, tgt, b in CONVERSATIONS]
    messages = [(m, c, role, agent, move(sent), *rest) for m, c, role, agent, sent, *rest in MESSAGES
                if m != "a4"]
    shuffled = _lake(spark, conversations, messages)
    for when in (None, [cut]):
        before = sla_features(*lake, PARAMS, at=when).drop("sla_breached")
        after = sla_features(*shuffled, PARAMS, at=when).drop("sla_breached")
        if when is None:
            before, after = (f.where(F.col("snapshot_at") <= F.lit(cut)) for f in (before, after))
        assert before.count() == (5 if when is None else 2)
        assert before.exceptAll(after).count() == 0 and after.exceptAll(before).count() == 0
    with pytest.raises(ValueError, match="grid"):
        sla_features(*lake, PARAMS, at=[at(11), at(11, 30)])


def test_the_mart_ranks_flags_and_names_its_model(lake: tuple[DataFrame, ...]) -> None:
    waiting = sla_features(*lake, PARAMS, at=[at(12), at(14)])  # e1, t1, s1 at 12:00; t1 at 14:00 is past due
    scored = waiting.withColumn("breach_probability", F.when(F.col("conversation_id") == "t1", 0.9)
                                .when(F.col("conversation_id") == "e1", 0.3).otherwise(0.5))
    mart = {r["conversation_id"]: r for r in build_sla_risk(scored, 0.5, "3").collect()}
    assert set(mart) == {"e1", "t1", "s1"}
    assert [mart[c]["risk_rank"] for c in ("t1", "s1", "e1")] == [1, 2, 3]
    assert [mart[c]["at_risk"] for c in ("t1", "s1", "e1")] == [True, True, False]
    assert mart["s1"]["priority"] is None and mart["t1"]["priority"] == "high"
    assert mart["t1"]["as_of"] == at(12) and mart["t1"]["date"] == DAY.date()
    midnight = build_sla_risk(sla_features(*lake, PARAMS, at=[DAY]).withColumn("breach_probability", F.lit(0.1)),
                              0.5, "3")
    assert midnight.count() == 0  # nobody waits at 00:00; a midnight's rows belong to the day before
    assert (mart["t1"]["model_version"], mart["t1"]["flag_threshold"], mart["t1"]["minutes_left"]) == ("3", 0.5, 105.0)


def test_the_suite_reconciles_with_silver_and_fails_on_broken_rows(lake: tuple[DataFrame, ...],
                                                                   tmp_path: Path) -> None:
    """gold_sla_risk passes the mart and catches a duplicated row, a probability above 1, a
    conversation the mart lost (silver's own count of waiting conversations) and one no longer waiting."""
    from tests.conftest import make_config
    from voicelake.jobs.validate import sla_frames
    from voicelake.quality import Validator

    config = make_config(tmp_path / "home")
    conversations = lake[0]
    mart = build_sla_risk(sla_features(*lake, PARAMS, at=[at(11), at(12)]).withColumn("breach_probability",
                                                                                     F.lit(0.4)), 0.5, "1")

    def run(frame: DataFrame) -> set[str]:
        [(suite, checked, note)] = list(sla_frames(lambda _: frame, config, conversations, None))
        assert note is None and checked is not None
        return {f"{f.expectation}({f.target})" for f in Validator(config).run(suite, checked, {}).failures}

    assert run(mart) == set()
    # at 11:00 t1 twice and e1 overdue; at 12:00 e1 lost and s1 with a probability above 1: both
    # as-of times disagree with silver's own count of conversations waiting then
    eleven, twelve = F.col("as_of") == F.lit(at(11)), F.col("as_of") == F.lit(at(12))
    broken = (mart.where(~(twelve & (F.col("conversation_id") == "e1")))
              .unionByName(mart.where(eleven & (F.col("conversation_id") == "t1")))
              .withColumn("breach_probability", F.when(F.col("conversation_id") == "s1", 1.5)
                          .otherwise(F.col("breach_probability")))
              .withColumn("minutes_left", F.when(eleven & (F.col("conversation_id") == "e1"), -5.0)
                          .otherwise(F.col("minutes_left"))))
    assert run(broken) == {"expect_compound_columns_to_be_unique(as_of,conversation_id)",
                           "expect_column_values_to_be_between(breach_probability)",
                           "expect_column_values_to_be_between(minutes_left)",
                           "expect_column_pair_values_to_be_equal(as_of_rows,silver_waiting)"}


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="sla_risk"):
        SlaRiskParams.from_config({"test_days": 0})
    with pytest.raises(ConfigError, match="unknown keys"):
        SlaRiskParams.from_config({"horizon": 3})
    with pytest.raises(ConfigError, match="min_precision"):
        SlaRiskParams.from_config({"min_precision": 1.5})


def _synthetic_snapshots(spark: SparkSession, days: int = 24) -> DataFrame:
    """Hourly snapshots over ``days`` days: a conversation breaches when its queue's backlog
    is high (deterministic, so any model that reads it separates the classes)."""
    import random

    from voicelake.models.sla_risk import NUMERIC_FEATURES

    rng = random.Random(5)
    rows = []
    for d in range(days):
        for h in range(0, 24, 2):
            for n in range(3):
                snapshot = DAY + timedelta(days=d, hours=h)
                values = {f: rng.uniform(0, 10) for f in NUMERIC_FEATURES}
                values["elapsed_minutes"] = rng.uniform(0, 400)
                values["minutes_left"] = 480 - values["elapsed_minutes"]
                rows.append((f"k{d}-{h}-{n}", snapshot, int(snapshot.timestamp()), "email", "billing", "(none)",
                             *(values[f] for f in NUMERIC_FEATURES), float(values["queue_backlog"] > 5)))
    columns = ["conversation_id", "snapshot_at", "t", "channel", "queue", "priority", *NUMERIC_FEATURES, "label"]
    return spark.createDataFrame(rows, columns)


def test_the_model_is_fitted_registered_promoted_only_when_better_and_loaded(
        spark: SparkSession, tmp_path: Path) -> None:
    from tests.conftest import make_config
    from voicelake.models.sla_risk import (
        auc,
        breach_probability,
        fit_sla_risk,
        load_sla_champion,
        register_sla_risk,
        time_split,
    )

    config = make_config(tmp_path / "home")
    params = SlaRiskParams(max_iter=8, max_depth=3, min_train_snapshots=50, warning_minutes=0)
    snapshots = _synthetic_snapshots(spark).cache()
    assert load_sla_champion(config) is None
    fit = fit_sla_risk(snapshots, params, log=lambda _: None)
    # the backlog decides: the trees separate the test days; elapsed time alone cannot
    assert fit.metrics["test_auc"] > 0.95 and fit.metrics["baseline_auc"] < 0.7
    assert fit.metrics["test_brier"] < fit.metrics["baseline_brier"]
    # the threshold catches every breach at the validation days' precision of 0.6 (0.5 or more on the test days)
    assert 0.0 < fit.threshold < 1.0
    assert fit.metrics["warning_recall"] == 1.0 and fit.metrics["warning_precision"] >= 0.5
    test = time_split(snapshots, params).test
    first = register_sla_risk(config, fit, test, params, log=lambda _: None)
    assert first.promoted and "elapsed-time baseline" in first.reason
    again = register_sla_risk(config, fit, test, params, log=lambda _: None)  # the same model: not better
    assert not again.promoted and f"champion v{first.version}" in again.reason
    champion = load_sla_champion(config)
    assert champion is not None and champion.version == first.version
    assert champion.threshold == pytest.approx(fit.threshold)
    assert auc(breach_probability(champion.model, test)) == pytest.approx(fit.metrics["test_auc"])  # the same model
    with pytest.raises(TooLittleHistory, match="one class only"):
        fit_sla_risk(snapshots.withColumn("label", F.lit(0.0)), params)
