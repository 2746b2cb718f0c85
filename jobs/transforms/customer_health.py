"""Customer x week features for gold.customer_health and the churn model
(docs/marts.md#goldcustomer_health).

Weeks start on Monday (UTC). A customer-week's ``as_of`` is the week's end (the next Monday,
00:00), or the data cut-off for a week not over yet. A customer has a row for a week when they
had a conversation (any channel) in the ``lookback_weeks`` up to its end and had not cancelled
before ``as_of``. Every feature reads only conversations and messages before ``as_of``; what
happens later cannot change it (tests/jobs/transforms/test_customer_health.py moves it):

- contacts: ``contacts_recent`` and ``contacts_lookback`` (support conversations opened in the
  ``recent_weeks`` / ``lookback_weeks`` up to the week's end), ``repeat_contacts_recent`` (those
  of the recent weeks opened within ``repeat_window_days`` of the customer's previous support
  conversation on the same topic), ``unresolved_recent`` (recent support conversations whose
  last customer turn so far is below ``non_negative_valence``: they end unhappy),
  ``days_since_last_contact`` (since the last conversation of any channel);
- emotion: ``customer_messages_recent``, ``mean_valence_recent``, ``negative_share_recent``
  (customer turns below ``negative_valence``), ``last_valence``, ``valence_trend`` (recent mean
  minus the mean of the lookback's earlier weeks; 0 without both), over the whole lookback
  ``mean_valence_lookback`` and ``min_valence_lookback``, ``opening_valence_lookback`` (the mean
  of each conversation's first customer turn: how the customer felt coming in, before the
  agent's part) and ``negative_openings_lookback`` (conversations opened below
  ``negative_valence``), ``days_since_bad_experience`` (since the customer's first turn in the
  last support conversation of the lookback that opened below ``negative_valence`` and ends
  unhappy so far; -1 when none);
- surveys: ``last_survey_score`` (the last NPS answer of the lookback, a CSAT answer mapped
  1..5 -> 0..10; -1 when none) and ``weeks_since_survey`` (-1 when none).

Numeric features without data are 0 (valences: 0, the neutral point). The label
``churned_within_horizon`` is whether an agent confirms the customer's cancellation
(``cancellations``) within ``horizon_weeks`` after ``as_of``: known once the data reaches the
window's end, NULL while it is open (for a customer who already cancelled too).
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from voicelake.jobs.transforms.voc import SUPPORT_CHANNELS, OutcomeParams
from voicelake.models.churn import ChurnParams

WEEK_SECONDS = 7 * 86400


def _week(ts: Column) -> Column:
    return F.to_date(F.date_trunc("week", ts))


def _weeks_covering(ts: Column, weeks: int) -> Column:
    """The weeks whose ``weeks``-week window up to their end holds ``ts``: its own week and the
    ``weeks - 1`` after it."""
    first = _week(ts)
    return F.sequence(first, F.date_add(first, 7 * (weeks - 1)), F.expr("INTERVAL 7 DAYS"))


def _age_weeks(ts: Column) -> Column:
    """Whole weeks from the week of ``ts`` to the row's ``week`` (0: the same week)."""
    return (F.datediff(F.col("week"), _week(ts)) / 7).cast("int")


def cancellations(conversations: DataFrame, messages: DataFrame, pattern: str) -> DataFrame:
    """(customer_key, cancelled_at, cancellation_conversation_id): the first agent message
    matching ``pattern`` in each customer's conversations."""
    confirmed = messages.where((F.col("author_role") == "agent") & F.col("text").rlike(pattern)) \
        .select("conversation_id", "sent_at")
    owners = conversations.where(F.col("customer_key").isNotNull()).select("conversation_id", "customer_key")
    return confirmed.join(owners, "conversation_id").groupBy("customer_key").agg(
        F.min("sent_at").alias("cancelled_at"),
        F.min_by("conversation_id", "sent_at").alias("cancellation_conversation_id"))


