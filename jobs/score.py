"""Score silver.messages with the champion emotion model into silver.message_emotions.

Loads ``models:/voicelake-emotion@champion`` (resolved to a version on the driver) and
applies it as a Spark pandas UDF; every row carries the model name and version. One row
per message (MERGE on message_id), partitioned by ``sent_date``: scoring is idempotent,
and incremental (messages already scored by this model version are skipped).
``--rescore`` re-scores every message of the dates; earlier scores stay reachable through
Delta time travel.

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
from voicelake.models.registry import champion_version, configure_mlflow, model_uri
from voicelake.models.scoring import resolve_model, score_column
from voicelake.progress import SparkProgress
from voicelake.runtime import JobContext, add_date_arguments, covered_dates, job_parser, open_lake, run_job
from voicelake.schemas import SILVER_MESSAGE_EMOTIONS, SILVER_MESSAGES


@dataclass(frozen=True)
class ScoreResult:
    model: str
    version: str
    scored: int
    skipped: int


def score_messages(ctx: JobContext, day: date | None = None, since: date | None = None,
                   until: date | None = None, uri: str | None = None, rescore: bool = False) -> ScoreResult:
    """Score the dates' messages (all dates when none given)."""
    configure_mlflow(ctx.config)
    if uri is None:
        champion_version(ctx.config)  # a clear error naming `voicelake train` when there is none
    model = resolve_model(uri or model_uri(ctx.config))
    messages = ctx.lake.read(SILVER_MESSAGES)
    dates = covered_dates(day, since, until, lambda: scalar(messages.agg(F.max("sent_date"))))
    if dates is not None and not rescore:
        # late records: the dates silver rebuilt for builds gold has not consumed yet (what the
        # same run's build-gold will publish) get their new messages scored too
        dates = sorted(set(dates) | {d for rebuilt in unconsumed_silver_builds(ctx).values() for d in rebuilt})
    if dates is not None:
        messages = messages.where(F.col("sent_date").isin(dates))
    todo = messages.select("message_id", "sent_date", "text")
    if not rescore and ctx.lake.exists(SILVER_MESSAGE_EMOTIONS):
        done = (ctx.lake.read(SILVER_MESSAGE_EMOTIONS)
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
        result = score_column(ctx.spark, model, F.col("text"))
        scored = (todo.repartition(parallelism)
                  .select("message_id", "sent_date", result.alias("s"))
                  .select("message_id", "s.*", F.lit(model.name).alias("model_name"),
                          F.lit(model.version).alias("model_version"),
                          F.lit(scored_at).cast("timestamp").alias("scored_at"), "sent_date")
                  .cache())  # MERGE reads its source twice: score once
        with SparkProgress(ctx.spark, f"scoring {n:,} messages"):  # Spark tasks done / total, rate, ETA
            scored.count()
        fault("score.before_merge")  # crash drill: every message scored, nothing written yet
        ctx.lake.merge(scored, SILVER_MESSAGE_EMOTIONS, ["message_id"], partition_by=["sent_date"])
        fault("score.after_merge")  # crash drill: written, the job's own bookkeeping not finished
        scored.unpersist()
    finally:
        todo.unpersist()
    return ScoreResult(model.name, model.version, n, total - n)


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
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return run_job(_main, argv)


def main_rescore(argv: Sequence[str] | None = None) -> int:
    """`voicelake rescore`: score again every message of the dates."""
    return run_job(lambda a: _main(a, rescore=True), argv)


if __name__ == "__main__":
    raise SystemExit(main())
