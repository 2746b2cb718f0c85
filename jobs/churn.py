"""The churn model's training job and the mart build_gold stages from its champion
(docs/marts.md#goldcustomer_health).

    gold.customer_health   week partitions   every customer with a conversation in the last
                                            churn.lookback_weeks who has not cancelled, per week
                                            of the build's data interval: contacts, emotion,
                                            surveys, predicted NPS class, churn probability

Training (models/churn.py) reads the whole history of silver.conversations, silver.messages and
silver.message_emotions; the mart needs a ``voicelake-churn@champion`` and scored messages, else
it is not built. Each build replaces the weeks it covers and keeps the others.

    voicelake train-churn                 # the retraining DAG's train_churn
    voicelake train-churn --if-missing    # the daily DAG's churn_model: a first model, once
    spark-submit jobs/churn.py
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.jobs.risk_training import RiskTrainingJob, scored_silver
from voicelake.jobs.transforms.customer_health import build_customer_health, customer_week_features
from voicelake.jobs.transforms.emotion_index import customer_windows, with_respondent_posteriors
from voicelake.jobs.transforms.voc import OutcomeParams
from voicelake.models.churn import (
    ChurnTraining,
    TooLittleHistory,
    churn_params,
    churn_probability,
    fit_churn,
    labelled,
    load_churn_champion,
    register_churn,
)
from voicelake.runtime import JobContext
from voicelake.schemas import GOLD_CUSTOMER_HEALTH, SILVER_MESSAGE_EMOTIONS, SILVER_MESSAGES

CHURN_PARTITIONS = {GOLD_CUSTOMER_HEALTH: "week"}
CHURN_MARTS = tuple(CHURN_PARTITIONS)


def data_end(messages: DataFrame) -> datetime | None:
    """The cut-off of the data: just after the last message, never after now."""
    last = messages.agg(F.max("sent_at")).first()
    if last is None or last[0] is None:
        return None
    return min(last[0] + timedelta(seconds=1), datetime.now(UTC).replace(tzinfo=None))


def customer_weeks(ctx: JobContext, end: datetime | None = None) -> DataFrame:
    """Every customer-week of the lake's history with its features and label."""
    conversations, messages, emotions = scored_silver(ctx)
    end = end or data_end(messages)
    if end is None:
        raise TooLittleHistory("silver.messages is empty")
    return customer_week_features(conversations, messages, emotions, churn_params(ctx.config),
                                  OutcomeParams(**ctx.config.voc.outcomes), end)


def train_churn(ctx: JobContext) -> ChurnTraining:
    """Fit the model on the lake's history, register it and promote it when better."""
    if not ctx.lake.exists(SILVER_MESSAGE_EMOTIONS):
        raise TooLittleHistory("the churn model reads the customers' emotions: score the messages first "
                               "(voicelake score)")
    params = churn_params(ctx.config)
    rows = labelled(customer_weeks(ctx)).cache()
    try:
        fit = fit_churn(rows, params)
        return register_churn(ctx.config, fit, params)
    finally:
        rows.unpersist()


def mart_weeks(dates: Sequence[date] | None) -> list[date] | None:
    """The weeks (Mondays) a build of ``dates`` describes; None: every week."""
    return None if dates is None else sorted({d - timedelta(days=d.weekday()) for d in dates})


def predicted_nps(ctx: JobContext, weeks: Sequence[date]) -> DataFrame | None:
    """(week, customer_key, predicted_nps_class, p_promoter, p_detractor) from the champion NPS
    calibration of the emotion index, on the customer's messages of the index's window
    (voc.window_days up to the week's end); None before an index was published."""
    from voicelake.jobs.voc_marts import survey_answers, week_windows
    from voicelake.models.calibration_registry import load_champion_coefficients
    from voicelake.models.taxonomy import load_taxonomy

    loaded = load_champion_coefficients(ctx.config)
    if loaded is None or not weeks:
        return None
    coefficients, _ = loaded
    conversations, messages, emotions = scored_silver(ctx)
    customers = customer_windows(messages, emotions, survey_answers(conversations),
                                 week_windows(ctx, weeks, ctx.config.voc.window_days), load_taxonomy().labels,
                                 OutcomeParams(**ctx.config.voc.outcomes).negative_valence)
    posteriors = with_respondent_posteriors(customers.where(F.col("heard")), coefficients)
    top = F.greatest("q_detractor", "q_passive", "q_promoter")
    klass = (F.when(F.col("q_promoter") == top, "promoter").when(F.col("q_detractor") == top, "detractor")
             .otherwise("passive"))
    return posteriors.select("week", "customer_key", klass.alias("predicted_nps_class"),
                             F.col("q_promoter").alias("p_promoter"), F.col("q_detractor").alias("p_detractor"))


def build_churn_marts(ctx: JobContext, dates: Sequence[date] | None) -> dict[str, DataFrame]:
    """gold.customer_health for the weeks of the run's dates; nothing without scored messages
    or a champion."""
    if not ctx.lake.exists(SILVER_MESSAGE_EMOTIONS):
        return {}
    champion = load_churn_champion(ctx.config)
    if champion is None:
        return {}
    rows = customer_weeks(ctx)
    weeks = mart_weeks(dates)
    if weeks is not None:
        rows = rows.where(F.col("week").isin(weeks))
    else:  # every week silver has messages in (not a second pass over the features)
        span = ctx.lake.read(SILVER_MESSAGES).agg(F.min("sent_date"), F.max("sent_date")).first()
        if span is None or span[0] is None:
            return {}
        weeks = mart_weeks([span[0] + timedelta(days=i) for i in range((span[1] - span[0]).days + 1)]) or []
    return {GOLD_CUSTOMER_HEALTH: build_customer_health(churn_probability(champion.model, rows), champion.base_rate,
                                                       champion.version, predicted_nps(ctx, weeks))}


TRAINING = RiskTrainingJob(
    "voicelake train-churn", "Train the churn model on the lake's history, register it, promote it if better.",
    "churn", lambda config: churn_params(config).model_name, train_churn, TooLittleHistory)


def train_when_possible(ctx: JobContext, only_if_missing: bool) -> str:
    """Train when possible (jobs/risk_training.py); too little history leaves gold.customer_health unbuilt."""
    return TRAINING.when_possible(ctx, only_if_missing)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return TRAINING.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
