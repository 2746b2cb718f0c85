"""Validate lake layers with Great Expectations before the next consumer reads them.

For each layer, every table's suite runs on the rows of the run's dates (conf/expectations
for silver and gold, the source contract for bronze). Each run:

- prints PASS/FAIL per suite, with each failed expectation and what was observed;
- copies the rows behind a failed row-level expectation to ``bronze.quarantine``
  (reason ``expectation <suite>.<expectation>(<column>)``; re-validating a date replaces
  them);
- appends one row per expectation to ``gold.validation_results`` (run, table, suite,
  success, statistics) for data-quality charts;
- renders the HTML Data Docs under ``validation.data_docs_dir``;
- exits non-zero when a critical expectation failed, so a DAG stops before publishing.

Gold is validated from its staging copy by ``jobs/build_gold.py`` and only then published.

    voicelake validate [--date D | --since D [--until D]] [--layer bronze|silver|gold]
    spark-submit jobs/validate.py --date 2026-01-05 --layer silver
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.errors import ReportedError
from voicelake.jobs.churn import CHURN_MARTS, mart_weeks
from voicelake.jobs.feedback_marts import FEEDBACK_MARTS
from voicelake.jobs.health_marts import HEALTH_MARTS
from voicelake.jobs.incident_marts import (
    INCIDENT_MARTS,
    RELEASE_MARTS,
    incident_dates,
    release_dates,
    release_params,
)
from voicelake.jobs.sla_risk import SLA_MARTS
from voicelake.jobs.topic_marts import TOPIC_MARTS
from voicelake.jobs.transforms.quality import (
    MESSAGE_SOURCES,
    bronze_frame,
    count_per_date,
    emotion_coverage,
    expected_messages_per_date,
    label_drift,
    message_counts,
    messages_frame,
    suggestion_coverage,
    to_validation_quarantine,
    topic_coverage,
    with_date_reconciliation,
)
from voicelake.jobs.voc_marts import VOC_MARTS, VOC_PARTITIONS, voc_scope
from voicelake.lake import scalar
from voicelake.models.taxonomy import load_taxonomy
from voicelake.quality import (
    SuiteOutcome,
    SuiteSpec,
    Validator,
    bronze_suite,
    configured_suite,
    failing_rows,
    summarise,
)
from voicelake.runtime import JobContext, add_date_arguments, covered_dates, job_parser, open_lake, run_job
from voicelake.schemas import (
    AUTHOR_ROLES,
    CHANNELS,
    GOLD_EMOTION_DAILY,
    GOLD_HEALTH_CHECK,
    GOLD_INCIDENT_IMPACT,
    GOLD_RELEASE_IMPACT,
    GOLD_SERVICE_DAILY,
    GOLD_TOPIC_DAILY,
    QUARANTINE,
    SILVER_CONVERSATIONS,
    SILVER_INCIDENTS,
    SILVER_MESSAGE_EMOTIONS,
    SILVER_MESSAGE_SUGGESTIONS,
    SILVER_MESSAGE_TOPICS,
    SILVER_MESSAGES,
    SILVER_RELEASES,
    SILVER_SUGGESTION_IDEAS,
    SOURCES,
    VALIDATION_RESULTS,
    bronze_table,
)

LAYERS = ("bronze", "silver", "gold")
VALIDATION_RESULTS_SCHEMA = (
    "run_id string, validated_at timestamp, run_dates string, layer string, table_name string, "
    "suite string, suite_success boolean, expectation string, target string, severity string, "
    "success boolean, observed_value string, element_count long, unexpected_count long, "
    "unexpected_percent double, seconds double")

# A suite with the DataFrame it validates, or a note saying why it was not run.
SuiteFrame = tuple[SuiteSpec, DataFrame | None, str | None]


@dataclass(frozen=True)
class ValidationReport:
    run_id: str
    outcomes: tuple[SuiteOutcome, ...]
    docs: str

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    def summary(self) -> str:
        return f"{summarise(self.outcomes)}\nData Docs: {self.docs}"


class ValidationFailed(ReportedError):
    """A critical expectation failed; the message is the readable summary."""

    def __init__(self, report: ValidationReport) -> None:
        failed = [o.suite.name for o in report.outcomes if not o.success]
        super().__init__(f"validation failed ({', '.join(failed)}):\n{report.summary()}")
        self.report = report


def _dates_label(dates: Sequence[date] | None) -> str:
    if dates is None:
        return "all"
    ordered = sorted(dates)
    return ordered[0].isoformat() if len(ordered) == 1 else f"{ordered[0]}..{ordered[-1]}"


# -- what each suite sees ------------------------------------------------------------------

def bronze_frames(ctx: JobContext, dates: Sequence[date] | None) -> Iterator[SuiteFrame]:
    for source, schema in SOURCES.items():
        suite = bronze_suite(source)
        if not ctx.lake.exists(bronze_table(source)):
            yield suite, None, "table not ingested yet"
            continue
        yield suite, bronze_frame(ctx.lake.read(bronze_table(source)), schema.event_time, dates), None


def silver_frames(ctx: JobContext, dates: Sequence[date] | None) -> Iterator[SuiteFrame]:
    messages = ctx.lake.read(SILVER_MESSAGES)
    yield configured_suite(ctx.config, "silver_messages"), messages_frame(messages, dates), None
    coverage = configured_suite(ctx.config, "silver_message_emotions")
    drift = configured_suite(ctx.config, "emotion_drift")
    scored = ctx.lake.exists(SILVER_MESSAGE_EMOTIONS)
    emotions = ctx.lake.read(SILVER_MESSAGE_EMOTIONS) if scored else None
    yield configured_suite(ctx.config, "message_counts"), _counts_frame(ctx, messages, emotions, dates), None
    if emotions is None:
        yield coverage, None, "no scores yet (run voicelake score)"
        yield drift, None, "no scores yet"
    else:
        yield coverage, emotion_coverage(messages, emotions, load_taxonomy().labels, dates), None
        yield drift, *_drift_frame(ctx, emotions, dates)
    topics = configured_suite(ctx.config, "silver_message_topics")
    if ctx.lake.exists(SILVER_MESSAGE_TOPICS):
        yield topics, topic_coverage(messages, ctx.lake.read(SILVER_MESSAGE_TOPICS), dates), None
    else:
        yield topics, None, "no topics yet (run voicelake topics)"
    suggestions = configured_suite(ctx.config, "silver_message_suggestions")
    if ctx.lake.exists(SILVER_MESSAGE_SUGGESTIONS):
        yield suggestions, suggestion_coverage(messages, ctx.lake.read(SILVER_MESSAGE_SUGGESTIONS), dates), None
    else:
        yield suggestions, None, "no suggestions read yet (a detector champion first: voicelake train-suggestions)"


def _counts_frame(ctx: JobContext, messages: DataFrame, emotions: DataFrame | None,
                  dates: Sequence[date] | None) -> DataFrame:
    """Per run date: silver messages implied by bronze, in silver, and scored (see message_counts.yaml)."""
    bronze = {source: ctx.lake.read(bronze_table(source)) for source in MESSAGE_SOURCES
              if ctx.lake.exists(bronze_table(source))}
    expected = expected_messages_per_date(bronze, dates)
    scored = None if emotions is None else count_per_date(emotions, dates, "scored_messages")
    return message_counts(expected, count_per_date(messages, dates, "silver_messages"), scored, dates)


def _drift_frame(ctx: JobContext, emotions: DataFrame,
                 dates: Sequence[date] | None) -> tuple[DataFrame | None, str | None]:
    """The last run date's label shares against its trailing baseline, or why not checked."""
    settings = ctx.config.validation
    day = max(dates) if dates else scalar(ctx.lake.read(SILVER_MESSAGES).agg(F.max("sent_date")))
    if day is None:
        return None, "no messages"
    frame = label_drift(emotions, day, settings.drift_baseline_days).cache()
    totals = frame.select("day_total", "baseline_total").first()
    day_total, baseline_total = (totals[0], totals[1]) if totals else (0, 0)
    if day_total < settings.drift_min_messages:
        return None, f"{day}: {day_total} scored messages, fewer than validation.drift.min_messages"
    if not baseline_total:
        return None, f"{day}: no scored messages in the {settings.drift_baseline_days} days before"
    return frame, None


