"""Pure transformations for the voice-of-customer marts built on scored silver.

- `build_conversation_outcomes`: one row per conversation: how the customer's feeling
  moved, whether trust was restored, the agents' empathy opportunities and hits.
- `build_agent_scorecard`: week x agent: empathy and trust-restored rates with Wilson
  intervals and a rank score shrunk toward the team (empirical Bayes).
- `build_service_gaps`: week x queue x channel x product x hour band: where service falls
  short against the whole service, with intervals, ranked.

Definitions are written for BI analysts in docs/marts.md. No reads, writes or actions here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.window import WindowSpec

from voicelake.jobs.transforms.stats import Z95, empirical_bayes_rate, wilson_interval

DISTRESS_LABELS = ("anger", "frustration", "anxiety", "disappointment")
SUPPORT_CHANNELS = ("ticket", "chat", "email", "call", "social")  # a new contact; reviews and surveys are not
HOUR_BANDS = ((0, 6, "00-06"), (6, 12, "06-12"), (12, 18, "12-18"), (18, 24, "18-24"))


@dataclass(frozen=True)
class OutcomeParams:
    """Thresholds of the conversation outcomes (conf: ``voc.outcomes``)."""

    negative_valence: float = -0.2      # a customer turn below this valence is negative
    non_negative_valence: float = 0.0   # the last customer turn at or above this ended non-negative
    distress_threshold: float = 0.5     # P(anger+frustration+anxiety+disappointment) of an opportunity
    empathy_threshold: float = 0.5      # P(empathy) at which an agent turn shows empathy (its label empathy also does)
    repeat_window_days: int = 7         # a new contact on the same topic within this many days
    topic_column: str = "queue"         # what "the same topic" means until topics exist


def _week(col: Column) -> Column:
    return F.to_date(F.date_trunc("week", col))


def _turns(messages: DataFrame, emotions: DataFrame) -> DataFrame:
    """Scored customer and agent turns with the emotion figures the outcomes need."""
    distress = sum((F.col(f"p_{label}") for label in DISTRESS_LABELS), F.lit(0.0))
    return (messages.where(F.col("author_role").isin("customer", "agent"))
            .select("message_id", "conversation_id", "author_role", "agent_key", "sent_at")
            .join(emotions.select("message_id", "valence", "label", "p_empathy",
                                  distress.alias("distress")), "message_id"))


def _shows_empathy(params: OutcomeParams) -> Column:
    """An agent turn shows empathy when the model labels it so (its most likely emotion) or
    gives empathy at least ``empathy_threshold``: a model spread over nine labels can name
    empathy first with P(empathy) well under one half."""
    return (F.col("label") == "empathy") | (F.col("p_empathy") >= params.empathy_threshold)


def _is_role(role: str) -> Column:
    return F.col("author_role") == role


def _turn_order() -> WindowSpec:
    return Window.partitionBy("conversation_id").orderBy("sent_at", "message_id")


def _with_replies(turns: DataFrame, params: OutcomeParams) -> DataFrame:
    """Each turn with what came after it: the next agent turn's key and whether it shows
    empathy, and the next customer turn's valence."""
    after = _turn_order().rowsBetween(1, Window.unboundedFollowing)
    return (turns
            .withColumn("_next_agent_key", F.first(F.when(_is_role("agent"), F.col("agent_key")), True).over(after))
            .withColumn("_next_agent_empathy",
                        F.first(F.when(_is_role("agent"), _shows_empathy(params)), True).over(after))
            .withColumn("_next_customer_valence",
                        F.first(F.when(_is_role("customer"), F.col("valence")), True).over(after)))


def _is_hit(params: OutcomeParams) -> Column:
    """The next agent turn shows empathy and the customer's next valence does not drop."""
    return (F.coalesce(F.col("_next_agent_empathy"), F.lit(False))
            & (F.col("_next_customer_valence").isNull() | (F.col("_next_customer_valence") >= F.col("valence"))))


