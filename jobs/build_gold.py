"""Build the gold marts BI analysts query from silver: gold.service_daily, and once
silver.message_emotions exists gold.emotion_daily and the voice-of-customer marts
(gold.emotion_index, conversation_outcomes, agent_scorecard, service_gaps, passive_drivers;
see ``jobs/voc_marts.py`` and docs/marts.md), and once silver.message_topics exists
gold.topic_daily and gold.topic_alerts (``jobs/topic_marts.py``), and once silver.incidents
exists gold.incident_impact and gold.unexplained_spikes, once silver.releases exists
gold.release_impact (``jobs/incident_marts.py``), once silver.suggestion_ideas exists
gold.product_feedback (``jobs/feedback_marts.py``), once a ``voicelake-sla-risk`` champion exists
gold.sla_risk (``jobs/sla_risk.py``), once a ``voicelake-churn`` champion exists
gold.customer_health (``jobs/churn.py``), and last gold.health_check from the marts the
run staged (``jobs/health_marts.py``).

Publish protocol: the marts are written to a staging copy of this run
(``<root>/_staging/<run id>``, `Lake.stage`), validated with their Great Expectations suites,
and only then copied into the gold tables; the run's staging folder is deleted after publishing,
so concurrent builds never share one. When a critical
expectation fails, the gold tables stay at their Delta version, the failing rows go to
quarantine, and the job exits 1 with the summary. Partition-scoped: publishing a date
replaces that date of the daily marts, and its week (and the week before) or month of the
voice-of-customer marts. A dated run also rebuilds every date that silver
rebuilt since gold last published it (late or updated records; see ``jobs/build_log.py``),
and records what it published in ``gold.build_log``.

    voicelake build-gold [--date D | --since D [--until D]]              # stage, validate, publish
    voicelake build-gold --date D --stage-only --run-id R                # stage only (DAG task 1)
    voicelake build-gold --date D --publish-staged --run-id R            # validate, publish (task 2)
    spark-submit jobs/build_gold.py --date 2026-01-05
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.errors import ReportedError
from voicelake.faults import fault
from voicelake.jobs.build_log import GOLD_BUILD_LOG, new_build_id, record_build, unconsumed_silver_builds
from voicelake.jobs.churn import CHURN_MARTS, CHURN_PARTITIONS, build_churn_marts, mart_weeks
from voicelake.jobs.feedback_marts import FEEDBACK_MARTS, FEEDBACK_PARTITIONS, build_feedback_marts
from voicelake.jobs.health_marts import HEALTH_MARTS, build_health_marts
from voicelake.jobs.incident_marts import (
    INCIDENT_MARTS,
    RELEASE_MARTS,
    build_incident_marts,
    incident_dates,
    release_dates,
    release_params,
)
from voicelake.jobs.sla_risk import SLA_MARTS, build_sla_marts
from voicelake.jobs.topic_marts import TOPIC_MARTS, build_topic_marts, forecast_origin, log_forecast_backtest
from voicelake.jobs.transforms.gold import build_emotion_daily, build_service_daily
from voicelake.jobs.validate import ValidationFailed, ValidationReport, validate
from voicelake.jobs.voc_marts import VOC_MARTS, VOC_PARTITIONS, VocScope, build_voc_marts, voc_scope
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
    GOLD_EMOTION_INDEX,
    GOLD_SERVICE_DAILY,
    GOLD_TOPIC_FORECAST,
    SILVER_CONVERSATIONS,
    SILVER_MESSAGE_EMOTIONS,
    SILVER_MESSAGES,
)

DAILY_MARTS = (GOLD_SERVICE_DAILY, GOLD_EMOTION_DAILY)
# staged once their inputs exist; the health check last, from the others
OPTIONAL_MARTS = (*VOC_MARTS, *TOPIC_MARTS, *INCIDENT_MARTS, *RELEASE_MARTS, *FEEDBACK_MARTS, *SLA_MARTS, *CHURN_MARTS,
                  *HEALTH_MARTS)
GOLD_TABLES = (*DAILY_MARTS, *OPTIONAL_MARTS)


def new_run_id() -> str:
    """A fresh run id for a build that stages and publishes in one go."""
    return f"gold-{uuid.uuid4().hex[:12]}"


def staging_run_id(value: str) -> str:
    """A run id usable in a path (Airflow's run ids hold ':' and '+')."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", value)


def partition_column(table: str) -> str:
    """The column a gold table is partitioned (and published) by."""
    return {**VOC_PARTITIONS, **FEEDBACK_PARTITIONS, **CHURN_PARTITIONS}.get(table, "date")


def _scope(ctx: JobContext, dates: Sequence[date] | None) -> VocScope:
    return voc_scope(dates, ctx.config)


def partition_values(ctx: JobContext, table: str, dates: Sequence[date] | None) -> list[date] | None:
    """The partitions of ``table`` a build of ``dates`` replaces (None: the whole table)."""
    if table in VOC_PARTITIONS:
        return _scope(ctx, dates).partitions(table)
    if table in INCIDENT_MARTS:
        return incident_dates(dates)
    if table in RELEASE_MARTS:
        return release_dates(dates, release_params(ctx.config))
    if table in CHURN_MARTS:
        return mart_weeks(dates)
    if table in FEEDBACK_MARTS:  # rebuilt whole by every build
        return None
    if table == GOLD_TOPIC_FORECAST:  # one origin per run, kept beside the forecasts of earlier runs
        origin = forecast_origin(ctx, dates)
        return [] if origin is None else [origin]
    return None if dates is None else list(dates)


def data_cut_off(ctx: JobContext, dates: Sequence[date] | None) -> datetime:
    """The cut-off of the data a build sees: the end of its last date, or now (naive UTC)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    if dates is None:
        return now
    return min(now, datetime.combine(max(dates) + timedelta(days=1), time()))


class NoSilverData(ReportedError):
    """A date of the build for which silver holds no message: nothing is staged or published
    (gold_service_daily's suite would fail it too, after every mart was built)."""

    def __init__(self, missing: Sequence[date]) -> None:
        days = ", ".join(d.isoformat() for d in missing)
        super().__init__(f"silver.messages holds no message on {days}: gold is not built for a day "
                         "without data\ningest the day's landing files and build silver for it first "
                         "(voicelake ingest; voicelake build-silver --date D)")
        self.missing = list(missing)


def require_silver_data(messages: DataFrame, dates: Sequence[date]) -> None:
    """Raise `NoSilverData` when a date has no silver message (one small query)."""
    present = {r[0] for r in messages.select("sent_date").distinct().collect()}
    missing = sorted(set(dates) - present)
    if missing:
        raise NoSilverData(missing)


def stage_gold(ctx: JobContext, dates: Sequence[date] | None, run_id: str) -> dict[str, DataFrame]:
    """Build the marts for the dates (all when None) into the run's staging copies; refuses
    dates silver holds no message for before building anything."""
    conversations = ctx.lake.read(SILVER_CONVERSATIONS)
    messages = ctx.lake.read(SILVER_MESSAGES)
    if dates is not None:
        messages = messages.where(F.col("sent_date").isin(list(dates)))
        require_silver_data(messages, dates)
        conversations = conversations.where(F.col("opened_date").isin(list(dates)))
    marts = {GOLD_SERVICE_DAILY: build_service_daily(conversations, messages)}
    cached: list[DataFrame] = []
    if ctx.lake.exists(SILVER_MESSAGE_EMOTIONS):
        marts[GOLD_EMOTION_DAILY] = build_emotion_daily(messages, ctx.lake.read(SILVER_MESSAGE_EMOTIONS))
        marts.update(build_voc_marts(ctx, _scope(ctx, dates), data_cut_off(ctx, dates), cached))
        marts.update(build_topic_marts(ctx, dates, cached))
        marts.update(build_incident_marts(ctx, dates, cached))
        marts.update(build_feedback_marts(ctx, dates, cached))
        marts.update(build_sla_marts(ctx, dates))
        marts.update(build_churn_marts(ctx, dates))
    try:
        staged = {table: ctx.lake.stage(frame, table, run_id, partition_by=[partition_column(table)])
                  for table, frame in marts.items()}
    finally:
        for frame in cached:  # staged copies are read back from the lake, not from these
            frame.unpersist()
    # the health check reads the other marts as staged: what it says is what the run publishes
    for table, frame in build_health_marts(ctx, dates, staged).items():
        staged[table] = ctx.lake.stage(frame, table, run_id, partition_by=[partition_column(table)])
    return staged


def staged_gold(ctx: JobContext, dates: Sequence[date] | None, run_id: str) -> dict[str, DataFrame]:
    """What an earlier `stage_gold` of the run left in staging (the emotion marts only if staged)."""
    tables = [GOLD_SERVICE_DAILY]
    if ctx.lake.exists(SILVER_MESSAGE_EMOTIONS):
        tables += [GOLD_EMOTION_DAILY, *(t for t in OPTIONAL_MARTS if ctx.lake.has_staged(t, run_id))]
    staged = {}
    for table in tables:
        frame = ctx.lake.read_staged(table, run_id)
        values = partition_values(ctx, table, dates)
        staged[table] = frame if values is None else frame.where(F.col(partition_column(table)).isin(values))
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
        values = partition_values(ctx, table, dates)
        if values is None:
            ctx.lake.overwrite(frame, table, partition_by=[partition_column(table)])
        else:
            ctx.lake.replace_partitions(frame, table, partition_column(table), values)
        written[table] = ctx.lake.rows_written(table)
        fault("gold.between_tables")  # crash drill: one table published, the other not yet
    published = set(dates) if dates is not None else None
    silver_builds = [b for b, rebuilt in unconsumed_silver_builds(ctx).items()
                     if published is None or set(rebuilt) <= published]
    record_build(ctx, GOLD_BUILD_LOG, new_build_id(), None, dates,
                 dates if dates is not None else [], silver_builds)
    if GOLD_EMOTION_INDEX in staged:  # the calibration model the published rows name becomes @champion
        versions = [r[0] for r in staged[GOLD_EMOTION_INDEX].select("calibration_version").distinct().collect()
                    if r[0] is not None]
        if versions:
            from voicelake.models.calibration_registry import promote

            promote(ctx.config, max(versions, key=int))
    if GOLD_TOPIC_FORECAST in staged:
        log_forecast_backtest(ctx.config, staged[GOLD_TOPIC_FORECAST])
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
    run_id = new_run_id()
    staged = stage_gold(ctx, dates, run_id)
    fault("gold.before_publish")  # crash drill: staged, nothing published
    written, report = publish_gold(ctx, staged, dates)
    ctx.lake.drop_staging(run_id)
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
    parser.add_argument("--run-id", type=staging_run_id,
                        help="the run whose staging folder --stage-only writes and --publish-staged reads "
                             "(required with them; the DAG passes its run id); default: a fresh id")
    args = parser.parse_args(argv)
    if (args.stage_only or args.publish_staged) and not args.run_id:
        parser.error("--stage-only and --publish-staged need --run-id (the same for both steps)")
    run_id = args.run_id or new_run_id()
    with open_lake(args.env) as ctx:
        dates = gold_dates(ctx, args.date, args.since, args.until)
        staged = staged_gold(ctx, dates, run_id) if args.publish_staged else stage_gold(ctx, dates, run_id)
        if args.stage_only:
            for table in staged:
                print(f"{table}: staged at {ctx.lake.staging_location(table, run_id)}")
            return 0
        fault("gold.before_publish")
        written, report = publish_gold(ctx, staged, dates)
        ctx.lake.drop_staging(run_id)
    print(report.summary())
    for table, rows in written.items():
        print(f"{table}: published {rows} rows")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
