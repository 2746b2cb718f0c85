"""Score silver.messages with the champion emotion model into silver.message_emotions, and
customer messages with the champion suggestion detector into silver.message_suggestions.

Loads ``models:/voicelake-emotion@champion`` (resolved to a version on the driver) and
applies it as a Spark pandas UDF; every row carries the model name and version. One row
per message (MERGE on message_id), partitioned by ``sent_date``: scoring is idempotent,
and incremental (messages already scored by this model version are skipped).
``--rescore`` re-scores every message of the dates; earlier scores stay reachable through
Delta time travel. The suggestion detector is applied the same way when
``voicelake-suggestions@champion`` exists (`score_suggestions`; else the step says so and
skips).

    voicelake score [--date D | --since D [--until D]] [--model-uri URI]
    voicelake rescore --since D | --last-days N
    spark-submit jobs/score.py --rescore --last-days 7
    spark-submit jobs/score.py --date 2026-01-05
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pyspark.sql import functions as F

from voicelake.faults import fault
from voicelake.jobs.build_log import unconsumed_silver_builds
from voicelake.lake import scalar
from voicelake.models.registry import champion_version, configure_mlflow, model_uri, version_by_alias
from voicelake.models.scoring import ResolvedModel, pyfunc_udf, resolve_model, result_schema
from voicelake.models.suggestions import SUGGESTION_SCHEMA
from voicelake.progress import SparkProgress
from voicelake.runtime import JobContext, add_date_arguments, covered_dates, job_parser, open_lake, run_job
from voicelake.schemas import SILVER_MESSAGE_EMOTIONS, SILVER_MESSAGE_SUGGESTIONS, SILVER_MESSAGES


@dataclass(frozen=True)
class ScoreResult:
    model: str
    version: str
    scored: int
    skipped: int


def _scope(ctx: JobContext, day: date | None, since: date | None, until: date | None,
           rescore: bool) -> list[date] | None:
    """The dates a scoring run covers (None: every date)."""
    dates = covered_dates(day, since, until, lambda: scalar(ctx.lake.read(SILVER_MESSAGES).agg(F.max("sent_date"))))
    if dates is not None and not rescore:
        # late records: the dates silver rebuilt for builds gold has not consumed yet (what the
        # same run's build-gold will publish) get their new messages scored too
        dates = sorted(set(dates) | {d for rebuilt in unconsumed_silver_builds(ctx).values() for d in rebuilt})
    return dates


def _apply(ctx: JobContext, model: ResolvedModel, table: str, schema: str, dates: list[date] | None,
           rescore: bool, customers_only: bool = False) -> ScoreResult:
    """Messages of the dates that ``model`` has not scored yet, through its UDF, MERGEd into
    ``table`` (one row per message: ``schema``'s columns, the model's name and version)."""
    messages = ctx.lake.read(SILVER_MESSAGES)
    if customers_only:
        messages = messages.where(F.col("author_role") == "customer")
    if dates is not None:
        messages = messages.where(F.col("sent_date").isin(dates))
    todo = messages.select("message_id", "sent_date", "text")
    if not rescore and ctx.lake.exists(table):
        done = (ctx.lake.read(table)
                .where((F.col("model_name") == model.name) & (F.col("model_version") == model.version))
                .select("message_id"))
        todo = todo.join(done, "message_id", "left_anti")
    total = messages.count()
    todo = todo.cache()
    try:
        n = todo.count()
        if n == 0:
            return ScoreResult(model.name, model.version, 0, total)
        parallelism = max(2, ctx.spark.sparkContext.defaultParallelism)
        scored_at = datetime.now(UTC).replace(tzinfo=None)
        result = pyfunc_udf(ctx.spark, model, schema)(F.col("text"))
        scored = (todo.repartition(parallelism)
                  .select("message_id", "sent_date", result.alias("s"))
                  .select("message_id", "s.*", F.lit(model.name).alias("model_name"),
                          F.lit(model.version).alias("model_version"),
                          F.lit(scored_at).cast("timestamp").alias("scored_at"), "sent_date")
                  .cache())  # MERGE reads its source twice: score once
        with SparkProgress(ctx.spark, f"scoring {n:,} messages with {model.name}"):  # tasks done / total, ETA
            scored.count()
        fault("score.before_merge")  # crash drill: every message scored, nothing written yet
        ctx.lake.merge(scored, table, ["message_id"], partition_by=["sent_date"])
        fault("score.after_merge")  # crash drill: written, the job's own bookkeeping not finished
        scored.unpersist()
    finally:
        todo.unpersist()
    return ScoreResult(model.name, model.version, n, total - n)


def score_messages(ctx: JobContext, day: date | None = None, since: date | None = None,
                   until: date | None = None, uri: str | None = None, rescore: bool = False) -> ScoreResult:
    """Score the dates' messages (all dates when none given)."""
    configure_mlflow(ctx.config)
    if uri is None:
        champion_version(ctx.config)  # a clear error naming `voicelake train` when there is none
    model = resolve_model(uri or model_uri(ctx.config))
    return _apply(ctx, model, SILVER_MESSAGE_EMOTIONS, result_schema(model.labels),
                  _scope(ctx, day, since, until, rescore), rescore)