def gold_frames(read: Callable[[str], DataFrame | None], dates: Sequence[date] | None, config: Any,
                silver_counts: DataFrame, topic_counts: DataFrame | None = None) -> Iterator[SuiteFrame]:
    """Gold suites over ``read(table)`` (the published table, or what build_gold staged), each
    row with its date's messages and silver's (``silver_counts``: date, silver_messages;
    for gold.topic_daily ``topic_counts``: silver.message_topics rows per date)."""
    for table, name in ((GOLD_SERVICE_DAILY, "gold_service_daily"), (GOLD_EMOTION_DAILY, "gold_emotion_daily")):
        suite = configured_suite(config, name)
        frame = read(table)
        if frame is None:
            yield suite, None, "table not built yet"
            continue
        if dates is not None:
            frame = frame.where(F.col("date").isin(list(dates)))
        yield suite, with_date_reconciliation(frame, silver_counts), None
    scope = voc_scope(dates, config)
    for table in VOC_MARTS:
        suite = configured_suite(config, "gold_" + table.partition(".")[2])
        frame = read(table)
        if frame is None:
            yield suite, None, "not built (needs scored messages)"
            continue
        values = scope.partitions(table)
        if values is not None:
            frame = frame.where(F.col(VOC_PARTITIONS[table]).isin(values))
        yield suite, frame, None
    yield from dated_mart_frames(
        read, TOPIC_MARTS, dates, config, "not built (needs silver.message_topics)",
        None if topic_counts is None else {GOLD_TOPIC_DAILY: lambda f: with_date_reconciliation(f, topic_counts)})