def build_conversation_outcomes(messages: DataFrame, emotions: DataFrame, conversations: DataFrame,
                                params: OutcomeParams, as_of: datetime) -> DataFrame:
    """gold.conversation_outcomes: one row per conversation with at least one scored customer turn.

    ``as_of`` is the cut-off of the data: a conversation whose repeat-contact window has not
    closed by then has ``repeat_window_open`` = true (its trust outcome may still change).
    """
    is_customer, is_agent = _is_role("customer"), _is_role("agent")
    turns = _with_replies(_turns(messages, emotions), params).withColumn(
        "_c_rank", F.sum(is_customer.cast("int")).over(_turn_order().rowsBetween(Window.unboundedPreceding, 0)))
    customer_turns = Window.partitionBy("conversation_id")
    turns = turns.withColumn("_c_count", F.sum(is_customer.cast("int")).over(customer_turns))
    # the shift compares the first k customer turns with the last k, k = 2 (1 below four turns)
    turns = turns.withColumn("_k", F.greatest(F.lit(1), F.least(F.lit(2), F.floor(F.col("_c_count") / 2))))
    # a distressed customer turn that an agent answered afterwards
    opportunity = is_customer & (F.col("distress") >= params.distress_threshold) & F.col("_next_agent_key").isNotNull()
    hit = opportunity & _is_hit(params)
    turns = turns.withColumn("_first_customer_at", F.min(F.when(is_customer, F.col("sent_at"))).over(customer_turns))
    first_customer_at = F.min("_first_customer_at")
    # the first empathetic agent turn after the customer spoke (not a greeting before it)
    first_empathy_at = F.min(F.when(is_agent & _shows_empathy(params)
                                    & (F.col("sent_at") >= F.col("_first_customer_at")), F.col("sent_at")))
    per_conv = turns.groupBy("conversation_id").agg(
        F.min_by(F.when(is_customer, F.col("valence")), F.when(is_customer, F.col("_c_rank"))).alias("first_v"),
        F.max_by(F.when(is_customer, F.col("valence")), F.when(is_customer, F.col("_c_rank"))).alias("last_v"),
        F.min_by(F.when(is_customer, F.col("label")), F.when(is_customer, F.col("_c_rank"))).alias("first_label"),
        F.max_by(F.when(is_customer, F.col("label")), F.when(is_customer, F.col("_c_rank"))).alias("last_label"),
        F.avg(F.when(is_customer & (F.col("_c_rank") <= F.col("_k")), F.col("valence"))).alias("first_k"),
        F.avg(F.when(is_customer & (F.col("_c_rank") > F.col("_c_count") - F.col("_k")), F.col("valence")))
        .alias("last_k"),
        F.sum(is_customer.cast("int")).alias("customer_turns"),
        F.sum(opportunity.cast("int")).alias("empathy_opportunities"),
        F.sum(hit.cast("int")).alias("empathy_hits"),
        ((F.unix_timestamp(first_empathy_at) - F.unix_timestamp(first_customer_at)) / 60.0)
        .alias("minutes_to_first_empathy"),
    ).where(F.col("customer_turns") > 0)

    topic = params.topic_column
    conv = conversations.select(
        "conversation_id", "channel", "product", "queue", "customer_key", "agent_key", "opened_at",
        "opened_date", "first_response_minutes", "resolution_minutes", "sla_breached", "csat", "nps_score",
        F.col(topic).cast("string").alias("_topic"))
    # the customer's next support contact on the same topic (a conversation without a topic,
    # a review or a survey answer is never one)
    later = (Window.partitionBy("customer_key", "_topic").orderBy("opened_at", "conversation_id")
             .rowsBetween(1, Window.unboundedFollowing))
    is_contact = F.col("channel").isin(*SUPPORT_CHANNELS) & F.col("_topic").isNotNull()
    conv = conv.withColumn("_next_contact_at", F.first(F.when(is_contact, F.col("opened_at")), True).over(later))
    window_s = params.repeat_window_days * 86400
    repeat = (F.col("customer_key").isNotNull() & F.col("_topic").isNotNull() & F.col("_next_contact_at").isNotNull()
              & (F.unix_timestamp("_next_contact_at") - F.unix_timestamp("opened_at") <= window_s))
    started_negative = F.col("first_v") < params.negative_valence
    ended_non_negative = F.col("last_v") >= params.non_negative_valence
    out = per_conv.join(conv, "conversation_id")
    return out.select(
        "conversation_id", "opened_date", _week(F.col("opened_at")).alias("week"), "channel",
        F.coalesce("product", F.lit("unknown")).alias("product"),
        F.coalesce("queue", F.lit("unknown")).alias("queue"), "customer_key", "agent_key", "opened_at",
        "customer_turns",
        F.col("first_v").alias("first_customer_valence"), F.col("first_label").alias("first_customer_label"),
        F.col("last_v").alias("last_customer_valence"), F.col("last_label").alias("last_customer_label"),
        (F.col("last_k") - F.col("first_k")).alias("valence_shift"),
        started_negative.alias("started_negative"), ended_non_negative.alias("ended_non_negative"),
        repeat.alias("repeat_contact"),
        (started_negative & ended_non_negative & ~repeat).alias("trust_restored"),
        (F.unix_timestamp("opened_at") + window_s > F.unix_timestamp(F.lit(as_of))).alias("repeat_window_open"),
        F.col("empathy_opportunities").cast("long").alias("empathy_opportunities"),
        F.col("empathy_hits").cast("long").alias("empathy_hits"),
        "minutes_to_first_empathy", "first_response_minutes", "resolution_minutes", "sla_breached",
        "csat", "nps_score",
    )


