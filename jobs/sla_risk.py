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

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.jobs.risk_training import RiskTrainingJob, scored_silver
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
from voicelake.runtime import JobContext
from voicelake.schemas import GOLD_SLA_RISK, SILVER_CONVERSATIONS, SILVER_MESSAGE_EMOTIONS

SLA_MARTS = (GOLD_SLA_RISK,)


def train_sla_risk(ctx: JobContext) -> SlaTraining:
    """Fit the model on the lake's history, register it and promote it when better."""
    if not ctx.lake.exists(SILVER_MESSAGE_EMOTIONS):
        raise TooLittleHistory("the SLA-risk model reads the customers' emotions: score the messages first "
                         "(voicelake score)")
    params = sla_params(ctx.config)
    snapshots = labelled(sla_features(*scored_silver(ctx), params)).cache()
    try:
        fit = fit_sla_risk(snapshots, params)
        return register_sla_risk(ctx.config, fit, fit.test, params)
    finally:
        snapshots.unpersist()


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
    waiting = sla_features(*scored_silver(ctx), sla_params(ctx.config), at=times)
    return {GOLD_SLA_RISK: build_sla_risk(breach_probability(champion.model, waiting), champion.threshold,
                                          champion.version)}


TRAINING = RiskTrainingJob(
    "voicelake train-sla-risk", "Train the SLA-breach model on the lake's history, register it, promote it if better.",
    "SLA-risk", lambda config: sla_params(config).model_name, train_sla_risk, TooLittleHistory)


def train_when_possible(ctx: JobContext, only_if_missing: bool) -> str:
    """Train when possible (jobs/risk_training.py); too little history leaves gold.sla_risk unbuilt."""
    return TRAINING.when_possible(ctx, only_if_missing)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return TRAINING.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