def feedback_frames(read: Callable[[str], DataFrame | None], config: Any,
                    ideas: DataFrame | None, messages: DataFrame) -> Iterator[SuiteFrame]:
    """gold.product_feedback's suite over the whole table (every build rewrites it), each row
    with ``product_suggestions`` (the mart's suggestions of the product) and
    ``silver_product_suggestions`` (silver.suggestion_ideas' rows of the product's customer
    messages up to the mart's as-of date, counted here)."""
    for table in FEEDBACK_MARTS:
        suite = configured_suite(config, "gold_" + table.partition(".")[2])
        frame = read(table)
        if frame is None or ideas is None:
            yield suite, None, "not built (needs silver.suggestion_ideas)"
            continue
        as_of = frame.agg(F.max("as_of")).first()
        silver = (ideas.join(messages.where(F.col("author_role") == "customer").select("message_id"), "message_id")
                  .where(F.col("sent_date") <= F.lit(as_of[0] if as_of else None))
                  .groupBy("product").agg(F.count(F.lit(1)).alias("silver_product_suggestions")))
        in_mart = frame.groupBy("product").agg(F.sum("suggestions").alias("product_suggestions"))
        yield suite, (frame.join(in_mart, "product").join(silver, "product", "left")
                      .fillna(0, ["silver_product_suggestions"])), None


def sla_frames(read: Callable[[str], DataFrame | None], config: Any, conversations: DataFrame,
               dates: Sequence[date] | None) -> Iterator[SuiteFrame]:
    """gold.sla_risk's suite over the run's dates (all when None), each row with
    ``as_of_rows`` (the mart's rows at its as-of time) and ``silver_waiting`` (silver's
    conversations waiting for a first reply then, counted here from the SLA columns)."""
    yield from dated_mart_frames(
        read, SLA_MARTS, dates, config, "not built (needs scored messages and a voicelake-sla-risk champion)",
        dict.fromkeys(SLA_MARTS, lambda f: with_waiting_reconciliation(f, conversations)))


def with_waiting_reconciliation(frame: DataFrame, conversations: DataFrame) -> DataFrame:
    """``frame`` (rows per as-of time) with ``as_of_rows`` and ``silver_waiting``."""
    at = F.col("as_of")
    clocks = conversations.where(F.col("sla_target_minutes").isNotNull()).select(
        "first_customer_message_at", "first_response_at", "sla_due_at")  # silver's own as_of stays out
    waiting = (clocks.crossJoin(F.broadcast(frame.select("as_of").distinct()))
               .where((F.col("first_customer_message_at") <= at) & (F.col("sla_due_at") > at)
                      & (F.col("first_response_at").isNull() | (F.col("first_response_at") > at)))
               .groupBy("as_of").agg(F.count(F.lit(1)).alias("silver_waiting")))
    in_mart = frame.groupBy("as_of").agg(F.count(F.lit(1)).alias("as_of_rows"))
    return frame.join(in_mart, "as_of").join(waiting, "as_of", "left").fillna(0, ["silver_waiting"])