def empathy_turns(messages: DataFrame, emotions: DataFrame, params: OutcomeParams) -> DataFrame:
    """Every empathy opportunity with the agent who answered it and whether it was a hit."""
    turns = _with_replies(_turns(messages, emotions), params)
    return (turns.where(_is_role("customer") & (F.col("distress") >= params.distress_threshold)
                        & F.col("_next_agent_key").isNotNull())
            .select("conversation_id", "message_id", "sent_at", F.col("_next_agent_key").alias("agent_key"),
                    _is_hit(params).alias("hit")))


def build_agent_scorecard(outcomes: DataFrame, empathy: DataFrame, min_opportunities: int = 10) -> DataFrame:
    """gold.agent_scorecard: week x agent: conversations, empathy and trust-restored rates with
    Wilson 95% intervals, mean valence shift, CSAT, and an empirical-Bayes rank score.

    The empathy opportunities are credited to the agent who answered them; conversation
    figures to the conversation's agent. ``rank_score`` is the empathy rate shrunk toward the
    team's rate that week; agents below ``min_opportunities`` get ``evidence`` = 'too few'.
    """
    conv = outcomes.where(F.col("agent_key").isNotNull()).groupBy("week", "agent_key").agg(
        F.count(F.lit(1)).alias("conversations"),
        F.sum(F.col("started_negative").cast("int")).alias("started_negative"),
        F.sum(F.col("trust_restored").cast("int")).alias("trust_restored"),
        F.avg("valence_shift").alias("mean_valence_shift"),
        F.avg("csat").alias("csat"), F.count("csat").alias("csat_responses"))
    emp = empathy.withColumn("week", _week(F.col("sent_at"))).groupBy("week", "agent_key").agg(
        F.count(F.lit(1)).alias("empathy_opportunities"),
        F.sum(F.col("hit").cast("int")).alias("empathy_hits"))
    card = conv.join(emp, ["week", "agent_key"], "full").fillna(
        0, ["conversations", "started_negative", "trust_restored", "csat_responses",
            "empathy_opportunities", "empathy_hits"])
    e_lo, e_hi = wilson_interval(F.col("empathy_hits"), F.col("empathy_opportunities"))
    t_lo, t_hi = wilson_interval(F.col("trust_restored"), F.col("started_negative"))
    card = card.select(
        "week", "agent_key", F.col("conversations").cast("long"),
        F.col("empathy_opportunities").cast("long"), F.col("empathy_hits").cast("long"),
        F.try_divide(F.col("empathy_hits"), F.col("empathy_opportunities").cast("double")).alias("empathy_rate"),
        e_lo.alias("empathy_rate_low"), e_hi.alias("empathy_rate_high"),
        F.col("started_negative").cast("long"), F.col("trust_restored").cast("long"),
        F.try_divide(F.col("trust_restored"), F.col("started_negative").cast("double")).alias("trust_restored_rate"),
        t_lo.alias("trust_restored_rate_low"), t_hi.alias("trust_restored_rate_high"),
        "mean_valence_shift", "csat", F.col("csat_responses").cast("long"))
    card = empirical_bayes_rate(card, "empathy_hits", "empathy_opportunities", ["week"], output="rank_score")
    rank = Window.partitionBy("week").orderBy(F.col("rank_score").desc(), "agent_key")
    return (card.withColumn("rank", F.row_number().over(rank))
            .withColumn("evidence", F.when(F.col("empathy_opportunities") < min_opportunities, F.lit("too few"))
                        .otherwise(F.lit("ok"))))