def score_suggestions(ctx: JobContext, day: date | None = None, since: date | None = None,
                      until: date | None = None, rescore: bool = False) -> ScoreResult | None:
    """Customer messages of the dates through the champion suggestion detector into
    silver.message_suggestions; None when the detector has no champion yet."""
    configure_mlflow(ctx.config)
    name = ctx.config.suggestions.model_name
    if version_by_alias(ctx.config, ctx.config.mlflow.champion_alias, name) is None:
        return None
    model = resolve_model(f"models:/{name}@{ctx.config.mlflow.champion_alias}")
    return _apply(ctx, model, SILVER_MESSAGE_SUGGESTIONS, SUGGESTION_SCHEMA, _scope(ctx, day, since, until, rescore),
                  rescore, customers_only=True)


def _main(argv: Sequence[str] | None, rescore: bool = False) -> int:
    name = "voicelake rescore" if rescore else "voicelake score"
    parser = job_parser(name, "Re-score history with the current champion." if rescore else
                        "Score silver.messages with the champion emotion model.")
    add_date_arguments(parser)
    parser.add_argument("--last-days", type=int, help="the N most recent days with messages")
    parser.add_argument("--model-uri", default=None,
                        help="score with this model instead of the champion (models:/NAME/VERSION)")
    parser.add_argument("--rescore", action="store_true", default=rescore,
                        help="score again messages this model version already scored")
    args = parser.parse_args(argv)
    if args.rescore and not (args.since or args.date or args.last_days):
        parser.error("rescoring needs --since D, --date D or --last-days N")
    with open_lake(args.env) as ctx:
        since = args.since
        if args.last_days:
            latest = scalar(ctx.lake.read(SILVER_MESSAGES).agg(F.max("sent_date")))
            since = latest - timedelta(days=args.last_days - 1) if latest else None
        r = score_messages(ctx, args.date, since, args.until, args.model_uri, args.rescore)
        print(f"{SILVER_MESSAGE_EMOTIONS}: scored {r.scored} messages with {r.model} v{r.version}; "
              f"{r.skipped} already scored by this version")
        s = None if args.model_uri else score_suggestions(ctx, args.date, since, args.until, args.rescore)
        if s is None and not args.model_uri:
            print(f"{SILVER_MESSAGE_SUGGESTIONS}: skipped, no {ctx.config.suggestions.model_name}@"
                  f"{ctx.config.mlflow.champion_alias} yet (voicelake train-suggestions)")
        elif s is not None:
            print(f"{SILVER_MESSAGE_SUGGESTIONS}: read {s.scored} customer messages with {s.model} v{s.version}; "
                  f"{s.skipped} already read by this version")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return run_job(_main, argv)


def main_rescore(argv: Sequence[str] | None = None) -> int:
    """`voicelake rescore`: score again every message of the dates."""
    return run_job(lambda a: _main(a, rescore=True), argv)


if __name__ == "__main__":
    raise SystemExit(main())