def churn_frames(read: Callable[[str], DataFrame | None], config: Any, conversations: DataFrame,
                 messages: DataFrame, dates: Sequence[date] | None) -> Iterator[SuiteFrame]:
    """gold.customer_health's suite over the weeks of the run's dates (all when None), each row
    with ``week_rows`` (the mart's customers that week) and ``silver_customers`` (silver's
    customers with a conversation in the lookback weeks before the week's as-of time who had not
    cancelled by then, counted here)."""
    from voicelake.jobs.transforms.customer_health import cancellations
    from voicelake.models.churn import churn_params

    params = churn_params(config)
    weeks = mart_weeks(dates)
    for table in CHURN_MARTS:
        suite = configured_suite(config, "gold_" + table.partition(".")[2])
        frame = read(table)
        if frame is None:
            yield suite, None, "not built (needs scored messages and a voicelake-churn champion)"
            continue
        if weeks is not None:
            frame = frame.where(F.col("week").isin(weeks))
        as_of = frame.select("week", "as_of").distinct()
        opened = conversations.where(F.col("customer_key").isNotNull()).select("customer_key", "opened_at")
        first_day = F.date_sub(F.col("week"), 7 * (params.lookback_weeks - 1))
        active = (opened.crossJoin(F.broadcast(as_of))
                  .where((F.col("opened_at") < F.col("as_of")) & (F.to_date("opened_at") >= first_day))
                  .select("week", "as_of", "customer_key").distinct()
                  .join(cancellations(conversations, messages, params.cancellation_pattern), "customer_key", "left")
                  .where(F.col("cancelled_at").isNull() | (F.col("cancelled_at") >= F.col("as_of")))
                  .groupBy("week").agg(F.count(F.lit(1)).alias("silver_customers")))
        in_mart = frame.groupBy("week").agg(F.count(F.lit(1)).alias("week_rows"))
        yield suite, frame.join(in_mart, "week").join(active, "week", "left").fillna(0, ["silver_customers"]), None


def health_frames(read: Callable[[str], DataFrame | None], dates: Sequence[date] | None, config: Any,
                  customer_counts: DataFrame) -> Iterator[SuiteFrame]:
    """gold.health_check's suite over the run's dates, each row with ``date_customer_messages``
    (its own count) and ``silver_customer_messages`` (silver's customer messages that day)."""
    yield from dated_mart_frames(
        read, HEALTH_MARTS, dates, config, "not built (needs scored messages)",
        {GOLD_HEALTH_CHECK: lambda f: with_date_reconciliation(f, customer_counts, "customer_messages",
                                                               "date_customer_messages")})


def dated_mart_frames(read: Callable[[str], DataFrame | None], tables: Sequence[str], dates: Sequence[date] | None,
                      config: Any, missing: str,
                      reconcile: Mapping[str, Callable[[DataFrame], DataFrame]] | None) -> Iterator[SuiteFrame]:
    """Suites of marts partitioned by ``date``, each over its rows of ``dates``, a table in
    ``reconcile`` with the columns that reconcile it with an independent count; every table
    is skipped with ``missing`` when ``reconcile`` is None (its count is not there)."""
    for table in tables:
        suite = configured_suite(config, "gold_" + table.partition(".")[2])
        frame = read(table)
        if frame is None or reconcile is None:
            yield suite, None, missing
            continue
        if dates is not None:
            frame = frame.where(F.col("date").isin(list(dates)))
        yield suite, reconcile.get(table, lambda f: f)(frame), None


def incident_frames(read: Callable[[str], DataFrame | None], dates: Sequence[date] | None, config: Any,
                    incident_counts: DataFrame | None, release_counts: DataFrame | None) -> Iterator[SuiteFrame]:
    """The incident and release marts' suites over the partitions a run of ``dates``
    rebuilds; gold.incident_impact's rows carry ``date_incidents`` (its rows of the row's
    date) and ``silver_incidents`` (silver.incidents that started that day), and
    gold.release_impact's ``date_releases`` and ``silver_releases`` the same way."""
    yield from dated_mart_frames(
        read, INCIDENT_MARTS, incident_dates(dates), config, "not built (needs scored messages and silver.incidents)",
        None if incident_counts is None else
        {GOLD_INCIDENT_IMPACT: lambda f: with_date_reconciliation(f, incident_counts, None, "date_incidents")})
    yield from dated_mart_frames(
        read, RELEASE_MARTS, release_dates(dates, release_params(config)), config,
        "not built (needs scored messages and silver.releases)",
        None if release_counts is None else
        {GOLD_RELEASE_IMPACT: lambda f: with_date_reconciliation(f, release_counts, None, "date_releases")})


