from datetime import date, datetime, timedelta

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from voicelake.jobs.transforms.stats import empirical_bayes_rate, poisson_weight, wilson_interval
from voicelake.jobs.transforms.voc import (
    OutcomeParams,
    build_agent_scorecard,
    build_conversation_outcomes,
    build_service_gaps,
    empathy_turns,
)

T0 = datetime(2026, 1, 5, 9, 0)
MSG = "message_id string, conversation_id string, author_role string, agent_key string, sent_at timestamp"
EMO = ("message_id string, label string, valence double, p_empathy double, p_anger double, "
       "p_frustration double, p_anxiety double, p_disappointment double")
CONV = ("conversation_id string, channel string, product string, queue string, customer_key string, "
        "agent_key string, opened_at timestamp, opened_date date, first_response_minutes double, "
        "resolution_minutes double, sla_breached boolean, csat double, nps_score int, sla_target_minutes int")


def _t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _conv(cid: str, customer: str, agent: str, opened: datetime, queue: str = "billing", frt: float | None = 5.0,
          breached: bool | None = False) -> tuple:
    return (cid, "chat", "P", queue, customer, agent, opened, opened.date(), frt, 30.0, breached, None, None, 60)


@pytest.fixture
def history(spark: SparkSession):
    # c1: angry customer, empathetic agent, ends grateful, no repeat -> trust restored, one hit
    # c2: angry customer, curt agent, ends disappointed -> not restored, one miss
    # c3: angry, ends happy, but the same customer comes back on the same queue 2 days later -> not restored
    # c4: the repeat contact of c3 (neutral)
    # c5: K1's survey answer the next day (no queue, not a support contact: c1 stays restored);
    # o2: labelled empathy with P(empathy) 0.35 (a model spread over nine labels): still empathy
    # m0: an empathetic-sounding agent greeting before K1 spoke (not the first empathy)
    messages = spark.createDataFrame([
        ("m0", "c1", "agent", "A", _t(-1)),
        ("m1", "c1", "customer", None, _t(0)), ("m2", "c1", "agent", "A", _t(5)),
        ("m3", "c1", "customer", None, _t(9)), ("m3b", "c1", "bot", None, _t(1)),
        ("n1", "c2", "customer", None, _t(0)), ("n2", "c2", "agent", "B", _t(5)),
        ("n3", "c2", "customer", None, _t(9)),
        ("o1", "c3", "customer", None, _t(0)), ("o2", "c3", "agent", "A", _t(4)),
        ("o3", "c3", "customer", None, _t(8)),
        ("p1", "c4", "customer", None, _t(2 * 1440)),
    ], MSG)
    emotions = spark.createDataFrame([
        ("m0", "empathy", 0.2, 0.9, 0.0, 0.0, 0.0, 0.0),
        ("m1", "anger", -0.9, 0.0, 0.8, 0.1, 0.0, 0.0), ("m2", "empathy", 0.1, 0.9, 0.0, 0.0, 0.0, 0.0),
        ("m3", "gratitude", 0.8, 0.0, 0.0, 0.0, 0.0, 0.0), ("m3b", "neutral", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        ("n1", "anger", -0.8, 0.0, 0.7, 0.1, 0.0, 0.0), ("n2", "neutral", 0.0, 0.05, 0.0, 0.0, 0.0, 0.0),
        ("n3", "disappointment", -0.6, 0.0, 0.0, 0.0, 0.0, 0.7),
        ("o1", "frustration", -0.7, 0.0, 0.1, 0.7, 0.0, 0.0), ("o2", "empathy", 0.1, 0.35, 0.0, 0.0, 0.0, 0.0),
        ("o3", "joy", 0.7, 0.0, 0.0, 0.0, 0.0, 0.0),
        ("p1", "neutral", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    ], EMO)
    conversations = spark.createDataFrame([
        _conv("c1", "K1", "A", _t(0)), _conv("c2", "K2", "B", _t(0)), _conv("c3", "K3", "A", _t(0)),
        _conv("c4", "K3", None, _t(2 * 1440), frt=None, breached=None),
        ("c5", "survey", "P", None, "K1", None, _t(1440), _t(1440).date(), None, None, None, None, 9, None),
    ], CONV)
    return messages, emotions, conversations


def test_conversation_outcomes(history) -> None:
    messages, emotions, conversations = history
    out = build_conversation_outcomes(messages, emotions, conversations, OutcomeParams(), as_of=_t(30 * 1440))
    rows = {r["conversation_id"]: r for r in out.collect()}
    assert set(rows) == {"c1", "c2", "c3", "c4"}
    c1, c2, c3 = rows["c1"], rows["c2"], rows["c3"]
    assert (c1["started_negative"], c1["ended_non_negative"], c1["repeat_contact"], c1["trust_restored"]) == (
        True, True, False, True)
    assert c2["trust_restored"] is False and c2["ended_non_negative"] is False
    assert c3["repeat_contact"] is True and c3["trust_restored"] is False
    assert c1["valence_shift"] == pytest.approx(0.8 - (-0.9)) and c2["valence_shift"] == pytest.approx(0.2)
    assert (c1["empathy_opportunities"], c1["empathy_hits"]) == (1, 1)
    assert (c2["empathy_opportunities"], c2["empathy_hits"]) == (1, 0)
    assert c1["minutes_to_first_empathy"] == pytest.approx(5.0) and c2["minutes_to_first_empathy"] is None
    assert (c1["first_customer_label"], c1["last_customer_label"]) == ("anger", "gratitude")
    assert rows["c4"]["customer_turns"] == 1 and rows["c4"]["valence_shift"] == 0.0
    # the cut-off decides whether the repeat window is still open
    early = build_conversation_outcomes(messages, emotions, conversations, OutcomeParams(), as_of=_t(60))
    assert all(r["repeat_window_open"] for r in early.collect())
    assert not any(r["repeat_window_open"] for r in rows.values())


def test_an_empathy_hit_needs_the_customer_not_to_get_worse(history, spark: SparkSession) -> None:
    messages, emotions, conversations = history
    worse = emotions.withColumn("valence", F.when(F.col("message_id") == "m3", -0.95).otherwise(F.col("valence")))
    out = build_conversation_outcomes(messages, worse, conversations, OutcomeParams(), as_of=_t(30 * 1440))
    assert out.where("conversation_id = 'c1'").first()["empathy_hits"] == 0


def test_agent_scorecard_credits_the_answering_agent(history) -> None:
    messages, emotions, conversations = history
    params = OutcomeParams()
    outcomes = build_conversation_outcomes(messages, emotions, conversations, params, as_of=_t(30 * 1440))
    card = build_agent_scorecard(outcomes, empathy_turns(messages, emotions, params), min_opportunities=2)
    rows = {r["agent_key"]: r for r in card.collect()}
    assert (rows["A"]["empathy_opportunities"], rows["A"]["empathy_hits"]) == (2, 2)
    assert (rows["B"]["empathy_opportunities"], rows["B"]["empathy_hits"]) == (1, 0)
    assert rows["A"]["conversations"] == 2 and rows["A"]["trust_restored"] == 1
    assert rows["A"]["rank"] == 1 and rows["B"]["rank"] == 2
    assert rows["B"]["evidence"] == "too few" and rows["A"]["evidence"] == "ok"
    low, high = rows["A"]["empathy_rate_low"], rows["A"]["empathy_rate_high"]
    assert 0.0 < low < 1.0 and high == pytest.approx(1.0)
    # shrinkage keeps the scores inside the raw extremes
    assert 0.0 < rows["B"]["rank_score"] < rows["A"]["rank_score"] < 1.0


def test_service_gaps_count_unanswered_conversations_as_censored(spark: SparkSession) -> None:
    slow = [_conv(f"s{i}", f"K{i}", "A", _t(i), queue="billing", frt=None if i < 5 else 300.0, breached=True)
            for i in range(10)]
    fast = [_conv(f"f{i}", f"L{i}", "B", _t(i), queue="technical", frt=2.0, breached=False) for i in range(10)]
    conversations = spark.createDataFrame(slow + fast, CONV)
    outcomes = spark.createDataFrame(
        [(f"s{i}", i % 2 == 0) for i in range(10)] + [(f"f{i}", False) for i in range(10)],
        "conversation_id string, started_negative boolean")
    as_of = _t(24 * 60)
    rows = build_service_gaps(conversations, outcomes, as_of, min_conversations=5).collect()
    gaps = {r["queue"]: r for r in rows if r["level"] == "segment"}
    queues = {r["queue"]: r for r in rows if r["level"] == "queue"}
    assert (queues["billing"]["channel"], queues["billing"]["conversations"], queues["billing"]["gap_rank"]) == (
        "all", 10, 1)
    billing = gaps["billing"]
    assert billing["gap_rank"] == 1 and gaps["technical"]["gap_rank"] == 2
    assert billing["unanswered"] == 5
    # five answered after 300 min, five still waiting ~1440 min: the median is not 300
    assert billing["first_response_p50_minutes"] > 300
    assert billing["sla_breach_rate"] == 1.0 and billing["negative_share"] == 0.5
    assert billing["gap_score_low"] > 0 > gaps["technical"]["gap_score_high"] - 0.6


def test_wilson_interval_and_shrinkage(spark: SparkSession) -> None:
    df = spark.createDataFrame([("a", 0, 0), ("b", 1, 1), ("c", 50, 100), ("d", 0, 3)], "k string, s int, n int")
    lo, hi = wilson_interval(F.col("s"), F.col("n"))
    rows = {r["k"]: r for r in df.select("k", lo.alias("lo"), hi.alias("hi")).collect()}
    assert rows["a"]["lo"] is None
    assert rows["d"]["lo"] == 0.0 and rows["b"]["hi"] == 1.0  # a rate of 0 or 1 lies inside its interval
    assert rows["c"]["lo"] == pytest.approx(0.4038, abs=1e-3) and rows["c"]["hi"] == pytest.approx(0.5962, abs=1e-3)
    assert rows["d"]["lo"] == pytest.approx(0.0, abs=1e-12) and rows["b"]["hi"] == pytest.approx(1.0)
    shrunk = {r["k"]: r["r"] for r in empirical_bayes_rate(df, "s", "n", [], output="r").collect()}
    pooled = 51 / 104
    assert shrunk["a"] == pytest.approx(pooled)
    assert shrunk["d"] > 0 and shrunk["b"] < 1
    assert abs(shrunk["c"] - 0.5) < abs(shrunk["b"] - 1)


def test_poisson_weights_are_deterministic_with_mean_one(spark: SparkSession) -> None:
    df = spark.range(20000).select(poisson_weight(F.col("id").cast("string"), F.lit(3)).alias("w"))
    mean, var = df.agg(F.avg("w"), F.var_samp("w")).first()
    assert mean == pytest.approx(1.0, abs=0.03) and var == pytest.approx(1.0, abs=0.06)
    again = spark.range(20000).select(poisson_weight(F.col("id").cast("string"), F.lit(3)).alias("w"))
    assert again.agg(F.sum("w")).first()[0] == df.agg(F.sum("w")).first()[0]
    assert date(2026, 1, 5).weekday() == 0


def test_passive_drivers_rank_the_theme_passives_mention_more(spark: SparkSession) -> None:
    from voicelake.jobs.transforms.voc import PassiveParams, build_passive_drivers

    month = date(2026, 1, 1)
    respondents, texts, emotions = [], [], []
    for i in range(40):  # passives: 30 of 40 talk about the price, 10 about setup
        respondents.append((month, "P", f"p{i}", 7 + i % 2))
        texts.append((month, f"p{i}", "the price is too expensive for what it does" if i < 30 else "setup was ok"))
        emotions.append((month, f"p{i}", "disappointment" if i < 20 else "neutral"))
    for i in range(40):  # promoters: 3 mention the price, 25 love the support team
        respondents.append((month, "P", f"q{i}", 9 + i % 2))
        texts.append((month, f"q{i}", "great support team, quick answers" if i < 25 else
                      ("price is fine" if i < 28 else "setup was ok")))
        emotions.append((month, f"q{i}", "gratitude" if i < 30 else "neutral"))
    out = build_passive_drivers(
        spark.createDataFrame(respondents, "month date, product string, customer_key string, nps_score int"),
        spark.createDataFrame(texts, "month date, customer_key string, text string"),
        spark.createDataFrame(emotions, "month date, customer_key string, label string"),
        stopwords=("the", "for", "what", "does", "was", "too", "and", "is"), params=PassiveParams())
    rows = {(r["kind"], r["item"]): r for r in out.collect()}
    top_theme = next(r for r in rows.values() if r["kind"] == "theme" and r["rank"] == 1)
    assert top_theme["item"] in {"price", "expensive", "price expensive"}
    price = rows[("theme", "price")]
    assert (price["passives_with"], price["passives"], price["promoters_with"], price["promoters"]) == (30, 40, 3, 40)
    assert price["lift_low"] > 1 and price["lift_low"] < price["lift"] < price["lift_high"]
    assert rows[("theme", "setup")]["rank"] is None and rows[("theme", "setup")]["evidence"] == "not over-represented"
    assert rows[("emotion", "disappointment")]["rank"] == 1
    delighter = next(r for r in rows.values() if r["kind"] == "missing_delighter" and r["rank"] == 1)
    assert delighter["item"] in {"support", "team", "great", "support team", "great support", "quick", "answers",
                                 "quick answers", "team quick"}
