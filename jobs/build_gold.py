"""Build the gold marts BI analysts query from silver: gold.service_daily, and
gold.emotion_daily once silver.message_emotions exists.

Partition-scoped by ``date``: re-running a date replaces that date.

    voicelake build-gold [--date D | --since D [--until D]]
    spark-submit jobs/build_gold.py --date 2026-01-05
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import functions as F

from jobs.transforms.gold import build_emotion_daily, build_service_daily
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
    GOLD_EMOTION_DAILY,
    GOLD_SERVICE_DAILY,
    SILVER_CONVERSATIONS,
    SILVER_MESSAGE_EMOTIONS,
    SILVER_MESSAGES,
)


def build_gold(ctx: JobContext, day: date | None = None, since: date | None = None,
               until: date | None = None) -> dict[str, int]:
    """Rebuild gold for the dates; returns rows written per table."""
    conversations = ctx.lake.read(SILVER_CONVERSATIONS)
    messages = ctx.lake.read(SILVER_MESSAGES)
    dates = covered_dates(day, since, until, lambda: scalar(messages.agg(F.max("sent_date"))))
    if dates is not None:
        conversations = conversations.where(F.col("opened_date").isin(dates))
        messages = messages.where(F.col("sent_date").isin(dates))
    marts = {GOLD_SERVICE_DAILY: build_service_daily(conversations, messages)}
    if ctx.lake.exists(SILVER_MESSAGE_EMOTIONS):
        marts[GOLD_EMOTION_DAILY] = build_emotion_daily(messages, ctx.lake.read(SILVER_MESSAGE_EMOTIONS))
    written = {}
    for table, frame in marts.items():
        if dates is None:
            ctx.lake.overwrite(frame, table, partition_by=["date"])
        else:
            ctx.lake.replace_partitions(frame, table, "date", dates)
        written[table] = ctx.lake.rows_written(table)
    return written


def _main(argv: Sequence[str] | None) -> int:
    parser = job_parser("voicelake build-gold", "Build gold marts from silver.")
    add_date_arguments(parser)
    args = parser.parse_args(argv)
    with open_lake(args.env) as ctx:
        result = build_gold(ctx, args.date, args.since, args.until)
    for table, rows in result.items():
        print(f"{table}: {rows} rows")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