def _contact_weeks(conversations: DataFrame, params: ChurnParams, outcome: OutcomeParams) -> DataFrame:
    """Per (customer_key, week): contacts, repeats, the last contact and survey answer."""
    support = F.col("channel").isin(*SUPPORT_CHANNELS)
    topic = F.coalesce(F.col(outcome.topic_column).cast("string"), F.lit("(none)"))
    previous = Window.partitionBy("customer_key", "_support", "_topic").orderBy("opened_at", "conversation_id")
    survey = F.when(F.col("channel") == "survey",
                    F.coalesce(F.col("nps_score").cast("double"), (F.col("csat").cast("double") - 1.0) * 2.5))
    conv = (conversations.where(F.col("customer_key").isNotNull() & F.col("opened_at").isNotNull())
            .select("conversation_id", "customer_key", "channel", "product", "opened_at",
                    support.alias("_support"), topic.alias("_topic"), survey.alias("_survey"))
            .withColumn("_previous_at", F.lag("opened_at").over(previous))
            .withColumn("_repeat", F.col("_support") & F.col("_previous_at").isNotNull()
                        & (F.unix_timestamp("opened_at") - F.unix_timestamp("_previous_at")
                           <= outcome.repeat_window_days * 86400))
            .withColumn("week", F.explode(_weeks_covering(F.col("opened_at"), params.lookback_weeks))))
    recent = _age_weeks(F.col("opened_at")) < params.recent_weeks
    answered = F.col("_survey").isNotNull()
    return conv.groupBy("customer_key", "week").agg(
        F.sum(F.col("_support").cast("int")).alias("contacts_lookback"),
        F.sum((F.col("_support") & recent).cast("int")).alias("contacts_recent"),
        F.sum((F.col("_repeat") & recent).cast("int")).alias("repeat_contacts_recent"),
        F.max("opened_at").alias("last_contact_at"),
        F.max_by("product", "opened_at").alias("product"),
        F.max(F.when(answered, F.struct("opened_at", "_survey"))).alias("_last_survey"))


def _emotion_weeks(conversations: DataFrame, messages: DataFrame, emotions: DataFrame, params: ChurnParams,
                   outcome: OutcomeParams) -> DataFrame:
    """Per (customer_key, week): the customer's scored turns and the recent conversations that
    end unhappy so far."""
    support = conversations.where(F.col("channel").isin(*SUPPORT_CHANNELS)).select("conversation_id")
    turns = (messages.where((F.col("author_role") == "customer") & F.col("customer_key").isNotNull())
             .select("message_id", "conversation_id", "customer_key", "sent_at")
             .join(emotions.select("message_id", "valence"), "message_id")
             .join(support.select("conversation_id", F.lit(True).alias("_support")), "conversation_id", "left")
             .withColumn("week", F.explode(_weeks_covering(F.col("sent_at"), params.lookback_weeks))))
    recent = _age_weeks(F.col("sent_at")) < params.recent_weeks
    per_conversation = turns.groupBy("customer_key", "week", "conversation_id").agg(
        F.min_by("valence", "sent_at").alias("_first"), F.max_by("valence", "sent_at").alias("_last"),
        F.min("sent_at").alias("_started"), F.max(recent).alias("_recent"),
        F.first("_support", ignorenulls=True).alias("_support"))
    is_support = F.coalesce(F.col("_support"), F.lit(False))
    unhappy = F.col("_last") < outcome.non_negative_valence
    bad = is_support & unhappy & (F.col("_first") < outcome.negative_valence)
    unresolved = per_conversation.groupBy("customer_key", "week").agg(
        F.sum((F.col("_recent") & is_support & unhappy).cast("int")).alias("unresolved_recent"),
        F.max(F.when(bad, F.col("_started"))).alias("_last_bad_at"),
        F.avg("_first").alias("_opening_mean"),
        F.sum((F.col("_first") < outcome.negative_valence).cast("int")).alias("_negative_openings"))
    negative = (F.col("valence") < outcome.negative_valence).cast("double")
    emotion = turns.groupBy("customer_key", "week").agg(
        F.sum(recent.cast("int")).alias("customer_messages_recent"),
        F.avg(F.when(recent, F.col("valence"))).alias("_mean_recent"),
        F.avg(F.when(~recent, F.col("valence"))).alias("_mean_before"),
        F.avg(F.when(recent, negative)).alias("_negative_recent"),
        F.max_by("valence", "sent_at").alias("_last_valence"),
        F.avg("valence").alias("_mean_lookback"), F.min("valence").alias("_min_lookback"))
    return emotion.join(unresolved, ["customer_key", "week"])


