"""MLflow set-up and the registry workflow: champion / challenger aliases and promotion.

Scoring always loads ``models:/<name>@champion``; promotion only moves the alias, and
only when the challenger beats the champion on the challenger's evaluation set (the
champion is re-scored on it, so both are judged on the same data) by
``model.promotion_margin``. The first model must beat its own run's TF-IDF baseline. A
challenger exported from the champion (an ONNX int8 version, tag ``derived_from_version``)
needs no gain: it is promoted when it loses at most ``model.onnx.max_macro_f1_loss`` and its
labels agree with the champion's on at least ``model.onnx.min_agreement`` of the set.
"""

from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicelake.config import Config


class NoChampionError(LookupError):
    """No model version carries the champion alias yet."""


class RegistryError(RuntimeError):
    """The model registry could not be read (unreachable, refused, broken): not "no model"."""


# What MLflow answers when the model or the alias does not exist (a file/SQL store says
# RESOURCE_DOES_NOT_EXIST for a missing model and INVALID_PARAMETER_VALUE "alias ... not found"
# for a missing alias; a tracking server passes the same codes on; Unity Catalog says NOT_FOUND).
_MISSING_CODES = ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


def is_missing(exc: Exception) -> bool:
    """True when an MLflow error means "this model or alias does not exist", nothing else."""
    code = str(getattr(exc, "error_code", ""))
    if code in _MISSING_CODES:
        return True
    message = str(getattr(exc, "message", exc)).lower()
    return code == "INVALID_PARAMETER_VALUE" and "alias" in message and "not found" in message


def registry_error(uri: str, action: str, exc: Exception) -> RegistryError:
    """A one-line error naming the registry (or tracking) URI and what was being done."""
    lines = str(getattr(exc, "message", exc)).strip().splitlines() or [type(exc).__name__]
    return RegistryError(f"MLflow at {uri} failed while {action}: {lines[0][:300]} "
                         f"(not treated as 'no model'; check the URI in the config and that the server is up)")


def configure_mlflow(config: Config) -> None:
    """Point MLflow at the configured tracking server / registry and experiment."""
    import mlflow
    from mlflow.exceptions import MlflowException

    for uri in (config.mlflow.tracking_uri, config.mlflow.registry_uri):
        if uri.startswith("sqlite:///"):
            Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(config.mlflow.tracking_uri)
    mlflow.set_registry_uri(config.mlflow.registry_uri)
    try:
        experiment = mlflow.get_experiment_by_name(config.mlflow.experiment)
    except MlflowException as exc:
        raise registry_error(config.mlflow.tracking_uri, f"reading experiment {config.mlflow.experiment}", exc) \
            from exc
    if experiment is None:
        artifacts = config.mlflow.artifact_root
        if "://" not in artifacts:
            Path(artifacts).mkdir(parents=True, exist_ok=True)
            artifacts = Path(artifacts).as_uri()
        mlflow.create_experiment(config.mlflow.experiment, artifact_location=artifacts)
    mlflow.set_experiment(config.mlflow.experiment)


def model_uri(config: Config, alias: str | None = None) -> str:
    return f"models:/{config.mlflow.model_name}@{alias or config.mlflow.champion_alias}"


def version_by_alias(config: Config, alias: str, name: str | None = None) -> Any | None:
    """The model version holding ``alias``; None only when the model or alias does not exist.

    Any other registry error (unreachable server, refused request, broken store) raises
    `RegistryError`: read as "no champion" it would trigger bootstrap training or a wrong
    promotion. ``name``: another registered model than the emotion model."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    name = name or config.mlflow.model_name
    try:
        return MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if is_missing(exc):
            return None
        raise registry_error(config.mlflow.registry_uri, f"looking up {name}@{alias}", exc) from exc


def champion_version(config: Config) -> Any:
    """The champion's model version; a clear error naming `voicelake train` if none."""
    version = version_by_alias(config, config.mlflow.champion_alias)
    if version is None:
        raise NoChampionError(
            f"no model version of {config.mlflow.model_name!r} has alias "
            f"@{config.mlflow.champion_alias} in {config.mlflow.registry_uri}. Run `voicelake train` "
            f"(then `voicelake promote`) to register one.")
    return version


@dataclass(frozen=True)
class PromotionDecision:
    promoted: bool
    challenger: str
    champion_before: str | None
    challenger_score: float
    reference_score: float
    reference: str  # "baseline" or "champion vN"
    reason: str


def run_labels(params: dict[str, str]) -> list[str]:
    """The label list a training run logged (``taxonomy_labels``; older runs: ``labels``)."""
    raw = params.get("taxonomy_labels") or params.get("labels") or "[]"
    try:
        return list(json.loads(raw))
    except json.JSONDecodeError:
        return list(ast.literal_eval(raw))


def _eval_score(model: Any, eval_set: Any, labels: list[str]) -> float:
    from voicelake.models.train import evaluate_slices

    slices = {name: df for name, df in eval_set.groupby("slice")}
    return evaluate_slices(lambda xs: list(model.predict(_frame(xs))["label"]), slices, labels)["eval_macro_f1"]


