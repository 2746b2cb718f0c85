"""Build silver.messages and silver.conversations from bronze.

Every channel's records become one message shape; PII is redacted and identifiers are
pseudonymised on the way, so raw PII stays in bronze only. Writes are partition-scoped
(``sent_date`` / ``opened_date``): re-running a date replaces that date, never duplicates.

    voicelake build-silver [--date D | --since D [--until D]]
    spark-submit jobs/build_silver.py --date 2026-01-05
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

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
    SILVER_MESSAGES,
    SOURCES,
    SPARK_TYPES,
    bronze_table,
)
from voicelake.secrets import pseudonym_key_ref

CONVERSATION_SPAN_DAYS = 14  # how far a conversation may reach beyond the day it opened


@dataclass(frozen=True)
class SilverResult:
    dates: list[date]
    messages: int
    conversations: int


def read_bronze(ctx: JobContext, source: str) -> DataFrame:
    """Latest version of every record of a bronze source (empty if never ingested)."""
    schema = SOURCES[source]
    table = bronze_table(source)
    if not ctx.lake.exists(table):
        fields = [StructField(f.name, SPARK_TYPES[f.type]) for f in schema.fields]
        fields.append(StructField("_ingested_at", SPARK_TYPES["timestamp"]))
        fields.append(StructField("_source_file", SPARK_TYPES["string"]))
        return ctx.spark.createDataFrame([], StructType(fields))
    return latest_records(ctx.lake.read(table), schema.key)


def build_silver(ctx: JobContext, day: date | None = None, since: date | None = None,
                 until: date | None = None) -> SilverResult:
    """Rebuild silver for the given dates (or all of them)."""
    sources = {name: read_bronze(ctx, name) for name in SOURCES}
    unified = unify_messages(sources)
    dates = covered_dates(day, since, until,
                          lambda: scalar(unified.agg(F.max(F.to_date("sent_at")))))
    if dates is not None:
        lo = min(dates) - timedelta(days=CONVERSATION_SPAN_DAYS)
        hi = max(dates) + timedelta(days=CONVERSATION_SPAN_DAYS + 1)
        unified = unified.where(F.col("sent_at").between(F.lit(lo), F.lit(hi)))
    unified = unified.cache()
    key = pseudonym_key_ref(ctx.config)  # the executors read the key itself
    try:
        messages = build_silver_messages(unified, key)
        conversations = build_silver_conversations(
            unified, sources["tickets"], sources["surveys"], ctx.config.sla_minutes, key)
        if dates is None:
            ctx.lake.overwrite(messages, SILVER_MESSAGES, partition_by=["sent_date"])
            ctx.lake.overwrite(conversations, SILVER_CONVERSATIONS, partition_by=["opened_date"])
        else:
            messages = messages.where(F.col("sent_date").isin(dates))
            conversations = conversations.where(F.col("opened_date").isin(dates))
            ctx.lake.replace_partitions(messages, SILVER_MESSAGES, "sent_date", dates)
            ctx.lake.replace_partitions(conversations, SILVER_CONVERSATIONS, "opened_date", dates)
        n_messages = ctx.lake.rows_written(SILVER_MESSAGES)
        n_conversations = ctx.lake.rows_written(SILVER_CONVERSATIONS)
        built_dates = dates or sorted(
            r[0] for r in unified.select(F.to_date("sent_at")).distinct().collect() if r[0])
    finally:
        unified.unpersist()
    return SilverResult(built_dates, n_messages, n_conversations)


def _main(argv: Sequence[str] | None) -> int:
    parser = job_parser("voicelake build-silver",
                        "Build silver.messages and silver.conversations from bronze.")
    add_date_arguments(parser)
    args = parser.parse_args(argv)
    with open_lake(args.env) as ctx:
        result = build_silver(ctx, args.date, args.since, args.until)
    span = f"{result.dates[0]} .. {result.dates[-1]}" if result.dates else "no dates"
    print(f"silver: {result.messages} messages, {result.conversations} conversations "
          f"({len(result.dates)} days: {span})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
