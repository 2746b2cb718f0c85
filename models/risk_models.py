"""What the Spark ML risk models share (``voicelake-sla-risk``, ``voicelake-churn``): their
evaluation on a labelled, scored frame, their registration in MLflow as ``@challenger`` with
promotion to ``@champion`` only when better, loading the champion back, and listing versions.

A scored frame has a numeric ``label`` (1.0 = the event happened) and the model's probability
of it in a column the caller names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import StringIndexer, VectorAssembler
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from voicelake.config import Config


def gbt_pipeline(params: Any, numeric: Sequence[str], categorical: Sequence[str], max_bins: int = 32) -> Pipeline:
    """Index the categorical features, assemble, gradient-boosted trees on ``label``; ``params``
    carries max_depth, max_iter, step_size, min_instances_per_node, subsampling_rate and seed."""
    indexed = [f"{c}_index" for c in categorical]
    stages: list[Any] = []
    if categorical:
        stages.append(StringIndexer(inputCols=list(categorical), outputCols=indexed, handleInvalid="keep"))
    stages += [VectorAssembler(inputCols=[*numeric, *indexed], outputCol="features"),
               GBTClassifier(labelCol="label", featuresCol="features", maxDepth=params.max_depth,
                             maxIter=params.max_iter, stepSize=params.step_size, maxBins=max_bins, seed=params.seed,
                             minInstancesPerNode=params.min_instances_per_node,
                             subsamplingRate=params.subsampling_rate)]
    return Pipeline(stages=stages)


def labelled_by(features: DataFrame, outcome: str) -> DataFrame:
    """Rows whose boolean ``outcome`` is decided, with it as a numeric ``label``."""
    return features.where(F.col(outcome).isNotNull()).withColumn("label", F.col(outcome).cast("double"))


def with_probability(model: PipelineModel, frame: DataFrame, name: str) -> DataFrame:
    """``frame`` (its own columns kept) with the model's probability of the event as ``name``."""
    from pyspark.ml.functions import vector_to_array

    columns = frame.columns
    out = model.transform(frame).withColumn(name, vector_to_array(F.col("probability"))[1])
    return out.select(*columns, name)


def first_row(frame: DataFrame) -> Row:
    """The one row of an aggregate."""
    row = frame.first()
    assert row is not None, "an aggregate without groups has one row"
    return row


def auc(scored: DataFrame, probability: str) -> float:
    """Area under the ROC curve of ``probability`` against ``label``."""
    return float(BinaryClassificationEvaluator(rawPredictionCol=probability, labelCol="label",
                                               metricName="areaUnderROC").evaluate(scored))


def brier(scored: DataFrame, probability: str) -> float:
    """Mean squared error of ``probability`` against ``label``."""
    return float(first_row(scored.agg(F.avg((F.col(probability) - F.col("label")) ** 2)))[0])


@dataclass(frozen=True)
class RiskTraining:
    run_id: str
    version: str
    metrics: dict[str, float]
    promoted: bool
    reason: str


@dataclass(frozen=True)
class Registration:
    """What to log and how to judge a fitted risk model against the champion."""

    name: str                      # the registered model
    run_name: str
    params: Mapping[str, Any]
    metrics: Mapping[str, float]   # NaN metrics are not logged
    tags: Mapping[str, str]        # version tags (a flag threshold, the base rate)
    score: float                   # the challenger's test figure (higher is better)
    baseline: tuple[str, float]    # (what, its figure): the reference when there is no champion yet
    champion_score: Callable[[PipelineModel], float]  # the champion's figure on the same test rows
    margin: float = 0.0


def register_risk_model(config: Config, model: PipelineModel, reg: Registration,
                        log: Callable[[str], None] = print) -> RiskTraining:
    """Log ``model`` to MLflow, register it as ``@challenger`` and promote it to ``@champion``
    when its score beats the champion's (or, for a first version, the baseline's) by the margin."""
    import mlflow
    import mlflow.spark
    from mlflow import MlflowClient

    from voicelake.models.registry import configure_mlflow, version_by_alias

    configure_mlflow(config)
    client = MlflowClient()
    with mlflow.start_run(run_name=reg.run_name) as run:
        mlflow.set_tags({"voicelake.model": reg.name})
        mlflow.log_params(dict(reg.params))
        mlflow.log_metrics({k: float(v) for k, v in reg.metrics.items() if v == v})
        info = mlflow.spark.log_model(model, "model", pip_requirements=["pyspark"], registered_model_name=reg.name)
    version = str(info.registered_model_version)
    for key, value in reg.tags.items():
        client.set_model_version_tag(reg.name, version, key, value)
    client.set_registered_model_alias(reg.name, config.mlflow.challenger_alias, version)
    champion = version_by_alias(config, config.mlflow.champion_alias, reg.name)
    if champion is None:
        what, reference = reg.baseline
    else:
        what = f"champion v{champion.version}"
        reference = reg.champion_score(mlflow.spark.load_model(f"models:/{reg.name}/{champion.version}"))
    promoted = reg.score > reference + reg.margin
    if promoted:
        client.set_registered_model_alias(reg.name, config.mlflow.champion_alias, version)
        client.set_model_version_tag(reg.name, version, "promoted_over", what)
    reason = (f"test AUC {reg.score:.4f} vs {what} {reference:.4f} (margin {reg.margin}): "
              + ("promoted to @champion" if promoted else "kept the current champion"))
    log(f"registered {reg.name} v{version} as @{config.mlflow.challenger_alias}: {reason}")
    return RiskTraining(run.info.run_id, version, dict(reg.metrics), promoted, reason)


@dataclass(frozen=True)
class Champion:
    model: PipelineModel
    version: str
    tags: Mapping[str, str]


def champion_version(config: Config, name: str) -> Any | None:
    from voicelake.models.registry import configure_mlflow, version_by_alias

    configure_mlflow(config)
    return version_by_alias(config, config.mlflow.champion_alias, name)


def load_champion(config: Config, name: str) -> Champion | None:
    """The ``@champion`` Spark ML model with its version tags; None when there is none yet."""
    import mlflow.spark

    champion = champion_version(config, name)
    if champion is None:
        return None
    model = mlflow.spark.load_model(f"models:/{name}/{champion.version}")
    return Champion(model, str(champion.version), dict(champion.tags))


def list_versions(config: Config, name: str, metrics: Sequence[str], tags: Sequence[str]) -> list[dict[str, Any]]:
    """Every registered version of ``name`` with its aliases, the named test metrics and tags."""
    from voicelake.models.registry import registered_versions

    rows = []
    for v in registered_versions(config, name):
        logged = v.run.data.metrics if v.run else {}
        rows.append({"model": name, "version": v.version, "aliases": v.aliases,
                     **{k: logged.get(k) for k in metrics}, **{k: v.tags.get(k) for k in tags},
                     "run_id": v.run.info.run_id if v.run else None})
    return rows
