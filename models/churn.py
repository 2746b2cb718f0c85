"""The churn model (``voicelake-churn``): gradient-boosted trees (Spark ML) on the customer-week
features of jobs/transforms/customer_health.py.

A customer *churns* when an agent confirms their cancellation in a message that matches
``churn.cancellation_pattern`` (a customer who only threatens to leave has not). The label of a
customer-week is whether that happens within ``horizon_weeks`` after the week's end.

Training (``voicelake train-churn``, the retraining DAG's ``train_churn``) reads the whole
history and splits by time: the last ``test_weeks`` weeks whose label is known evaluate; the
model trains on the weeks whose label was known before the first test week began (their
windows end before it: no training label looks into the test weeks). Metrics on the test
weeks: AUC and Brier score of the model and of a baseline that knows only the customer's last
survey answer (the same trees on ``last_survey_score`` and ``weeks_since_survey``: what a
CSAT/NPS programme alone would say), and the base rate.

Registered as ``@challenger`` with the training base rate as a version tag; promoted to
``@champion`` when its test AUC beats the survey-only baseline (first version) or the
champion's AUC on the same test weeks by ``promotion_margin``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pyspark.ml import Pipeline, PipelineModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.config import Config, ConfigError, params_from_mapping
from voicelake.models import risk_models
from voicelake.models.risk_models import (
    Registration,
    RiskTraining,
    first_row,
    gbt_pipeline,
    labelled_by,
    list_versions,
    load_champion,
    register_risk_model,
    with_probability,
)

NUMERIC_FEATURES = (
    "contacts_recent", "contacts_lookback", "repeat_contacts_recent", "unresolved_recent",
    "days_since_last_contact", "customer_messages_recent", "mean_valence_recent", "negative_share_recent",
    "last_valence", "valence_trend", "mean_valence_lookback", "min_valence_lookback", "opening_valence_lookback",
    "negative_openings_lookback", "days_since_bad_experience", "last_survey_score", "weeks_since_survey")
# no product: its churn rate moves with releases and incidents, and a model that learnt last
# quarter's troubled product ranks it high long after (on planted history it cost 0.03-0.04 AUC)
CATEGORICAL_FEATURES: tuple[str, ...] = ()
BASELINE_FEATURES = ("last_survey_score", "weeks_since_survey")
BASE_RATE_TAG = "base_rate"
# an agent confirms a cancellation: "I've cancelled your subscription", "your account has been closed"
DEFAULT_CANCELLATION_PATTERN = (
    r"(?i)\b(cancell?ed|closed|terminated)\b[^.!?]{0,40}\b(subscription|account|plan|contract|membership)\b"
    r"|\b(subscription|account|plan|contract|membership)\b[^.!?]{0,40}\b(has been|is now|is|was)\s+"
    r"(cancell?ed|closed|terminated)\b")


@dataclass(frozen=True)
class ChurnParams:
    """gold.customer_health and its model (conf ``churn``)."""

    model_name: str = "voicelake-churn"
    cancellation_pattern: str = DEFAULT_CANCELLATION_PATTERN  # Java regex over agent messages
    horizon_weeks: int = 1         # the label: cancelled within this many weeks after the week's end
    recent_weeks: int = 4          # the "recent" features count this many weeks up to the week's end
    lookback_weeks: int = 12       # a customer has a row while they had a conversation this recently
    test_weeks: int = 3            # time-based split: the last weeks whose label is known evaluate
    max_depth: int = 3
    max_iter: int = 40
    step_size: float = 0.1
    min_instances_per_node: int = 10
    subsampling_rate: float = 0.8
    min_train_rows: int = 200      # fewer labelled training rows, or no churner among them: no model
    promotion_margin: float = 0.0  # a challenger's test AUC must beat the champion's on the same split by this
    seed: int = 17

    @classmethod
    def from_config(cls, values: Mapping[str, Any] | None) -> ChurnParams:
        params = params_from_mapping(cls, values, "churn")
        if min(params.horizon_weeks, params.recent_weeks, params.test_weeks, params.max_depth,
               params.max_iter, params.min_instances_per_node) < 1:
            raise ConfigError("churn: weeks, max_depth, max_iter and min_instances_per_node must be >= 1")
        if params.lookback_weeks < params.recent_weeks:
            raise ConfigError("churn.lookback_weeks must be at least churn.recent_weeks")
        if not 0.0 < params.subsampling_rate <= 1.0:
            raise ConfigError("churn.subsampling_rate must be in (0, 1]")
        try:
            import re

            re.compile(params.cancellation_pattern.removeprefix("(?i)"))
        except re.error as exc:
            raise ConfigError(f"churn.cancellation_pattern is not a regular expression: {exc}") from exc
        return params


def churn_params(config: Config) -> ChurnParams:
    return ChurnParams.from_config(config.churn)


class TooLittleHistory(ValueError):
    """The lake holds too few labelled customer-weeks (or no churner) to train and evaluate a model."""


def churn_pipeline(params: ChurnParams, numeric: tuple[str, ...] = NUMERIC_FEATURES,
                   categorical: tuple[str, ...] = CATEGORICAL_FEATURES) -> Pipeline:
    """Index the categorical features, assemble, gradient-boosted trees on ``label``."""
    return gbt_pipeline(params, numeric, categorical)


def labelled(features: DataFrame) -> DataFrame:
    """Customer-weeks whose label is known, with a numeric ``label``."""
    return labelled_by(features, "churned_within_horizon")


def churn_probability(model: PipelineModel, frame: DataFrame) -> DataFrame:
    """``frame`` with the model's ``churn_probability`` (its own columns kept)."""
    return with_probability(model, frame, "churn_probability")


