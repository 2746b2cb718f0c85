"""The SLA-breach model's training job and the mart build_gold stages from its champion
(docs/marts.md#goldsla_risk).

    gold.sla_risk   date partitions   every conversation waiting for its first reply at the
                                     end of each day of the build's data interval, with its
                                     probability of breaching its SLA target

Training (models/sla_risk.py) reads the whole history of silver.conversations, silver.messages
and silver.message_emotions; the mart needs a ``voicelake-sla-risk@champion`` and scored
messages, else it is not built. Each build replaces the days it covers and keeps the others
(yesterday's warnings stay beside what happened).

    voicelake train-sla-risk                 # the retraining DAG's train_sla_risk
    voicelake train-sla-risk --if-missing    # the daily DAG's sla_model: a first model, once
    spark-submit jobs/sla_risk.py
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.jobs.transforms.sla_risk import build_sla_risk, sla_features
from voicelake.models.sla_risk import (
    SlaTraining,
    TooLittleHistory,
    breach_probability,
    fit_sla_risk,
    labelled,
    load_sla_champion,
    register_sla_risk,
    sla_params,
)
from voicelake.runtime import JobContext, job_parser, open_lake, run_job
from voicelake.schemas import GOLD_SLA_RISK, SILVER_CONVERSATIONS, SILVER_MESSAGE_EMOTIONS, SILVER_MESSAGES

SLA_MARTS = (GOLD_SLA_RISK,)


def _silver(ctx: JobContext) -> tuple[DataFrame, DataFrame, DataFrame]:
    return (ctx.lake.read(SILVER_CONVERSATIONS), ctx.lake.read(SILVER_MESSAGES),
            ctx.lake.read(SILVER_MESSAGE_EMOTIONS))


def train_sla_risk(ctx: JobContext) -> SlaTraining:
    """Fit the model on the lake's history, register it and promote it when better."""
    if not ctx.lake.exists(SILVER_MESSAGE_EMOTIONS):
        raise TooLittleHistory("the SLA-risk model reads the customers' emotions: score the messages first "
                         "(voicelake score)")
    params = sla_params(ctx.config)
    snapshots = labelled(sla_features(*_silver(ctx), params)).cache()
    try:
        fit = fit_sla_risk(snapshots, params)
        return register_sla_risk(ctx.config, fit, fit.test, params)
    finally:
        snapshots.unpersist()


def sla_champion_version(ctx: JobContext) -> Any | None:
    from voicelake.models.registry import configure_mlflow, version_by_alias

    configure_mlflow(ctx.config)
    return version_by_alias(ctx.config, ctx.config.mlflow.champion_alias, sla_params(ctx.config).model_name)


def sla_times(ctx: JobContext, dates: Sequence[date] | None) -> list[datetime]:
    """The times the mart describes: the end of each of the run's dates (for a full rebuild,
    of every day from the first to the last a conversation with an SLA clock opened), never
    after now (a day not over yet: the last full hour)."""
    if dates is None:
        clocks = ctx.lake.read(SILVER_CONVERSATIONS).where(F.col("sla_target_minutes").isNotNull())
        row = clocks.agg(F.min("opened_date"), F.max("opened_date")).first()
        if row is None or row[0] is None:
            return []
        dates = [row[0] + timedelta(days=i) for i in range((row[1] - row[0]).days + 1)]
    now = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    return sorted({min(now, datetime.combine(d + timedelta(days=1), time())) for d in dates})


def build_sla_marts(ctx: JobContext, dates: Sequence[date] | None) -> dict[str, DataFrame]:
    """gold.sla_risk at the end of each of the run's dates; nothing without scored messages or
    a champion."""
    if not ctx.lake.exists(SILVER_MESSAGE_EMOTIONS):
        return {}
    times = sla_times(ctx, dates)
    champion = load_sla_champion(ctx.config)
    if not times or champion is None:
        return {}
    waiting = sla_features(*_silver(ctx), sla_params(ctx.config), at=times)
    return {GOLD_SLA_RISK: build_sla_risk(breach_probability(champion.model, waiting), champion.threshold,
                                          champion.version)}


def train_when_possible(ctx: JobContext, only_if_missing: bool) -> str:
    """Train (only when there is no champion yet, with ``only_if_missing``); a lake with too
    little scored history is no error here: it says so and gold.sla_risk waits for a model."""
    if only_if_missing:
        champion = sla_champion_version(ctx)
        if champion is not None:
            return f"champion: {sla_params(ctx.config).model_name} v{champion.version}; nothing to train"
    try:
        result = train_sla_risk(ctx)
    except TooLittleHistory as exc:
        return f"no SLA-risk model trained: {exc}"
    return f"{result.reason} (run {result.run_id})"


def _main(argv: Sequence[str] | None) -> int:
    parser = job_parser("voicelake train-sla-risk",
                        "Train the SLA-breach model on the lake's history, register it, promote it if better.")
    parser.add_argument("--if-missing", action="store_true",
                        help="train only when there is no champion yet (the daily DAG's first model)")
    parser.add_argument("--if-history", action="store_true",
                        help="too little scored history is no error: say so and exit 0 (the retraining DAG's "
                             "bootstrap run)")
    args = parser.parse_args(argv)
    with open_lake(args.env) as ctx:
        if args.if_missing or args.if_history:
            print(train_when_possible(ctx, args.if_missing))
        else:
            result = train_sla_risk(ctx)
            print(f"{result.reason} (run {result.run_id})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
