"""The SLA-breach model (``voicelake-sla-risk``): gradient-boosted trees (Spark ML) on the
point-in-time snapshots of jobs/transforms/sla_risk.py.

Training (``voicelake train-sla-risk``, the retraining DAG's ``train_sla_risk``) reads the
history from silver, takes every conversation waiting for its first reply at every hour of it
with its decided ``sla_breached`` as the label, and splits by time: the last ``test_days`` of
snapshots evaluate; before them, the last ``validation_days`` choose the flag threshold (the
lowest whose precision on them reaches ``min_precision``) for a model fitted on the rest, and
the registered model is refitted on every training snapshot. Metrics on the test days: AUC
and Brier score of the model and of a baseline that knows only the elapsed time (the same
trees on ``elapsed_minutes`` alone), and the hour-ahead warning: of the test conversations
whose target is at least ``warning_minutes`` plus an hour, the share of breaches flagged at
their last snapshot ``warning_minutes`` or more before the target (recall) and the share of
flagged ones that breached (precision).

Registered as ``@challenger`` with the threshold as a version tag; promoted to ``@champion``
when its test AUC beats the elapsed-time baseline (first version) or the champion's AUC on the
same test snapshots by ``promotion_margin``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pyspark.ml import Pipeline, PipelineModel
from pyspark.sql import DataFrame, Window
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

SNAPSHOT_MINUTES = 60
NUMERIC_FEATURES = (
    "elapsed_minutes", "target_used", "minutes_left", "sla_target_minutes", "hour_of_day", "weekend", "clock_hour",
    "clock_weekend",
    "arrivals_last_hour", "arrivals_last_day", "queue_backlog", "agents_recent", "backlog_per_agent",
    "recent_answered", "recent_target_used",
    "customer_messages", "max_anger", "max_anxiety", "last_valence", "valence_change")
CATEGORICAL_FEATURES = ("channel", "queue", "priority")
NO_VALUE = "(none)"  # a categorical feature's value when the source has none (a chat's priority)


@dataclass(frozen=True)
class SlaRiskParams:
    """gold.sla_risk and its model (conf ``sla_risk``)."""

    model_name: str = "voicelake-sla-risk"
    backlog_hours: int = 24          # the backlog counts waiting conversations whose clock started this recently
    shift_minutes: int = 180         # agents on shift: distinct agents who wrote in the queue this recently
    test_days: int = 7               # time-based split: snapshots of the last days evaluate, the earlier train
    validation_days: int = 7         # the training part's last days choose the flag threshold
    warning_minutes: int = 60        # a breach is flagged in time when warned at least this long before its target
    min_precision: float = 0.6       # the flag threshold: the lowest whose validation precision reaches this
    max_depth: int = 4
    max_iter: int = 60
    step_size: float = 0.1
    min_instances_per_node: int = 20  # snapshots of one conversation are alike: leaves need many of them
    subsampling_rate: float = 0.8
    min_train_snapshots: int = 200   # fewer labelled snapshots (or one class only): no model is trained
    promotion_margin: float = 0.0    # a challenger's test AUC must beat the champion's on the same split by this
    seed: int = 17

    @classmethod
    def from_config(cls, values: Mapping[str, Any] | None) -> SlaRiskParams:
        params = params_from_mapping(cls, values, "sla_risk")
        if min(params.backlog_hours, params.shift_minutes, params.test_days, params.validation_days,
               params.max_depth, params.max_iter) < 1 or params.warning_minutes < 0:
            raise ConfigError("sla_risk: hours, minutes, days, max_depth and max_iter must be >= 1 "
                              "(warning_minutes >= 0)")
        if params.min_instances_per_node < 1 or not 0.0 < params.subsampling_rate <= 1.0:
            raise ConfigError("sla_risk: min_instances_per_node must be >= 1, subsampling_rate in (0, 1]")
        if not 0.0 < params.min_precision < 1.0:
            raise ConfigError("sla_risk.min_precision must be in (0, 1)")
        return params


def warning_snapshots(features: DataFrame, params: SlaRiskParams) -> DataFrame:
    """Each conversation's last snapshot at least ``warning_minutes`` before its target (only
    conversations that have one: a target of ``warning_minutes`` plus a grid step or more)."""
    early = features.where(F.col("minutes_left") >= params.warning_minutes)
    last = Window.partitionBy("conversation_id").orderBy(F.col("t").desc())
    return early.withColumn("_n", F.row_number().over(last)).where(F.col("_n") == 1).drop("_n")


class TooLittleHistory(ValueError):
    """The lake holds too few decided first-response clocks to train and evaluate a model."""


THRESHOLD_TAG = "flag_threshold"
BASELINE_FEATURES = ("elapsed_minutes",)


def sla_params(config: Config) -> SlaRiskParams:
    return SlaRiskParams.from_config(config.sla_risk)


def sla_pipeline(params: SlaRiskParams, numeric: tuple[str, ...] = NUMERIC_FEATURES,
                 categorical: tuple[str, ...] = CATEGORICAL_FEATURES) -> Pipeline:
    """Index the categorical features, assemble, gradient-boosted trees on ``label``."""
    return gbt_pipeline(params, numeric, categorical, max_bins=64)


def labelled(features: DataFrame) -> DataFrame:
    """Snapshots whose conversation's breach is decided, with a numeric ``label``."""
    return labelled_by(features, "sla_breached")


