"""Point-in-time features of conversations waiting for their first reply, for gold.sla_risk
(docs/marts.md#goldsla_risk).

A conversation is *waiting* at time ``t`` when its first-response clock has started
(``first_customer_message_at <= t``), no agent has replied yet (``first_response_at`` NULL or
after ``t``) and its SLA target has not passed (``t < sla_due_at``). Snapshot times lie on a
grid of ``SNAPSHOT_MINUTES`` from the epoch (UTC): training takes every waiting conversation
at every grid time of the history; the mart takes them at the end of each day of the build's
data interval (midnight, on the grid).

Every feature at ``t`` reads only events at or before ``t``; what happens later (replies,
messages, other conversations opening) cannot change it (tests/jobs/transforms/test_sla_risk.py
shuffles them):

- the clock: ``elapsed_minutes``, ``target_used`` (elapsed / target), ``minutes_left``,
  ``sla_target_minutes``, ``channel``, ``queue``, ``priority``; ``hour_of_day`` and ``weekend``
  of ``t``, ``clock_hour`` and ``clock_weekend`` (when the clock started; UTC);
- the queue: ``arrivals_last_hour`` and ``arrivals_last_day`` (conversations of the queue whose
  clock started in the hour, the 24 hours up to ``t``), ``queue_backlog`` (the queue's
  conversations waiting for a first reply at ``t``, clock started within ``backlog_hours``),
  ``agents_recent`` (distinct agents who wrote in the queue's conversations in the
  ``shift_minutes`` up to ``t``: the agents on shift as the data shows them),
  ``backlog_per_agent``, ``recent_answered`` and ``recent_target_used`` (the conversations of the
  queue first answered in the ``shift_minutes`` up to ``t`` and the mean share of their targets
  they used; -1 when none was);
- the customer so far: ``customer_messages`` in the conversation up to ``t``, ``max_anger`` and
  ``max_anxiety`` (the emotion model's probabilities), ``last_valence`` and ``valence_change``
  (last minus first), 0 when the customer has written nothing scored.

Reassignments are not a feature: no source field records an agent change before the first
reply. The label of a training snapshot is the conversation's ``sla_breached`` as decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from voicelake.models.sla_risk import NO_VALUE, SNAPSHOT_MINUTES, SlaRiskParams

_STEP = SNAPSHOT_MINUTES * 60

def _seconds(ts: Column) -> Column:
    return F.unix_timestamp(ts).cast("long")


def grid_ceil(ts: Column) -> Column:
    """The first grid time at or after ``ts`` (epoch seconds)."""
    return (F.ceil(_seconds(ts) / _STEP) * _STEP).cast("long")


def grid_seconds(times: Sequence[datetime]) -> list[int]:
    """Snapshot times (naive UTC) as epoch seconds; a ValueError for one off the grid."""
    seconds = [int((at - datetime(1970, 1, 1)).total_seconds()) for at in times]
    off = [at for at, t in zip(times, seconds, strict=True) if t % _STEP]
    if off:
        raise ValueError(f"sla_risk snapshots are taken on a {SNAPSHOT_MINUTES}-minute grid; {off[0]} is not on it")
    return seconds


def _clocks(conversations: DataFrame) -> DataFrame:
    """Conversations with a first-response clock: start, reply and due as epoch seconds."""
    return conversations.where(F.col("sla_target_minutes").isNotNull() & F.col("sla_due_at").isNotNull()
                               & F.col("first_customer_message_at").isNotNull()).select(
        "conversation_id", "channel", F.coalesce("queue", F.lit(NO_VALUE)).alias("queue"),
        F.coalesce("priority", F.lit(NO_VALUE)).alias("priority"), "customer_key",
        "sla_target_minutes", "sla_due_at", "sla_breached", "first_customer_message_at",
        _seconds(F.col("first_customer_message_at")).alias("_start"),
        _seconds(F.col("first_response_at")).alias("_reply"), _seconds(F.col("sla_due_at")).alias("_due"))


def _grid_times(first: Column, stop: Column) -> Column:
    """Grid times t with first <= t < stop (epoch seconds), as an array (empty when none)."""
    return F.when(first < stop, F.sequence(first, stop - 1, F.lit(_STEP).cast("long"))) \
        .otherwise(F.array().cast("array<long>"))


def waiting_snapshots(conversations: DataFrame, at: Sequence[datetime] | None = None) -> DataFrame:
    """One row per conversation waiting at a grid time: every grid time when ``at`` is None
    (training), else the times ``at`` only (the mart). Columns: the conversation's clock and
    ``t`` (epoch seconds) and ``snapshot_at``."""
    clocks = _clocks(conversations)
    first = grid_ceil(F.col("first_customer_message_at"))
    stop = F.least(F.coalesce(F.col("_reply"), F.col("_due")), F.col("_due"))
    if at is None:
        times = _grid_times(first, stop)
    else:  # only the asked times: a long wait is not expanded to its every hour first
        asked = F.array(*[F.lit(t).cast("long") for t in grid_seconds(at)]) if at else F.array().cast("array<long>")
        times = F.filter(asked, lambda t: (t >= first) & (t < stop))
    return clocks.withColumn("t", F.explode(times)).withColumn("snapshot_at", F.timestamp_seconds("t"))


def _window_times(ts: Column, minutes: int) -> Column:
    """The grid times t whose window (t - minutes, t] holds ``ts``."""
    first = grid_ceil(ts)
    buckets = -(-minutes // SNAPSHOT_MINUTES)
    return F.filter(F.sequence(first, first + (buckets - 1) * _STEP, F.lit(_STEP).cast("long")),
                    lambda t: t - _seconds(ts) < minutes * 60)


def queue_context(conversations: DataFrame, messages: DataFrame, params: SlaRiskParams,
                  at: Sequence[datetime] | None = None) -> DataFrame:
    """Per queue and grid time ``t``: arrivals in the hour and the day up to ``t``, conversations
    waiting at ``t`` (clock started within ``backlog_hours``), distinct agents who wrote in the
    ``shift_minutes`` up to ``t``, and the share of their targets the conversations first
    answered in the ``shift_minutes`` up to ``t`` used; restricted to ``at`` when given."""
    clocks = _clocks(conversations)
    hourly = clocks.groupBy("queue", grid_ceil(F.col("first_customer_message_at")).alias("t")) \
        .agg(F.count(F.lit(1)).alias("arrivals_last_hour"))
    day = Window.partitionBy("queue").orderBy("t").rangeBetween(-(24 * 3600 - _STEP), 0)
    arrivals = hourly.withColumn("arrivals_last_day", F.sum("arrivals_last_hour").over(day))
    horizon = F.col("_start") + params.backlog_hours * 3600
    waiting_until = F.least(F.coalesce(F.col("_reply"), horizon), horizon)
    backlog = clocks.select("queue", F.explode(_grid_times(grid_ceil(F.col("first_customer_message_at")),
                                                           waiting_until)).alias("t")) \
        .groupBy("queue", "t").agg(F.count(F.lit(1)).alias("queue_backlog"))
    agents = messages.where(F.col("author_role") == "agent").select("conversation_id", "agent_key", "sent_at") \
        .join(clocks.select("conversation_id", "queue"), "conversation_id") \
        .select("queue", "agent_key", F.explode(_window_times(F.col("sent_at"), params.shift_minutes)).alias("t")) \
        .groupBy("queue", "t").agg(F.count_distinct("agent_key").alias("agents_recent"))
    answered = clocks.where(F.col("_reply").isNotNull() & (F.col("_reply") >= F.col("_start"))) \
        .select("queue", ((F.col("_reply") - F.col("_start")) / 60.0 / F.col("sla_target_minutes")).alias("used"),
                F.explode(_window_times(F.timestamp_seconds("_reply"), params.shift_minutes)).alias("t")) \
        .groupBy("queue", "t").agg(F.avg("used").alias("recent_target_used"),
                                   F.count(F.lit(1)).alias("recent_answered"))
    frames = [backlog, arrivals, agents, answered]
    if at is not None:
        times = grid_seconds(at)
        frames = [f.where(F.col("t").isin(times)) for f in frames]
    out = frames[0]
    for frame in frames[1:]:
        out = out.join(frame, ["queue", "t"], "full")
    return out


def customer_so_far(snapshots: DataFrame, messages: DataFrame, emotions: DataFrame) -> DataFrame:
    """Per snapshot (conversation_id, t): the customer's scored messages in the conversation up to ``t``."""
    scored = messages.where(F.col("author_role") == "customer").select("message_id", "conversation_id", "sent_at") \
        .join(emotions.select("message_id", "p_anger", "p_anxiety", "valence"), "message_id")
    keys = snapshots.select("conversation_id", "t").distinct()
    return keys.join(scored, "conversation_id").where(_seconds(F.col("sent_at")) <= F.col("t")) \
        .groupBy("conversation_id", "t").agg(
            F.count(F.lit(1)).alias("customer_messages"), F.max("p_anger").alias("max_anger"),
            F.max("p_anxiety").alias("max_anxiety"), F.max_by("valence", "sent_at").alias("last_valence"),
            (F.max_by("valence", "sent_at") - F.min_by("valence", "sent_at")).alias("valence_change"))