def _hour_band(ts: Column) -> Column:
    hour = F.hour(ts)
    band: Column = F.lit(None).cast("string")
    for lo, hi, name in reversed(HOUR_BANDS):
        band = F.when((hour >= lo) & (hour < hi), F.lit(name)).otherwise(band)
    return band


def build_service_gaps(conversations: DataFrame, outcomes: DataFrame, as_of: datetime,
                       min_conversations: int = 20) -> DataFrame:
    """gold.service_gaps: week x queue x channel x product x hour band (``level`` 'segment'),
    plus each queue as a whole (``level`` 'queue': channel, product and hour band 'all').

    First-response percentiles count conversations still unanswered at ``as_of`` as
    censored at the time they have waited so far (a lower bound, so p50/p90 are never
    flattered by dropping them). ``gap_score`` = excess negative share + excess SLA breach
    rate against the whole service that week, with a 95% interval from the two
    proportions' normal approximations; ranked within week and level, rows under
    ``min_conversations`` are not ranked.
    """
    waited = ((F.unix_timestamp(F.lit(as_of)) - F.unix_timestamp("opened_at")) / 60.0)
    conv = conversations.where(F.col("sla_target_minutes").isNotNull()).select(
        "conversation_id", _week(F.col("opened_at")).alias("week"),
        F.coalesce("queue", F.lit("unknown")).alias("queue"), "channel",
        F.coalesce("product", F.lit("unknown")).alias("product"),
        _hour_band(F.col("opened_at")).alias("hour_band"),
        F.coalesce("first_response_minutes", waited).alias("frt_or_waited"),
        F.col("first_response_minutes").isNull().alias("unanswered"), "sla_breached")
    neg = outcomes.select("conversation_id", "started_negative")
    joined = conv.join(neg, "conversation_id", "left")
    keys = ["week", "queue", "channel", "product", "hour_band"]
    queues = joined.select(*(c if c not in ("channel", "product", "hour_band") else F.lit("all").alias(c)
                             for c in joined.columns))
    levels = joined.withColumn("level", F.lit("segment")).unionByName(queues.withColumn("level", F.lit("queue")))
    seg = levels.groupBy(*keys, "level").agg(
        F.count(F.lit(1)).alias("conversations"),
        F.sum(F.col("unanswered").cast("int")).alias("unanswered"),
        F.count("started_negative").alias("scored_conversations"),
        F.sum(F.col("started_negative").cast("int")).alias("negative_conversations"),
        F.count("sla_breached").alias("sla_conversations"),
        F.sum(F.col("sla_breached").cast("int")).alias("sla_breaches"),
        F.percentile("frt_or_waited", 0.5).alias("first_response_p50_minutes"),
        F.percentile("frt_or_waited", 0.9).alias("first_response_p90_minutes"))
    whole = joined.groupBy("week").agg(
        F.try_divide(F.sum(F.col("started_negative").cast("int")), F.count("started_negative").cast("double"))
        .alias("_neg_all"),
        F.try_divide(F.sum(F.col("sla_breached").cast("int")), F.count("sla_breached").cast("double"))
        .alias("_breach_all"))
    seg = seg.join(whole, "week")
    neg_share = F.try_divide(F.col("negative_conversations"), F.col("scored_conversations").cast("double"))
    breach = F.try_divide(F.col("sla_breaches"), F.col("sla_conversations").cast("double"))
    var = (F.coalesce(F.try_divide(neg_share * (1 - neg_share), F.col("scored_conversations")), F.lit(0.0))
           + F.coalesce(F.try_divide(breach * (1 - breach), F.col("sla_conversations")), F.lit(0.0)))
    gap = F.coalesce(neg_share - F.col("_neg_all"), F.lit(0.0)) + F.coalesce(breach - F.col("_breach_all"), F.lit(0.0))
    n_lo, n_hi = wilson_interval(F.col("negative_conversations"), F.col("scored_conversations"))
    b_lo, b_hi = wilson_interval(F.col("sla_breaches"), F.col("sla_conversations"))
    enough = F.col("conversations") >= min_conversations
    out = seg.select(
        *keys, "level", F.col("conversations").cast("long"), F.col("unanswered").cast("long"),
        F.col("scored_conversations").cast("long"), neg_share.alias("negative_share"),
        n_lo.alias("negative_share_low"), n_hi.alias("negative_share_high"),
        breach.alias("sla_breach_rate"), b_lo.alias("sla_breach_rate_low"), b_hi.alias("sla_breach_rate_high"),
        "first_response_p50_minutes", "first_response_p90_minutes",
        F.col("_neg_all").alias("service_negative_share"), F.col("_breach_all").alias("service_sla_breach_rate"),
        gap.alias("gap_score"), (gap - Z95 * F.sqrt(var)).alias("gap_score_low"),
        (gap + Z95 * F.sqrt(var)).alias("gap_score_high"),
        F.when(enough, F.lit("ok")).otherwise(F.lit("too few")).alias("evidence"))
    rank = Window.partitionBy("week", "level").orderBy(F.col("_ranked").desc(), F.col("gap_score").desc(), *keys)
    return (out.withColumn("_ranked", enough.cast("int"))
            .withColumn("gap_rank", F.when(enough, F.row_number().over(rank)))
            .drop("_ranked"))


