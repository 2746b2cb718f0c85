"""Pure transformations that shape a table into what its expectation suite checks.

Great Expectations validates one DataFrame per suite, row by row or by aggregate. Checks
that span rows or tables (every message scored exactly once, shares summing to 1 per
group, a day's labels against a baseline) become derived columns here, so the suites in
conf/expectations stay declarative and a failing row can still be quarantined.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F


def _on_dates(col: str, dates: Sequence[date] | None) -> Column:
    return F.lit(True) if dates is None else F.col(col).isin(list(dates))


def bronze_frame(bronze: DataFrame, event_time: str, dates: Sequence[date] | None) -> DataFrame:
    """A bronze table's rows whose event falls on the dates, with ``event_date``."""
    framed = bronze.withColumn("event_date", F.to_date(F.col(event_time)))
    return framed.where(_on_dates("event_date", dates))


def messages_frame(messages: DataFrame, dates: Sequence[date] | None) -> DataFrame:
    """silver.messages of the dates, with ``sent_at_date`` to check rows sit in their partition."""
    return (messages.where(_on_dates("sent_date", dates))
            .withColumn("sent_at_date", F.to_date("sent_at")))


def emotion_coverage(messages: DataFrame, emotions: DataFrame, labels: Sequence[str],
                     dates: Sequence[date] | None) -> DataFrame:
    """One row per silver message of the dates with its score: ``scores`` (score rows for the
    message, 1 when scored exactly once), label, valence, model_version and ``p_min``,
    ``p_max``, ``p_sum`` over the per-label probabilities."""
    probs = [F.col(f"p_{label}") for label in labels]
    scored = emotions.where(_on_dates("sent_date", dates)).select(
        "message_id", "label", "valence", "model_version",
        F.least(*probs).alias("p_min"), F.greatest(*probs).alias("p_max"),
        sum(probs[1:], probs[0]).alias("p_sum"))
    joined = messages.where(_on_dates("sent_date", dates)).select("message_id").join(
        scored, "message_id", "left")
    return joined.groupBy("message_id").agg(
        F.count("model_version").alias("scores"),
        F.first("label", ignorenulls=True).alias("label"),
        F.first("valence", ignorenulls=True).alias("valence"),
        F.first("model_version", ignorenulls=True).alias("model_version"),
        F.min("p_min").alias("p_min"), F.max("p_max").alias("p_max"),
        F.first("p_sum", ignorenulls=True).alias("p_sum"))


def customer_coverage(messages: DataFrame, rows: DataFrame, dates: Sequence[date] | None, count_name: str,
                      columns: Sequence[str]) -> DataFrame:
    """One row per customer message of the dates with what a model wrote for it (``rows``,
    keyed by message_id, partitioned by sent_date): ``count_name`` (its rows, 1 when written
    exactly once, counted by model_version) and the first non-null value of each of ``columns``."""
    written = rows.where(_on_dates("sent_date", dates)).select("message_id", *columns)
    joined = (messages.where(_on_dates("sent_date", dates) & (F.col("author_role") == "customer"))
              .select("message_id").join(written, "message_id", "left"))
    return joined.groupBy("message_id").agg(
        F.count("model_version").alias(count_name),
        *[F.first(c, ignorenulls=True).alias(c) for c in columns if c != "message_id"])


def topic_coverage(messages: DataFrame, topics: DataFrame, dates: Sequence[date] | None) -> DataFrame:
    """One row per customer message of the dates with its topic: ``topics`` (topic rows for the
    message, 1 when assigned exactly once), topic_id, topic_label, distance, model_version."""
    return customer_coverage(messages, topics, dates, "topics",
                             ["topic_id", "topic_label", "distance", "model_version"])


def suggestion_coverage(messages: DataFrame, suggestions: DataFrame, dates: Sequence[date] | None) -> DataFrame:
    """One row per customer message of the dates with the suggestion detector's reading:
    ``readings`` (1 when read exactly once), is_suggestion, suggestion_probability,
    suggestion_sentence, model_version."""
    return customer_coverage(messages, suggestions, dates, "readings",
                             ["is_suggestion", "suggestion_probability", "suggestion_sentence", "model_version"])


def label_drift(emotions: DataFrame, day: date, baseline_days: int) -> DataFrame:
    """Per label: the day's share of scored messages, its share over the ``baseline_days``
    days before, and ``shift`` = |day_share - baseline_share|; with the day and baseline
    message totals on every row."""
    first = day - timedelta(days=baseline_days)
    window = emotions.where(F.col("sent_date").between(F.lit(first), F.lit(day))).withColumn(
        "on_day", F.col("sent_date") == F.lit(day))
    counts = window.groupBy("label").agg(
        F.count(F.when(F.col("on_day"), 1)).alias("day_messages"),
        F.count(F.when(~F.col("on_day"), 1)).alias("baseline_label_messages"))
    totals = counts.agg(F.sum("day_messages").alias("day_total"),
                        F.sum("baseline_label_messages").alias("baseline_total"))
    return counts.crossJoin(totals).select(
        "label", "day_total", "baseline_total",
        F.try_divide(F.col("day_messages"), F.col("day_total")).alias("day_share"),
        F.try_divide(F.col("baseline_label_messages"), F.col("baseline_total")).alias("baseline_share"),
    ).withColumn("shift", F.abs(F.col("day_share") - F.col("baseline_share")))


def _nonblank(*cols: str) -> Column:
    lengths = [F.coalesce(F.length(F.trim(c)), F.lit(0)) for c in cols]
    return sum(lengths[1:], lengths[0]) > 0