def sla_features(conversations: DataFrame, messages: DataFrame, emotions: DataFrame, params: SlaRiskParams,
                 at: Sequence[datetime] | None = None) -> DataFrame:
    """Waiting conversations with every feature (module doc), one row per (conversation, t)."""
    snapshots = waiting_snapshots(conversations, at)
    elapsed = (F.col("t") - F.col("_start")) / 60.0
    context = queue_context(conversations, messages, params, at)
    customer = customer_so_far(snapshots, messages, emotions)
    zero = F.lit(0.0)
    return snapshots.join(context, ["queue", "t"], "left").join(customer, ["conversation_id", "t"], "left").select(
        "conversation_id", "t", "snapshot_at", "channel", "queue", "priority", "customer_key",
        "first_customer_message_at", "sla_due_at", "sla_breached",
        F.col("sla_target_minutes").cast("double").alias("sla_target_minutes"),
        elapsed.alias("elapsed_minutes"), (elapsed / F.col("sla_target_minutes")).alias("target_used"),
        ((F.col("_due") - F.col("t")) / 60.0).alias("minutes_left"),
        F.hour(F.col("snapshot_at")).cast("double").alias("hour_of_day"),
        F.hour(F.col("first_customer_message_at")).cast("double").alias("clock_hour"),
        F.when(F.dayofweek(F.col("first_customer_message_at")).isin(1, 7), 1.0).otherwise(0.0).alias("clock_weekend"),
        F.when(F.dayofweek(F.col("snapshot_at")).isin(1, 7), 1.0).otherwise(0.0).alias("weekend"),
        F.coalesce(F.col("arrivals_last_hour").cast("double"), zero).alias("arrivals_last_hour"),
        F.coalesce(F.col("arrivals_last_day").cast("double"), zero).alias("arrivals_last_day"),
        F.coalesce(F.col("recent_answered").cast("double"), zero).alias("recent_answered"),
        F.coalesce(F.col("recent_target_used"), F.lit(-1.0)).alias("recent_target_used"),
        F.coalesce(F.col("queue_backlog").cast("double"), zero).alias("queue_backlog"),
        F.coalesce(F.col("agents_recent").cast("double"), zero).alias("agents_recent"),
        (F.coalesce(F.col("queue_backlog").cast("double"), zero)
         / F.greatest(F.coalesce(F.col("agents_recent").cast("double"), zero), F.lit(1.0))).alias("backlog_per_agent"),
        F.coalesce(F.col("customer_messages").cast("double"), zero).alias("customer_messages"),
        F.coalesce("max_anger", zero).alias("max_anger"), F.coalesce("max_anxiety", zero).alias("max_anxiety"),
        F.coalesce("last_valence", zero).alias("last_valence"),
        F.coalesce("valence_change", zero).alias("valence_change"))