@dataclass(frozen=True)
class PassiveParams:
    """What a passive is and how much evidence a driver needs (conf: ``voc.passives``)."""

    passive_low: int = 7
    passive_high: int = 8
    promoter_low: int = 9
    min_support: int = 5          # passives (or promoters, for delighters) who mention the theme
    max_ngram: int = 2


def _terms(text: Column, stopwords: Sequence[str], max_ngram: int) -> Column:
    """Distinct unigrams (and bigrams) of letters, stop words dropped, lower-cased."""
    words = F.filter(F.split(F.lower(F.coalesce(text, F.lit(""))), r"[^\p{L}]+"),
                     lambda w: (F.length(w) > 2) & ~w.isin(*stopwords))
    grams = words
    if max_ngram >= 2:
        pairs = F.transform(F.sequence(F.lit(0), F.greatest(F.size(words) - 2, F.lit(-1))),
                            lambda i: F.concat_ws(" ", F.element_at(words, i + 1), F.element_at(words, i + 2)))
        grams = F.concat(words, F.when(F.size(words) >= 2, pairs).otherwise(F.array().cast("array<string>")))
    return F.array_distinct(grams)


def _log_ratio_interval(a: Column, n1: Column, b: Column, n2: Column) -> tuple[Column, Column, Column]:
    """Ratio of two proportions (a/n1) / (b/n2) with a 95% Katz log interval (0.5 added to every cell)."""
    a5, b5 = a + 0.5, b + 0.5
    ratio = (a5 / (n1 + 0.5)) / (b5 / (n2 + 0.5))
    se = F.sqrt(1 / a5 - 1 / (n1 + 0.5) + 1 / b5 - 1 / (n2 + 0.5))
    return ratio, ratio * F.exp(-Z95 * se), ratio * F.exp(Z95 * se)