# Which bronze records are silver messages, written for the reconciliation on its own (not by
# reusing the silver transform): source -> (key, send time, has text). A ticket's description
# and a review or survey answer with no text are not messages; every other record is one.
MESSAGE_SOURCES: dict[str, tuple[str, Callable[[], Column], Callable[[], Column]]] = {
    "tickets": ("ticket_id", lambda: F.col("created_at"), lambda: _nonblank("description")),
    "ticket_comments": ("comment_id", lambda: F.col("created_at"), lambda: F.lit(True)),
    "chat_messages": ("message_id", lambda: F.col("sent_at"), lambda: F.lit(True)),
    "emails": ("email_id", lambda: F.col("sent_at"), lambda: F.lit(True)),
    "call_utterances": ("utterance_id", lambda: F.col("call_started_at") + F.make_dt_interval(
        secs=F.col("start_offset_s").cast("decimal(18,6)")), lambda: F.lit(True)),
    "social_posts": ("post_id", lambda: F.col("posted_at"), lambda: F.lit(True)),
    "reviews": ("review_id", lambda: F.col("created_at"), lambda: _nonblank("title", "body")),
    "surveys": ("response_id", lambda: F.col("responded_at"), lambda: _nonblank("verbatim")),
}


def expected_messages_per_date(bronze: Mapping[str, DataFrame], dates: Sequence[date] | None) -> DataFrame:
    """``date, bronze_messages``: how many silver messages bronze implies per day, counted
    straight from the message sources (each record's newest version; deleted records left out)."""
    counts = []
    for source, df in bronze.items():
        key, sent_at, has_text = MESSAGE_SOURCES[source]
        # newest version: a Delta source's commit version first (NULL for files sorts lowest in
        # a struct), then ingest time, then file; a newest version that is a change-feed delete
        # removes the record
        deleted = (F.get_json_object(F.col("_raw"), "$._change_type") == F.lit("delete")
                   if "_raw" in df.columns else F.lit(False))
        order = [c for c in ("_source_version", "_ingested_at", "_source_file") if c in df.columns]
        latest = df.groupBy(key).agg(F.max_by(F.struct(F.to_date(sent_at()).alias("date"),
                                                        has_text().alias("has_text"),
                                                        F.coalesce(deleted, F.lit(False)).alias("deleted")),
                                              F.struct(*order)).alias("r"))
        counts.append(latest.where("r.has_text AND NOT r.deleted").select("r.date").where(_on_dates("date", dates)))
    if not counts:
        raise ValueError("no bronze message source to reconcile silver.messages against")
    union = counts[0]
    for c in counts[1:]:
        union = union.unionByName(c)
    return union.groupBy("date").agg(F.count(F.lit(1)).alias("bronze_messages"))


def count_per_date(table: DataFrame, dates: Sequence[date] | None, name: str,
                   date_col: str = "sent_date") -> DataFrame:
    """``date, <name>``: rows per day of the dates."""
    return (table.where(_on_dates(date_col, dates)).groupBy(F.col(date_col).alias("date"))
            .agg(F.count(F.lit(1)).alias(name)))


def message_counts(expected: DataFrame, silver: DataFrame, scored: DataFrame | None,
                   dates: Sequence[date] | None) -> DataFrame:
    """One row per day of the dates (every day any count has, for a full run):
    ``bronze_messages``, ``silver_messages``, ``scored_messages`` (0 where a count has no
    rows; all null when nothing is scored yet)."""
    out = expected.join(silver, "date", "full")
    if scored is None:
        out = out.withColumn("scored_messages", F.lit(None).cast("long"))
    else:
        out = out.join(scored, "date", "full").withColumn("scored_messages", F.coalesce("scored_messages", F.lit(0)))
    if dates is not None:
        out = silver.sparkSession.createDataFrame([(d,) for d in dates], "date date").join(out, "date", "left")
    return out.select("date", F.coalesce("bronze_messages", F.lit(0)).cast("long").alias("bronze_messages"),
                      F.coalesce("silver_messages", F.lit(0)).cast("long").alias("silver_messages"),
                      F.col("scored_messages").cast("long").alias("scored_messages"))


def with_date_reconciliation(gold: DataFrame, silver_counts: DataFrame, measure: str | None = "messages",
                             total: str = "date_messages") -> DataFrame:
    """A gold table with ``total`` (its ``measure`` summed over the row's date; its rows when
    None) and the count of ``silver_counts`` (``date`` and one count column, e.g.
    ``silver_messages``; 0 when the date has none), to check they agree."""
    (count,) = [c for c in silver_counts.columns if c != "date"]
    amount = F.count(F.lit(1)) if measure is None else F.sum(measure)
    return (gold.withColumn(total, amount.over(Window.partitionBy("date")))
            .join(F.broadcast(silver_counts), "date", "left")
            .withColumn(count, F.coalesce(count, F.lit(0)).cast("long")))


def to_validation_quarantine(rows: DataFrame, table: str, reason: str, batch_id: str,
                             at: datetime) -> DataFrame:
    """Rows that failed an expectation, in bronze.quarantine's shape: the whole row as JSON,
    the table as source, the suite and expectation as reason."""
    return rows.select(
        F.lit(table).alias("source"),
        F.to_json(F.struct(*[F.col(f"`{c}`") for c in rows.columns])).alias("raw_record"),
        F.lit(None).cast("string").alias("source_file"),
        F.lit(None).cast("long").alias("source_version"),
        F.lit(reason).alias("reason"),
        F.lit(batch_id).alias("batch_id"),
        F.lit(at).cast("timestamp").alias("ingested_at"))