def _published(ctx: JobContext) -> Callable[[str], DataFrame | None]:
    return lambda table: ctx.lake.read(table) if ctx.lake.exists(table) else None


def run_parameters(ctx: JobContext, dates: Sequence[date] | None) -> dict[str, Any]:
    """Values the suites' {$PARAMETER: name} placeholders take in this run."""
    if dates is None and ctx.lake.exists(SILVER_MESSAGES):
        rows = ctx.lake.read(SILVER_MESSAGES).select("sent_date").distinct().collect()
        run_dates = sorted(r[0] for r in rows if r[0])
    else:
        run_dates = sorted(dates or [])
    return {
        "run_dates": run_dates,
        "author_roles": list(AUTHOR_ROLES),
        "channels": list(CHANNELS),
        "labels": list(load_taxonomy().labels),
        "drift_threshold": ctx.config.validation.drift_threshold,
    }


# -- running suites ------------------------------------------------------------------------

def validate(ctx: JobContext, layers: Sequence[str], dates: Sequence[date] | None,
             gold: Mapping[str, DataFrame] | None = None, suites: Collection[str] = ()) -> ValidationReport:
    """Run every suite of ``layers`` (only those named in ``suites``, when given) for the dates;
    ``gold`` gives staged gold frames to validate instead of the published tables. Records
    results; never raises on failure."""
    known = {p.stem for p in Path(ctx.config.validation.suites_dir).glob("*.yaml")} | {
        bronze_suite(source).name for source in SOURCES}
    unknown = sorted(set(suites) - known)
    if unknown:
        raise ValueError(f"no suite named {unknown}: the suites are the files of {ctx.config.validation.suites_dir} "
                         f"({', '.join(sorted(known))})")
    validator = Validator(ctx.config)
    run_id = f"validate-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    parameters: dict[str, Any] | None = None
    outcomes = []
    # one delete for the whole run: what earlier validations of these layers (suites) and dates quarantined
    label = _dates_label(dates)
    if suites:
        ctx.lake.delete(QUARANTINE, " OR ".join(f"batch_id = 'validate:{name}:{label}'" for name in suites))
    else:
        ctx.lake.delete(QUARANTINE, f"batch_id LIKE 'validate:%:{label}' AND (" + " OR ".join(
            f"source LIKE '{layer}.%'" for layer in layers) + ")")
    for layer in layers:
        if layer == "bronze":
            frames: Iterator[SuiteFrame] = bronze_frames(ctx, dates)
        elif layer == "silver":
            frames = silver_frames(ctx, dates)
        elif layer == "gold":
            read = _published(ctx) if gold is None else gold.get
            silver_counts = count_per_date(ctx.lake.read(SILVER_MESSAGES), dates, "silver_messages")
            topic_counts = (count_per_date(ctx.lake.read(SILVER_MESSAGE_TOPICS), dates, "silver_messages")
                            if ctx.lake.exists(SILVER_MESSAGE_TOPICS) else None)
            incident_counts = (count_per_date(ctx.lake.read(SILVER_INCIDENTS), incident_dates(dates),
                                              "silver_incidents", "started_date")
                               if ctx.lake.exists(SILVER_INCIDENTS) else None)
            release_counts = (count_per_date(ctx.lake.read(SILVER_RELEASES),
                                             release_dates(dates, release_params(ctx.config)),
                                             "silver_releases", "released_date")
                              if ctx.lake.exists(SILVER_RELEASES) else None)
            customer_counts = count_per_date(ctx.lake.read(SILVER_MESSAGES).where(F.col("author_role") == "customer"),
                                             dates, "silver_customer_messages")
            ideas = ctx.lake.read(SILVER_SUGGESTION_IDEAS) if ctx.lake.exists(SILVER_SUGGESTION_IDEAS) else None
            frames = itertools.chain(gold_frames(read, dates, ctx.config, silver_counts, topic_counts),
                                     incident_frames(read, dates, ctx.config, incident_counts, release_counts),
                                     feedback_frames(read, ctx.config, ideas, ctx.lake.read(SILVER_MESSAGES)),
                                     sla_frames(read, ctx.config, ctx.lake.read(SILVER_CONVERSATIONS), dates),
                                     churn_frames(read, ctx.config, ctx.lake.read(SILVER_CONVERSATIONS),
                                                  ctx.lake.read(SILVER_MESSAGES), dates),
                                     health_frames(read, dates, ctx.config, customer_counts))
        else:
            raise ValueError(f"unknown layer {layer!r}; use one of {LAYERS}")
        for suite, frame, note in frames:
            if suites and suite.name not in suites:
                continue
            if frame is None:
                outcomes.append(SuiteOutcome(suite, (), 0.0, notes=(note or "not run",)))
                continue
            parameters = parameters or run_parameters(ctx, dates)
            outcome = validator.run(suite, frame, parameters)
            outcomes.append(_quarantine_failures(ctx, outcome, frame, dates))
    report = ValidationReport(run_id, tuple(outcomes), validator.build_docs())
    record_results(ctx, report, dates)
    return report


