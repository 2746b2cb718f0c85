"""Build silver.messages and silver.conversations from bronze.

Every channel's records become one message shape; PII is redacted and identifiers are
pseudonymised on the way, so raw PII stays in bronze only. Writes are partition-scoped
(``sent_date`` / ``opened_date``): re-running a date replaces that date, never duplicates.

    voicelake build-silver [--date D | --since D [--until D]]
    spark-submit jobs/build_silver.py --date 2026-01-05
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType

from voicelake.config import load_config
from voicelake.faults import fault
from voicelake.jobs.build_log import SILVER_BUILD_LOG, new_build_id, record_build, unconsumed_batches
from voicelake.jobs.transforms.incidents import silver_incidents, silver_releases
from voicelake.jobs.transforms.silver import (
    build_silver_conversations,
    build_silver_messages,
    latest_records,
    unify_messages,
)
from voicelake.lake import scalar
from voicelake.runtime import (
    JobContext,
    add_date_arguments,
    covered_dates,
    job_parser,
    open_lake,
    run_job,
)
from voicelake.schemas import (
    SILVER_CONVERSATIONS,
    SILVER_INCIDENTS,
    SILVER_MESSAGES,
    SILVER_RELEASES,
    SOURCES,
    SPARK_TYPES,
    bronze_table,
)
from voicelake.secrets import pseudonym_key, pseudonym_key_ref

CONVERSATION_SPAN_DAYS = 14  # how far a conversation may reach beyond the day it opened


@dataclass(frozen=True)
class SilverResult:
    dates: list[date]
    messages: int
    conversations: int
    late_dates: list[date] = field(default_factory=list)  # rebuilt beyond the requested dates


def _empty_bronze(ctx: JobContext, source: str) -> DataFrame:
    fields = [StructField(f.name, SPARK_TYPES[f.type]) for f in SOURCES[source].fields]
    fields += [StructField("_raw", SPARK_TYPES["string"]), StructField("_source_file", SPARK_TYPES["string"]),
               StructField("_source_version", LongType()), StructField("_batch_id", SPARK_TYPES["string"]),
               StructField("_ingested_at", SPARK_TYPES["timestamp"])]
    return ctx.spark.createDataFrame([], StructType(fields))


def read_bronze_raw(ctx: JobContext, source: str) -> DataFrame:
    """Every version of every record of a bronze source (empty if never ingested)."""
    table = bronze_table(source)
    return ctx.lake.read(table) if ctx.lake.exists(table) else _empty_bronze(ctx, source)


def read_bronze(ctx: JobContext, source: str) -> DataFrame:
    """Latest version of every record of a bronze source, deletes removed (empty if never ingested)."""
    return latest_records(read_bronze_raw(ctx, source), SOURCES[source].key)


def _dates(df: DataFrame, column: str) -> set[date]:
    return {r[0] for r in df.select(F.to_date(column)).distinct().collect() if r[0] is not None}


def touched_dates(ctx: JobContext, raw: Mapping[str, DataFrame], unified: DataFrame,
                  batches: Sequence[str]) -> set[date]:
    """Every silver date that records of the given ingest batches change: the days their
    messages were (and are now) sent on, and the days their conversations opened (before and now)."""
    if not batches:
        return set()
    new = {name: latest_records(df.where(F.col("_batch_id").isin(list(batches))), SOURCES[name].key,
                                keep_tombstones=True) for name, df in raw.items()}
    new_unified = unify_messages(new)
    ids = new_unified.select("conversation_id").unionByName(
        new["tickets"].select(F.concat(F.lit("ticket:"), F.col("ticket_id")).alias("conversation_id"))
    ).unionByName(
        new["surveys"].select(F.concat(F.lit("survey:"), F.col("response_id")).alias("conversation_id"))
    ).unionByName(
        new["surveys"].where(F.col("ticket_id").isNotNull())
        .select(F.concat(F.lit("ticket:"), F.col("ticket_id")).alias("conversation_id"))
    ).distinct().cache()
    try:
        dates = _dates(new_unified, "sent_at")
        dates |= _dates(unified.join(ids, "conversation_id"), "sent_at")
        opened = (new["tickets"].select(F.col("created_at").alias("t"))
                  .unionByName(new["surveys"].select(F.col("responded_at").alias("t"))))
        dates |= _dates(opened, "t")
        if ctx.lake.exists(SILVER_CONVERSATIONS):
            dates |= _dates(ctx.lake.read(SILVER_CONVERSATIONS).join(ids, "conversation_id"), "opened_date")
        if ctx.lake.exists(SILVER_MESSAGES):
            old = ctx.lake.read(SILVER_MESSAGES).join(new_unified.select("message_id"), "message_id")
            dates |= _dates(old, "sent_date")
    finally:
        ids.unpersist()
    return dates


def pending_sla_dates(ctx: JobContext, as_of: datetime) -> set[date]:
    """Days holding a conversation that was still open within its SLA target when last built
    and whose target has passed by ``as_of`` (its ``sla_breached`` turns TRUE now)."""
    if not ctx.lake.exists(SILVER_CONVERSATIONS):
        return set()
    pending = ctx.lake.read(SILVER_CONVERSATIONS).where(
        F.col("first_response_censored") & F.col("sla_breached").isNull()
        & (F.col("sla_due_at") <= F.lit(as_of)))
    return _dates(pending, "opened_date")


def build_reference_tables(ctx: JobContext, sources: Mapping[str, DataFrame]) -> None:
    """silver.incidents and silver.releases, rebuilt whole (a few rows per day at most),
    products named as messages name them (``incidents.product_aliases``)."""
    aliases = ctx.config.incidents.product_aliases
    ctx.lake.overwrite(silver_incidents(sources["incidents"], aliases), SILVER_INCIDENTS)
    ctx.lake.overwrite(silver_releases(sources["releases"], aliases), SILVER_RELEASES)


def build_silver(ctx: JobContext, day: date | None = None, since: date | None = None,
                 until: date | None = None) -> SilverResult:
    """Rebuild silver for the given dates (or all of them), plus every earlier or later date
    that records ingested since the last silver build touch; logged in silver.build_log."""
    raw = {name: read_bronze_raw(ctx, name) for name in SOURCES}
    sources = {name: latest_records(df, SOURCES[name].key) for name, df in raw.items()}
    unified = unify_messages(sources)
    batches = unconsumed_batches(ctx)
    run_dates = covered_dates(day, since, until,
                              lambda: scalar(unified.agg(F.max(F.to_date("sent_at")))))
    dates = run_dates
    late: list[date] = []
    if run_dates is not None:
        as_of: datetime = datetime.combine(max(run_dates) + timedelta(days=1), time.min)
        extra = touched_dates(ctx, raw, unified, batches) | pending_sla_dates(ctx, as_of)
        late = sorted(extra - set(run_dates))
        dates = sorted(set(run_dates) | extra)
        lo = min(dates) - timedelta(days=CONVERSATION_SPAN_DAYS)
        hi = max(dates) + timedelta(days=CONVERSATION_SPAN_DAYS + 1)
        unified = unified.where(F.col("sent_at").between(F.lit(lo), F.lit(hi)))
    unified = unified.cache()  # before the full build's max date below: that query fills the cache
    if run_dates is None:
        last = scalar(unified.agg(F.max(F.to_date("sent_at"))))
        as_of = datetime.combine((last or date.today()) + timedelta(days=1), time.min)
    key = pseudonym_key_ref(ctx.config)  # the executors read the key itself
    before = {table: ctx.lake.version(table) for table in (SILVER_MESSAGES, SILVER_CONVERSATIONS)}
    try:
        messages = build_silver_messages(unified, key)
        conversations = build_silver_conversations(
            unified, sources["tickets"], sources["surveys"], ctx.config.sla_minutes, key, as_of=as_of)
        if dates is None:
            ctx.lake.overwrite(messages, SILVER_MESSAGES, partition_by=["sent_date"])
            fault("silver.between_tables")  # crash drill: messages written, conversations not
            ctx.lake.overwrite(conversations, SILVER_CONVERSATIONS, partition_by=["opened_date"])
        else:
            messages = messages.where(F.col("sent_date").isin(dates))
            conversations = conversations.where(F.col("opened_date").isin(dates))
            ctx.lake.replace_partitions(messages, SILVER_MESSAGES, "sent_date", dates)
            fault("silver.between_tables")  # crash drill: messages written, conversations not
            ctx.lake.replace_partitions(conversations, SILVER_CONVERSATIONS, "opened_date", dates)
        n_messages = ctx.lake.rows_written(SILVER_MESSAGES, before[SILVER_MESSAGES])
        n_conversations = ctx.lake.rows_written(SILVER_CONVERSATIONS, before[SILVER_CONVERSATIONS])
        built_dates = dates or sorted(
            r[0] for r in unified.select(F.to_date("sent_at")).distinct().collect() if r[0])
    finally:
        unified.unpersist()
    build_reference_tables(ctx, sources)
    record_build(ctx, SILVER_BUILD_LOG, new_build_id(), as_of, run_dates, built_dates, batches)
    return SilverResult(built_dates, n_messages, n_conversations, late)


def _main(argv: Sequence[str] | None) -> int:
    parser = job_parser("voicelake build-silver",
                        "Build silver.messages and silver.conversations from bronze.")
    add_date_arguments(parser)
    args = parser.parse_args(argv)
    config = load_config(args.env)
    pseudonym_key(config)  # a missing key fails here, in one line, before Spark starts
    with open_lake(config=config) as ctx:
        result = build_silver(ctx, args.date, args.since, args.until)
    span = f"{result.dates[0]} .. {result.dates[-1]}" if result.dates else "no dates"
    print(f"silver: {result.messages} messages, {result.conversations} conversations "
          f"({len(result.dates)} days: {span})")
    if result.late_dates:
        print(f"silver: also rebuilt {len(result.late_dates)} other day(s) touched by late or updated "
              f"records or by SLA targets passing: {', '.join(map(str, result.late_dates))}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