def build_sla_risk(scored: DataFrame, threshold: float, model_version: str) -> DataFrame:
    """gold.sla_risk rows from the waiting conversations with their ``breach_probability``, per
    snapshot time (``as_of``; ``date``: the day whose end it is, or the day it falls in when it
    is not a midnight): ranked by it, ``at_risk`` at ``threshold`` or more."""
    rank = Window.partitionBy("as_of").orderBy(F.col("breach_probability").desc(), F.col("conversation_id"))
    return scored.select(
        F.col("snapshot_at").alias("as_of"),
        F.to_date(F.col("snapshot_at") - F.expr("INTERVAL 1 SECOND")).alias("date"),
        "conversation_id", "channel", "queue",
        F.when(F.col("priority") != NO_VALUE, F.col("priority")).alias("priority"),
        "customer_key", F.col("first_customer_message_at").alias("clock_started_at"), "sla_due_at",
        F.col("sla_target_minutes").cast("int").alias("sla_target_minutes"),
        "elapsed_minutes", "minutes_left", "target_used", "queue_backlog", "agents_recent", "arrivals_last_hour",
        "max_anger", "max_anxiety", "last_valence", "breach_probability",
        (F.col("breach_probability") >= F.lit(threshold)).alias("at_risk"),
        F.lit(threshold).alias("flag_threshold"), F.lit(model_version).alias("model_version"),
    ).withColumn("risk_rank", F.row_number().over(rank))