def _frame(texts: list[str]) -> Any:
    import pandas as pd

    return pd.DataFrame({"text": texts})


def promote(config: Config) -> PromotionDecision:
    """Move @champion to @challenger when the challenger is better (see module doc)."""
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient

    from voicelake.models.taxonomy import load_taxonomy

    client = MlflowClient()
    name = config.mlflow.model_name
    challenger = version_by_alias(config, config.mlflow.challenger_alias)
    if challenger is None:
        raise LookupError(f"no @{config.mlflow.challenger_alias} version of {name!r}: run `voicelake train` first")
    run = client.get_run(challenger.run_id)
    labels = run_labels(run.data.params)
    taxonomy = load_taxonomy()
    try:
        taxonomy.check_labels(labels)
    except ValueError as exc:
        raise ValueError(f"refusing to promote {name} v{challenger.version}: {exc}") from exc
    score = float(run.data.metrics["eval_macro_f1"])
    margin = config.model.promotion_margin
    champion = version_by_alias(config, config.mlflow.champion_alias)
    if champion is not None and str(champion.version) == str(challenger.version):
        return PromotionDecision(False, str(challenger.version), str(champion.version), score, score,
                                 f"champion v{champion.version}", "challenger is already the champion")
    if champion is None:
        reference, ref_name = float(run.data.metrics["baseline_eval_macro_f1"]), "baseline"
    else:
        path = mlflow.artifacts.download_artifacts(run_id=challenger.run_id,
                                                   artifact_path="evaluation/eval_set.parquet")
        eval_set = pd.read_parquet(path)
        champion_model = mlflow.pyfunc.load_model(f"models:/{name}/{champion.version}")
        reference, ref_name = _eval_score(champion_model, eval_set, list(taxonomy.labels)), \
            f"champion v{champion.version}"
    better = score > reference + margin
    derived = (challenger.tags or {}).get("derived_from_version")
    if champion is not None and derived == str(champion.version):
        # the champion's own weights in a faster runtime (models/onnx_export.py): it serves when
        # it loses little and says what the champion says
        onnx = config.model.onnx
        agreement = float(run.data.metrics.get("label_agreement", 0.0))
        better = score >= reference - onnx.max_macro_f1_loss and agreement >= onnx.min_agreement
        margin = -onnx.max_macro_f1_loss
        ref_name += f" (exported from it; label agreement {agreement:.4f}, needs >= {onnx.min_agreement})"
    if better:
        client.set_registered_model_alias(name, config.mlflow.champion_alias, challenger.version)
        client.set_model_version_tag(name, challenger.version, "promoted_over", ref_name)
    reason = (f"eval macro-F1 {score:.4f} vs {ref_name} {reference:.4f} (margin {margin}): "
              + ("promoted" if better else "kept the current champion"))
    return PromotionDecision(better, str(challenger.version), str(champion.version) if champion else None,
                             score, reference, ref_name, reason)


@dataclass(frozen=True)
class RegisteredVersion:
    """One registered model version with its aliases and its run (None without one)."""

    version: int
    aliases: str  # comma-separated, sorted
    run: Any
    tags: dict[str, str]


def registered_versions(config: Config, name: str) -> list[RegisteredVersion]:
    """Every version of the registered model ``name``, newest first ([] when it does not exist)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    aliases: dict[str, list[str]] = {}
    try:
        for alias, version in client.get_registered_model(name).aliases.items():
            aliases.setdefault(str(version), []).append(alias)
    except MlflowException as exc:
        if is_missing(exc):  # no such model yet
            return []
        raise registry_error(config.mlflow.registry_uri, f"listing the versions of {name}", exc) from exc
    versions = [RegisteredVersion(int(v.version), ",".join(sorted(aliases.get(str(v.version), []))),
                                  client.get_run(v.run_id) if v.run_id else None, dict(v.tags or {}))
                for v in client.search_model_versions(f"name = '{name}'")]
    return sorted(versions, key=lambda v: -v.version)


def list_versions(config: Config) -> list[dict[str, Any]]:
    """Every registered version with aliases and key metrics (newest first)."""
    rows = []
    for v in registered_versions(config, config.mlflow.model_name):
        metrics = v.run.data.metrics if v.run else {}
        rows.append({
            "version": v.version, "aliases": v.aliases,
            "eval_macro_f1": metrics.get("eval_macro_f1"),
            "baseline_eval_macro_f1": metrics.get("baseline_eval_macro_f1"),
            "goemotions_test_macro_f1": metrics.get("goemotions_test_macro_f1"),
            "indomain_heldout_macro_f1": metrics.get("indomain_heldout_macro_f1"),
            "msgs_per_s": metrics.get("scoring_msgs_per_second"),
            "runtime": v.tags.get("runtime", "torch"),
            "run_id": v.run.info.run_id if v.run else None,
        })
    return rows