def breach_probability(model: PipelineModel, frame: DataFrame) -> DataFrame:
    """``frame`` with the model's ``breach_probability`` (its own columns kept)."""
    return with_probability(model, frame, "breach_probability")


def auc(scored: DataFrame) -> float:
    return risk_models.auc(scored, "breach_probability")


def brier(scored: DataFrame) -> float:
    return risk_models.brier(scored, "breach_probability")


def warning_quality(scored: DataFrame, threshold: float, params: SlaRiskParams) -> dict[str, float]:
    """Recall of breaches flagged ``warning_minutes`` ahead and the precision of the flags."""
    warned = warning_snapshots(scored, params).select(
        F.col("label"), (F.col("breach_probability") >= threshold).cast("double").alias("flag"))
    row = first_row(warned.agg(F.count(F.lit(1)).alias("n"), F.sum("label").alias("breaches"),
                          F.sum("flag").alias("flags"), F.sum(F.col("flag") * F.col("label")).alias("hits")))
    n, breaches, flags, hits = (float(row[k] or 0) for k in ("n", "breaches", "flags", "hits"))
    return {"warning_conversations": n, "warning_breaches": breaches, "warning_flags": flags,
            "warning_recall": hits / breaches if breaches else float("nan"),
            "warning_precision": hits / flags if flags else float("nan")}


def choose_threshold(scored: DataFrame, params: SlaRiskParams) -> float:
    """The lowest probability whose flags reach ``min_precision`` on the warning snapshots of
    ``scored`` (most breaches caught at that precision); 0.5 when none does."""
    warned: Any = warning_snapshots(scored, params).select("label", "breach_probability").toPandas()
    if warned.empty:
        return 0.5
    warned = warned.sort_values("breach_probability", ascending=False)
    hits = warned["label"].cumsum().to_numpy()
    flags = range(1, len(warned) + 1)
    best = None
    for (p, h, k) in zip(warned["breach_probability"], hits, flags, strict=True):
        if h / k >= params.min_precision:
            best = float(p)
    return 0.5 if best is None else best


@dataclass(frozen=True)
class SlaSplit:
    train: DataFrame
    test: DataFrame
    fit: DataFrame  # train before the validation days
    validation: DataFrame
    test_from: Any
    validation_from: Any


def time_split(snapshots: DataFrame, params: SlaRiskParams) -> SlaSplit:
    """Split labelled snapshots by their time (module doc)."""
    last = first_row(snapshots.agg(F.max("snapshot_at")))[0]
    if last is None:
        raise TooLittleHistory("no labelled SLA snapshots: the lake holds no decided first-response clock")
    test_from = last - timedelta(days=params.test_days)
    validation_from = test_from - timedelta(days=params.validation_days)
    at = F.col("snapshot_at")
    train = snapshots.where(at < F.lit(test_from))
    return SlaSplit(train, snapshots.where(at >= F.lit(test_from)), train.where(at < F.lit(validation_from)),
                    train.where(at >= F.lit(validation_from)), test_from, validation_from)


@dataclass(frozen=True)
class SlaFit:
    model: PipelineModel
    threshold: float
    metrics: dict[str, float]
    test: DataFrame  # the test days' labelled snapshots (a challenger and the champion are compared on them)


