"""Registered pyfunc models (the emotion model, the suggestion detector) as Spark UDFs.

`resolve_model` resolves an alias to a concrete model version on the driver; `pyfunc_udf`
ships the model's files to every executor with ``SparkContext.addFile`` and returns an
iterator pandas UDF that loads the model once per Python worker (a process-level cache that
survives across tasks and batches with Spark's worker reuse) and predicts each Arrow batch.
Torch (or ONNX Runtime) uses as many threads as the task has cores (``spark.task.cpus``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

_WORKER_MODELS: dict[str, Any] = {}  # model directory -> loaded pyfunc, one per Python worker


def result_schema(labels: list[str]) -> str:
    probs = ", ".join(f"p_{x} double" for x in labels)
    return f"label string, {probs}, valence double, confidence double, input_status string"


def _load_on_worker(local_name: str, threads: int) -> Any:
    from pyspark import SparkFiles

    path = SparkFiles.get(local_name)
    model = _WORKER_MODELS.get(path)
    if model is None:
        import mlflow.pyfunc
        import torch

        torch.set_num_threads(max(1, threads))
        os.environ["VOICELAKE_SCORER_THREADS"] = str(max(1, threads))  # ONNX Runtime's threads too
        gpu = _task_gpu()
        if gpu is not None:  # Spark's resource scheduling gave this task a GPU: score on that one
            os.environ["VOICELAKE_SCORER_DEVICE"] = f"cuda:{gpu}"
        model = mlflow.pyfunc.load_model(path)
        _WORKER_MODELS[path] = model
    return model


def _task_gpu() -> str | None:
    """The address of the GPU Spark assigned to the running task (``spark.task.resource.gpu.amount``), if any."""
    from pyspark import TaskContext

    context = TaskContext.get()
    gpus = context.resources().get("gpu") if context is not None else None
    return gpus.addresses[0] if gpus is not None and gpus.addresses else None


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    version: str
    uri: str
    local_path: str
    labels: list[str]


def _uniquely_named(local: str, name: str, version: str) -> str:
    """A copy of the model folder under a name no other model shares. ``addFile`` ships a
    folder under its base name, and Spark refuses a second folder of that name with other
    contents: MLflow's folders are all called ``artifacts``, so the emotion model and the
    suggestion detector (or two registries' version 1) would collide in one session."""
    import atexit
    import hashlib
    import shutil
    import tempfile

    digest = hashlib.sha1(os.path.abspath(local).encode()).hexdigest()[:12]
    folder = tempfile.mkdtemp(prefix="voicelake-model-")
    atexit.register(shutil.rmtree, folder, True)  # Spark keeps its own copy of what addFile shipped
    target = os.path.join(folder, f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-v{version}-{digest}")
    shutil.copytree(local, target)
    return target


def resolve_model(model_uri: str) -> ResolvedModel:
    """Download a registered model (alias or version URI) and read its labels."""
    import mlflow
    from mlflow import MlflowClient

    name, _, ref = model_uri[len("models:/"):].partition("@")
    client = MlflowClient()
    if ref:
        mv = client.get_model_version_by_alias(name, ref)
    else:
        name, _, number = model_uri[len("models:/"):].partition("/")
        mv = client.get_model_version(name, number)
    uri = f"models:/{name}/{mv.version}"
    local = _uniquely_named(mlflow.artifacts.download_artifacts(uri), name, str(mv.version))
    info = mlflow.models.Model.load(os.path.join(local, "MLmodel"))
    labels = list((info.flavors["python_function"].get("config") or {}).get("labels", []))  # the emotion model's
    return ResolvedModel(name, str(mv.version), uri, local, labels)


def pyfunc_udf(spark: SparkSession, model: ResolvedModel, schema: str):  # type: ignore[no-untyped-def]
    """A pandas UDF text -> struct(``schema``): the model's predict on a ``text`` column."""
    spark.sparkContext.addFile(model.local_path, recursive=True)
    local_name = os.path.basename(model.local_path.rstrip("/"))
    threads = int(spark.conf.get("spark.task.cpus", "1") or 1)

    @F.pandas_udf(schema)  # type: ignore[call-overload]
    def score(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        loaded = _load_on_worker(local_name, threads)
        for texts in batches:
            yield loaded.predict(pd.DataFrame({"text": texts}))

    return score


def emotion_udf(spark: SparkSession, model: ResolvedModel):  # type: ignore[no-untyped-def]
    """A pandas UDF text -> struct(label, p_*, valence, confidence, input_status)."""
    return pyfunc_udf(spark, model, result_schema(model.labels))


def score_column(spark: SparkSession, model: ResolvedModel, text: Column) -> Column:
    """The emotion UDF applied to a text column."""
    return emotion_udf(spark, model)(text)