def build_passive_drivers(respondents: DataFrame, texts: DataFrame, customer_emotions: DataFrame,
                          stopwords: Sequence[str], params: PassiveParams) -> DataFrame:
    """gold.passive_drivers: month x product: what passives say more often than promoters.

    ``respondents``: (month, product, customer_key, nps_score) of NPS answers; ``texts``:
    (month, customer_key, text) of their verbatims and support messages that month;
    ``customer_emotions``: (month, customer_key, label) of their dominant emotions.
    Rows of ``kind`` 'theme' (a key phrase over-represented among passives: lift =
    share of passives mentioning it / share of promoters), 'emotion' (the same for an
    emotion label), and 'missing_delighter' (a phrase common among promoters and rare among
    passives: lift = promoters' share / passives' share). Intervals are 95% Katz log
    intervals; a row is ranked only when its support reaches ``min_support`` and its lower
    bound exceeds 1.
    """
    klass = (F.when(F.col("nps_score").between(params.passive_low, params.passive_high), F.lit("passive"))
             .when(F.col("nps_score") >= params.promoter_low, F.lit("promoter")))
    people = (respondents.select("month", "product", "customer_key", klass.alias("class"))
              .where(F.col("class").isNotNull()).dropDuplicates(["month", "product", "customer_key"]))
    sizes = people.groupBy("month", "product").agg(
        F.count(F.when(F.col("class") == "passive", 1)).alias("passives"),
        F.count(F.when(F.col("class") == "promoter", 1)).alias("promoters"))
    terms = (texts.select("month", "customer_key", F.explode(_terms(F.col("text"), stopwords, params.max_ngram))
                          .alias("item")).withColumn("kind", F.lit("theme")))
    emotions = customer_emotions.select("month", "customer_key", F.col("label").alias("item"),
                                        F.lit("emotion").alias("kind"))
    mentions = terms.unionByName(emotions).dropDuplicates(["month", "customer_key", "kind", "item"])
    counted = (people.join(mentions, ["month", "customer_key"])
               .groupBy("month", "product", "kind", "item").agg(
                   F.count(F.when(F.col("class") == "passive", 1)).alias("passives_with"),
                   F.count(F.when(F.col("class") == "promoter", 1)).alias("promoters_with"))
               .join(sizes, ["month", "product"]))
    lift, lo, hi = _log_ratio_interval(F.col("passives_with"), F.col("passives"),
                                       F.col("promoters_with"), F.col("promoters"))
    inv, inv_lo, inv_hi = _log_ratio_interval(F.col("promoters_with"), F.col("promoters"),
                                              F.col("passives_with"), F.col("passives"))
    common: list[Column | str] = ["month", "product", "item", "passives_with", "passives", "promoters_with",
                                  "promoters",
              F.try_divide(F.col("passives_with"), F.col("passives").cast("double")).alias("passive_share"),
              F.try_divide(F.col("promoters_with"), F.col("promoters").cast("double")).alias("promoter_share")]
    drivers = counted.select(*common, "kind", lift.alias("lift"), lo.alias("lift_low"), hi.alias("lift_high"),
                             (F.col("passives_with") >= params.min_support).alias("_enough"))
    delighters = counted.where(F.col("kind") == "theme").select(
        *common, F.lit("missing_delighter").alias("kind"), inv.alias("lift"), inv_lo.alias("lift_low"),
        inv_hi.alias("lift_high"), (F.col("promoters_with") >= params.min_support).alias("_enough"))
    out = drivers.unionByName(delighters)
    ranked = F.col("_enough") & (F.col("lift_low") > 1)
    order = Window.partitionBy("month", "product", "kind").orderBy(
        ranked.cast("int").desc(), F.col("lift_low").desc(), F.col("item"))
    return (out.withColumn("rank", F.when(ranked, F.row_number().over(order)))
            .withColumn("evidence", F.when(~F.col("_enough"), F.lit("too few mentions"))
                        .when(F.col("lift_low") <= 1, F.lit("not over-represented"))
                        .otherwise(F.lit("ok")))
            .drop("_enough"))