def split_class_counts(snapshots: DataFrame, split: SlaSplit) -> dict[str, tuple[int, int]]:
    """(snapshots, breaches) of the training, validation and test days, in one pass."""
    at = F.col("snapshot_at")
    part = (F.when(at >= F.lit(split.test_from), "test").when(at >= F.lit(split.validation_from), "validation")
            .otherwise("training"))
    rows = snapshots.groupBy(part.alias("part")).agg(F.count(F.lit(1)), F.sum("label")).collect()
    counts = {r[0]: (int(r[1]), int(r[2] or 0)) for r in rows}
    return {name: counts.get(name, (0, 0)) for name in ("training", "validation", "test")}


def fit_sla_risk(snapshots: DataFrame, params: SlaRiskParams, log: Callable[[str], None] = print) -> SlaFit:
    """Threshold on the validation days, model on the training days, metrics on the test days
    against the elapsed-time baseline (module doc). ``snapshots``: labelled features."""
    split = time_split(snapshots, params)
    for name, (n, breaches) in split_class_counts(snapshots, split).items():
        minimum = params.min_train_snapshots if name == "training" else 1
        if n < minimum or not 0 < breaches < n:
            raise TooLittleHistory(f"too little SLA history to train on: the {name} snapshots hold {n} rows "
                                   f"({breaches} breaches), fewer than {minimum} or one class only "
                                   f"(test from {split.test_from}, validation from {split.validation_from})")
    threshold = choose_threshold(breach_probability(sla_pipeline(params).fit(split.fit), split.validation), params)
    model = sla_pipeline(params).fit(split.train)
    baseline = sla_pipeline(params, BASELINE_FEATURES, ()).fit(split.train)
    test = breach_probability(model, split.test).cache()
    base = breach_probability(baseline, split.test).cache()
    counts = first_row(split.train.agg(F.count(F.lit(1)), F.avg("label")))
    metrics = {"test_auc": auc(test), "baseline_auc": auc(base), "test_brier": brier(test),
               "baseline_brier": brier(base), **warning_quality(test, threshold, params),
               "train_snapshots": float(counts[0]), "train_breach_rate": float(counts[1]),
               "test_snapshots": float(test.count())}
    test.unpersist()
    base.unpersist()
    log(f"SLA risk: test AUC {metrics['test_auc']:.3f} (elapsed-time baseline {metrics['baseline_auc']:.3f}), "
        f"Brier {metrics['test_brier']:.3f} ({metrics['baseline_brier']:.3f}); breaches flagged "
        f"{params.warning_minutes} min ahead: {metrics['warning_recall']:.2f} at precision "
        f"{metrics['warning_precision']:.2f} (threshold {threshold:.3f})")
    return SlaFit(model, threshold, metrics, split.test)


SlaTraining = RiskTraining


def register_sla_risk(config: Config, fit: SlaFit, test: DataFrame, params: SlaRiskParams,
                      log: Callable[[str], None] = print) -> SlaTraining:
    """Log the fit to MLflow, register it as @challenger and promote it when it is better."""
    return register_risk_model(config, fit.model, Registration(
        name=params.model_name, run_name="sla_risk",
        params={"features": ",".join([*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]), "threshold": fit.threshold,
                "max_depth": params.max_depth, "max_iter": params.max_iter, "step_size": params.step_size,
                "test_days": params.test_days, "validation_days": params.validation_days,
                "warning_minutes": params.warning_minutes, "min_precision": params.min_precision},
        metrics=fit.metrics, tags={THRESHOLD_TAG: str(fit.threshold)}, score=fit.metrics["test_auc"],
        baseline=("the elapsed-time baseline", fit.metrics["baseline_auc"]),
        champion_score=lambda champion: auc(breach_probability(champion, test)), margin=params.promotion_margin),
        log)


@dataclass(frozen=True)
class SlaChampion:
    model: PipelineModel
    version: str
    threshold: float


def load_sla_champion(config: Config) -> SlaChampion | None:
    """The champion model with its flag threshold; None when there is none yet."""
    champion = load_champion(config, sla_params(config).model_name)
    if champion is None:
        return None
    return SlaChampion(champion.model, champion.version, float(champion.tags.get(THRESHOLD_TAG, 0.5)))


def list_sla_versions(config: Config) -> list[dict[str, Any]]:
    """Every registered version of the SLA-breach model with its aliases and test metrics."""
    rows = list_versions(config, sla_params(config).model_name,
                         ("test_auc", "baseline_auc", "test_brier", "warning_recall", "warning_precision"),
                         (THRESHOLD_TAG,))
    return [{**r, "flag_threshold": r.pop(THRESHOLD_TAG)} for r in rows]