def auc(scored: DataFrame) -> float:
    return risk_models.auc(scored, "churn_probability")


@dataclass(frozen=True)
class ChurnSplit:
    train: DataFrame
    test: DataFrame
    test_from: date    # the first test week
    train_until: date  # the last training week


def time_split(rows: DataFrame, params: ChurnParams) -> ChurnSplit:
    """Split labelled customer-weeks by week (module doc)."""
    last = first_row(rows.agg(F.max("week")))[0]
    if last is None:
        raise TooLittleHistory("no customer-week with a known churn label: the history is shorter than "
                               "churn.horizon_weeks after its first week")
    test_from = last - timedelta(weeks=params.test_weeks - 1)
    train_until = test_from - timedelta(weeks=params.horizon_weeks)
    week = F.col("week")
    return ChurnSplit(rows.where(week <= F.lit(train_until)), rows.where(week >= F.lit(test_from)),
                      test_from, train_until)


@dataclass(frozen=True)
class ChurnFit:
    model: PipelineModel
    base_rate: float
    metrics: dict[str, float]
    test: DataFrame  # the test weeks' labelled rows (a challenger and the champion are compared on them)


def fit_churn(rows: DataFrame, params: ChurnParams, log: Callable[[str], None] = print) -> ChurnFit:
    """Model and survey-only baseline on the training weeks, metrics on the test weeks (module
    doc). ``rows``: labelled customer-weeks."""
    split = time_split(rows, params)
    part = F.when(F.col("week") >= F.lit(split.test_from), "test") \
        .when(F.col("week") <= F.lit(split.train_until), "training")
    counts = {r[0]: (int(r[1]), int(r[2] or 0)) for r in
              rows.groupBy(part.alias("part")).agg(F.count(F.lit(1)), F.sum("label")).collect()}
    for name, minimum in (("training", params.min_train_rows), ("test", 1)):
        n, churners = counts.get(name, (0, 0))
        if n < minimum or not 0 < churners < n:
            raise TooLittleHistory(
                f"too little churn history to train on: the {name} weeks hold {n} customer-weeks ({churners} "
                f"churned within {params.horizon_weeks} weeks), fewer than {minimum} or one class only "
                f"(training weeks up to {split.train_until}, test weeks from {split.test_from})")
    model = churn_pipeline(params).fit(split.train)
    baseline = churn_pipeline(params, BASELINE_FEATURES, ()).fit(split.train)
    test = churn_probability(model, split.test).cache()
    base = churn_probability(baseline, split.test).cache()
    n_train, churners_train = counts["training"]
    n_test, churners_test = counts["test"]
    metrics = {"test_auc": auc(test), "baseline_auc": auc(base),
               "test_brier": risk_models.brier(test, "churn_probability"),
               "baseline_brier": risk_models.brier(base, "churn_probability"),
               "train_rows": float(n_train), "train_churn_rate": churners_train / n_train,
               "test_rows": float(n_test), "test_churn_rate": churners_test / n_test}
    test.unpersist()
    base.unpersist()
    log(f"churn: test AUC {metrics['test_auc']:.3f} (survey-only baseline {metrics['baseline_auc']:.3f}), "
        f"Brier {metrics['test_brier']:.4f} ({metrics['baseline_brier']:.4f}); {n_test} test customer-weeks, "
        f"{churners_test} churned within {params.horizon_weeks} weeks")
    return ChurnFit(model, churners_train / n_train, metrics, split.test)


ChurnTraining = RiskTraining


def register_churn(config: Config, fit: ChurnFit, params: ChurnParams,
                   log: Callable[[str], None] = print) -> ChurnTraining:
    """Log the fit to MLflow, register it as @challenger and promote it when it is better."""
    return register_risk_model(config, fit.model, Registration(
        name=params.model_name, run_name="churn",
        params={"features": ",".join([*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]),
                "baseline_features": ",".join(BASELINE_FEATURES), "horizon_weeks": params.horizon_weeks,
                "recent_weeks": params.recent_weeks, "lookback_weeks": params.lookback_weeks,
                "test_weeks": params.test_weeks, "max_depth": params.max_depth, "max_iter": params.max_iter,
                "step_size": params.step_size, "cancellation_pattern": params.cancellation_pattern[:250]},
        metrics=fit.metrics, tags={BASE_RATE_TAG: str(fit.base_rate)}, score=fit.metrics["test_auc"],
        baseline=("the survey-only baseline", fit.metrics["baseline_auc"]),
        champion_score=lambda champion: auc(churn_probability(champion, fit.test)),
        margin=params.promotion_margin), log)


@dataclass(frozen=True)
class ChurnChampion:
    model: PipelineModel
    version: str
    base_rate: float  # the training weeks' share of customers who churned within the horizon


def load_churn_champion(config: Config) -> ChurnChampion | None:
    """The champion model with its training base rate; None when there is none yet."""
    champion = load_champion(config, churn_params(config).model_name)
    if champion is None:
        return None
    return ChurnChampion(champion.model, champion.version, float(champion.tags.get(BASE_RATE_TAG, "nan")))


def list_churn_versions(config: Config) -> list[dict[str, Any]]:
    """Every registered version of the churn model with its aliases and test metrics."""
    return list_versions(config, churn_params(config).model_name,
                         ("test_auc", "baseline_auc", "test_brier", "test_churn_rate"), (BASE_RATE_TAG,))
