"""The topic model in MLflow: ``topics.model_name`` (voicelake-topics), champion and challenger.

A refit (`register_refit`) logs one MLflow run (params, the sample's mean cosine distance to
its topic under the new model and under the champion, clusters kept / new, ``topics.json``)
and registers a new version as ``@challenger``. It becomes ``@champion`` when it describes
the same sample at least as closely as the champion does (mean distance not larger), or when
there is no champion yet; a refit that fits worse stays a challenger. Topic ids are matched
to the champion's (`voicelake.models.topics.match_topic_ids`), so a promotion does not
renumber what BI tables already hold.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from voicelake.config import Config
from voicelake.models.registry import configure_mlflow, version_by_alias
from voicelake.models.topics import TopicModel


class TopicsPyfunc(PythonModel):
    """pyfunc: a DataFrame with an ``embedding`` column (unit vectors of the model's encoder)
    -> topic_id, topic_label, distance."""

    def load_context(self, context: Any) -> None:
        self.model = TopicModel.from_dict(json.loads(Path(context.artifacts["topics"]).read_text()))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        embeddings = np.stack([np.asarray(e, dtype=np.float32) for e in model_input["embedding"]]) \
            if len(model_input) else np.zeros((0, self.model.centroids.shape[1]), dtype=np.float32)
        ids, distance = self.model.assign(embeddings)
        return pd.DataFrame({"topic_id": ids, "topic_label": [self.model.label_of(int(i)) for i in ids],
                             "distance": distance})


@dataclass(frozen=True)
class RegisteredTopics:
    model: TopicModel
    version: str


@dataclass(frozen=True)
class RefitDecision:
    version: str
    promoted: bool
    distance: float                  # mean cosine distance of the sample to its topic, new model
    champion_distance: float | None  # the same under the champion it was compared with
    kept: int                        # clusters that kept an id of the champion
    new: int                         # clusters the champion did not have


def load_topics(config: Config, alias: str | None = None) -> RegisteredTopics | None:
    """The topic model holding ``alias`` (default: champion); None when there is none."""
    import mlflow

    configure_mlflow(config)
    version = version_by_alias(config, alias or config.mlflow.champion_alias, config.topics.model_name)
    if version is None:
        return None
    data = mlflow.artifacts.load_dict(f"runs:/{version.run_id}/topics.json")
    return RegisteredTopics(TopicModel.from_dict(data), str(version.version))


def mean_distance(model: TopicModel, embeddings: np.ndarray) -> float:
    return float(model.assign(embeddings)[1].mean()) if len(embeddings) else float("nan")


def register_refit(config: Config, model: TopicModel, sample: np.ndarray, champion: RegisteredTopics | None,
                   params: dict[str, Any]) -> RefitDecision:
    """Log and register ``model`` as @challenger; promote it (see the module doc)."""
    import mlflow
    from mlflow import MlflowClient

    configure_mlflow(config)
    distance = mean_distance(model, sample)
    before = mean_distance(champion.model, sample) if champion is not None else None
    promoted = before is None or distance <= before
    kept = sum(not n for n in model.new) if champion is not None else 0
    metrics = {"mean_distance": distance, "clusters": len(model.topic_ids), "clusters_new": sum(model.new),
               "clusters_kept": kept, "sample": len(sample)}
    if before is not None:
        metrics["champion_mean_distance"] = before
    name = config.topics.model_name
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_name="topics-refit"):
        path = Path(tmp) / "topics.json"
        path.write_text(model.to_json())
        mlflow.log_dict(model.to_dict(), "topics.json")  # runs:/<run>/topics.json
        mlflow.log_params({**params, "champion_version": champion.version if champion else "none"})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        example = pd.DataFrame({"embedding": [model.centroids[0].tolist()]})
        info = mlflow.pyfunc.log_model(
            name="model", python_model=TopicsPyfunc(), artifacts={"topics": str(path)},
            input_example=example, pip_requirements=["numpy", "pandas"], registered_model_name=name)
    version = str(info.registered_model_version)
    client = MlflowClient()
    client.set_registered_model_alias(name, config.mlflow.challenger_alias, version)
    if promoted:
        client.set_registered_model_alias(name, config.mlflow.champion_alias, version)
    return RefitDecision(version, promoted, distance, before, kept, sum(model.new))