def customer_week_features(conversations: DataFrame, messages: DataFrame, emotions: DataFrame,
                           params: ChurnParams, outcome: OutcomeParams, data_end: datetime) -> DataFrame:
    """One row per customer-week (module doc) with every feature and the label; the weeks up
    to the one ``data_end`` falls in. ``data_end``: the cut-off of the data (exclusive)."""
    end = F.lit(data_end).cast("timestamp")
    week_end = F.to_timestamp(F.date_add(F.col("week"), 7))
    before = F.col("week") <= _week(end)
    conversations = conversations.where(F.col("opened_at") < end)
    messages = messages.where(F.col("sent_at") < end)
    contacts = _contact_weeks(conversations, params, outcome).where(before)
    feelings = _emotion_weeks(conversations, messages, emotions, params, outcome)
    cancelled = cancellations(conversations, messages, params.cancellation_pattern)
    as_of = F.least(week_end, end)
    rows = (contacts.join(feelings, ["customer_key", "week"], "left").join(cancelled, "customer_key", "left")
            .withColumn("as_of", as_of)
            .where(F.col("cancelled_at").isNull() | (F.col("cancelled_at") >= F.col("as_of"))))
    horizon_end = F.col("as_of") + F.expr(f"INTERVAL {7 * params.horizon_weeks} DAYS")
    # known once the data reaches the horizon's end (a churner's too: a label known earlier only
    # for churners would bias every recent week toward them)
    label = F.when(horizon_end <= end, F.coalesce(F.col("cancelled_at") < horizon_end, F.lit(False)))
    zero = F.lit(0.0)
    survey_at = F.col("_last_survey.opened_at")
    return rows.select(
        "week", "as_of", "customer_key", F.coalesce("product", F.lit("unknown")).alias("product"),
        F.col("contacts_recent").cast("double").alias("contacts_recent"),
        F.col("contacts_lookback").cast("double").alias("contacts_lookback"),
        F.col("repeat_contacts_recent").cast("double").alias("repeat_contacts_recent"),
        F.coalesce(F.col("unresolved_recent").cast("double"), zero).alias("unresolved_recent"),
        ((F.unix_timestamp("as_of") - F.unix_timestamp("last_contact_at")) / 86400.0).alias("days_since_last_contact"),
        F.coalesce(F.col("customer_messages_recent").cast("double"), zero).alias("customer_messages_recent"),
        F.coalesce("_mean_recent", zero).alias("mean_valence_recent"),
        F.coalesce("_negative_recent", zero).alias("negative_share_recent"),
        F.coalesce("_last_valence", zero).alias("last_valence"),
        F.coalesce(F.col("_mean_recent") - F.col("_mean_before"), zero).alias("valence_trend"),
        F.coalesce("_mean_lookback", zero).alias("mean_valence_lookback"),
        F.coalesce("_min_lookback", zero).alias("min_valence_lookback"),
        F.coalesce("_opening_mean", zero).alias("opening_valence_lookback"),
        F.coalesce(F.col("_negative_openings").cast("double"), zero).alias("negative_openings_lookback"),
        F.coalesce((F.unix_timestamp("as_of") - F.unix_timestamp("_last_bad_at")) / 86400.0,
                   F.lit(-1.0)).alias("days_since_bad_experience"),
        F.coalesce(F.col("_last_survey._survey"), F.lit(-1.0)).alias("last_survey_score"),
        F.coalesce((F.unix_timestamp("as_of") - F.unix_timestamp(survey_at)) / float(WEEK_SECONDS),
                   F.lit(-1.0)).alias("weeks_since_survey"),
        survey_at.alias("last_survey_at"), "last_contact_at", "cancelled_at",
        label.alias("churned_within_horizon"))


def build_customer_health(scored: DataFrame, base_rate: float, model_version: str,
                          predicted_nps: DataFrame | None = None) -> DataFrame:
    """gold.customer_health rows from the customer-weeks with their ``churn_probability``:
    ``risk_lift`` (the probability over the model's training base rate), ``risk_rank`` within
    the week, and the predicted NPS class (``predicted_nps``: week, customer_key,
    predicted_nps_class, p_promoter, p_detractor; NULL for a customer it does not hold)."""
    rank = Window.partitionBy("week").orderBy(F.col("churn_probability").desc(), F.col("customer_key"))
    if predicted_nps is None:
        predicted_nps = scored.sparkSession.createDataFrame(
            [], "week date, customer_key string, predicted_nps_class string, p_promoter double, p_detractor double")
    lift = F.when(F.lit(base_rate) > 0, F.col("churn_probability") / F.lit(base_rate))
    return scored.join(predicted_nps, ["week", "customer_key"], "left").select(
        "week", "as_of", "customer_key", "product", "contacts_recent", "contacts_lookback", "unresolved_recent",
        "repeat_contacts_recent", "days_since_last_contact", "customer_messages_recent", "mean_valence_recent",
        "negative_share_recent", "last_valence", "valence_trend", "mean_valence_lookback", "min_valence_lookback",
        "opening_valence_lookback", "negative_openings_lookback",
        F.when(F.col("days_since_bad_experience") >= 0, F.col("days_since_bad_experience"))
        .alias("days_since_bad_experience"),
        F.when(F.col("last_survey_score") >= 0, F.col("last_survey_score")).alias("last_survey_score"),
        "last_survey_at", "predicted_nps_class", "p_promoter", "p_detractor", "churn_probability",
        lift.alias("risk_lift"), F.lit(base_rate).alias("base_rate"), "churned_within_horizon",
        F.lit(model_version).alias("model_version"),
    ).withColumn("risk_rank", F.row_number().over(rank))
