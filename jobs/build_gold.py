"""Build the gold marts BI analysts query from silver: gold.service_daily, and
gold.emotion_daily once silver.message_emotions exists.

Publish protocol: the marts are written to a staging copy (`Lake.stage`), validated with
their Great Expectations suites, and only then copied into the gold tables. When a critical
expectation fails, the gold tables stay at their Delta version, the failing rows go to
quarantine, and the job exits 1 with the summary. Partition-scoped by ``date``:
publishing a date replaces that date. A dated run also rebuilds every date that silver
rebuilt since gold last published it (late or updated records; see ``jobs/build_log.py``),
and records what it published in ``gold.build_log``.

    voicelake build-gold [--date D | --since D [--until D]]              # stage, validate, publish
    voicelake build-gold --date D --stage-only                           # stage only (DAG task 1)
    voicelake build-gold --date D --publish-staged                       # validate, publish (task 2)
    spark-submit jobs/build_gold.py --date 2026-01-05
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.jobs.build_log import GOLD_BUILD_LOG, new_build_id, record_build, unconsumed_silver_builds
from voicelake.jobs.transforms.gold import build_emotion_daily, build_service_daily
from voicelake.jobs.validate import ValidationFailed, ValidationReport, validate
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

GOLD_TABLES = (GOLD_SERVICE_DAILY, GOLD_EMOTION_DAILY)


def stage_gold(ctx: JobContext, dates: Sequence[date] | None) -> dict[str, DataFrame]:
    """Build the marts for the dates (all when None) into their staging copies."""
    conversations = ctx.lake.read(SILVER_CONVERSATIONS)
    messages = ctx.lake.read(SILVER_MESSAGES)
    if dates is not None:
        conversations = conversations.where(F.col("opened_date").isin(list(dates)))
        messages = messages.where(F.col("sent_date").isin(list(dates)))
    marts = {GOLD_SERVICE_DAILY: build_service_daily(conversations, messages)}
    if ctx.lake.exists(SILVER_MESSAGE_EMOTIONS):
        marts[GOLD_EMOTION_DAILY] = build_emotion_daily(messages, ctx.lake.read(SILVER_MESSAGE_EMOTIONS))
    return {table: ctx.lake.stage(frame, table, partition_by=["date"]) for table, frame in marts.items()}


def staged_gold(ctx: JobContext, dates: Sequence[date] | None) -> dict[str, DataFrame]:
    """What an earlier `stage_gold` left in staging (emotion_daily only if it was staged)."""
    staged = {GOLD_SERVICE_DAILY: ctx.lake.read_staged(GOLD_SERVICE_DAILY)}
    if ctx.lake.exists(SILVER_MESSAGE_EMOTIONS):
        staged[GOLD_EMOTION_DAILY] = ctx.lake.read_staged(GOLD_EMOTION_DAILY)
    if dates is not None:
        staged = {t: f.where(F.col("date").isin(list(dates))) for t, f in staged.items()}
    return staged


def publish_gold(ctx: JobContext, staged: Mapping[str, DataFrame],
                 dates: Sequence[date] | None) -> tuple[dict[str, int], ValidationReport]:
    """Validate the staged marts; publish them only when every critical check passed.
    Raises `ValidationFailed` (gold untouched) otherwise."""
    report = validate(ctx, ["gold"], dates, gold=staged)
    if not report.success:
        raise ValidationFailed(report)
    written = {}
    for table, frame in staged.items():
        if dates is None:
            ctx.lake.overwrite(frame, table, partition_by=["date"])
        else:
            ctx.lake.replace_partitions(frame, table, "date", dates)
        written[table] = ctx.lake.rows_written(table)
    published = set(dates) if dates is not None else None
    silver_builds = [b for b, rebuilt in unconsumed_silver_builds(ctx).items()
                     if published is None or set(rebuilt) <= published]
    record_build(ctx, GOLD_BUILD_LOG, new_build_id(), None, dates,
                 dates if dates is not None else [], silver_builds)
    return written, report


def gold_dates(ctx: JobContext, day: date | None, since: date | None, until: date | None) -> list[date] | None:
    """The run's dates plus every date a silver build rebuilt since gold last consumed it
    (late or updated records, SLA targets passing); None for a full rebuild."""
    dates = covered_dates(day, since, until,
                          lambda: scalar(ctx.lake.read(SILVER_MESSAGES).agg(F.max("sent_date"))))
    if dates is None:
        return None
    extra = {d for rebuilt in unconsumed_silver_builds(ctx).values() for d in rebuilt}
    return sorted(set(dates) | extra)


def build_gold(ctx: JobContext, day: date | None = None, since: date | None = None,
               until: date | None = None) -> dict[str, int]:
    """Stage, validate and publish gold for the dates; returns rows written per table."""
    dates = gold_dates(ctx, day, since, until)
    written, report = publish_gold(ctx, stage_gold(ctx, dates), dates)
    print(report.summary())
    return written


def _main(argv: Sequence[str] | None) -> int:
    parser = job_parser("voicelake build-gold", "Build gold marts from silver, validate, publish.")
    add_date_arguments(parser)
    step = parser.add_mutually_exclusive_group()
    step.add_argument("--stage-only", action="store_true",
                      help="build the marts into staging only (then run with --publish-staged)")
    step.add_argument("--publish-staged", action="store_true",
                      help="validate what --stage-only staged and publish it when every check passes")
    args = parser.parse_args(argv)
    with open_lake(args.env) as ctx:
        dates = gold_dates(ctx, args.date, args.since, args.until)
        staged = staged_gold(ctx, dates) if args.publish_staged else stage_gold(ctx, dates)
        if args.stage_only:
            for table in staged:
                print(f"{table}: staged at {ctx.lake.staging_location(table)}")
            return 0
        written, report = publish_gold(ctx, staged, dates)
    print(report.summary())
    for table, rows in written.items():
        print(f"{table}: published {rows} rows")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