def _quarantine_failures(ctx: JobContext, outcome: SuiteOutcome, frame: DataFrame,
                         dates: Sequence[date] | None) -> SuiteOutcome:
    """Copy the rows behind each failed row-level expectation to quarantine (`validate`
    has removed what an earlier validation of the same layers and dates put there)."""
    batch_id = f"validate:{outcome.suite.name}:{_dates_label(dates)}"
    now = datetime.now(UTC).replace(tzinfo=None)
    quarantined = 0
    for o in outcome.failures + outcome.warnings:
        rows = failing_rows(frame, o)
        if rows is None:
            continue
        reason = f"expectation {outcome.suite.name}.{o.expectation}({o.target}) [{o.severity}]"
        ctx.lake.append(to_validation_quarantine(rows, outcome.suite.table, reason, batch_id, now),
                        QUARANTINE, partition_by=["source"])
        quarantined += ctx.lake.rows_written(QUARANTINE)
    if not quarantined:
        return outcome
    return SuiteOutcome(outcome.suite, outcome.outcomes, outcome.seconds, quarantined, outcome.notes)


def record_results(ctx: JobContext, report: ValidationReport, dates: Sequence[date] | None) -> None:
    """Append one row per expectation (and per suite not run) to gold.validation_results."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows: list[tuple[Any, ...]] = []
    for s in report.outcomes:
        common = (report.run_id, now, _dates_label(dates), s.suite.layer, s.suite.table, s.suite.name,
                  s.success)
        if not s.outcomes:
            rows.append((*common, None, None, None, None, "; ".join(s.notes), None, None, None, s.seconds))
        for o in s.outcomes:
            rows.append((*common, o.expectation, o.target, o.severity, o.success, o.observed,
                         o.element_count, o.unexpected_count, o.unexpected_percent, s.seconds))
    if rows:
        ctx.lake.append(ctx.spark.createDataFrame(rows, VALIDATION_RESULTS_SCHEMA), VALIDATION_RESULTS)


def _main(argv: Sequence[str] | None) -> int:
    parser = job_parser("voicelake validate",
                        "Validate lake layers with Great Expectations; exit 1 when a check fails.")
    add_date_arguments(parser)
    parser.add_argument("--layer", choices=LAYERS, action="append",
                        help="validate this layer only (repeatable; default: all three)")
    parser.add_argument("--suite", action="append", default=[], metavar="NAME",
                        help="run this suite only, e.g. gold_service_daily (repeatable; default: every suite "
                             "of the layers)")
    args = parser.parse_args(argv)
    with open_lake(args.env) as ctx:
        dates = covered_dates(args.date, args.since, args.until,
                              lambda: scalar(ctx.lake.read(SILVER_MESSAGES).agg(F.max("sent_date"))))
        report = validate(ctx, args.layer or LAYERS, dates, suites=args.suite)
    if not report.success:
        raise ValidationFailed(report)
    print(report.summary())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
