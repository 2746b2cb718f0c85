"""The NPS calibration model in MLflow: fitted per gold build, logged and registered.

`fit_and_register` fits `voicelake.models.nps_calibration.fit_calibration` on the survey
respondents among the build's active customers whose messages were heard (features of their
own messages -> their NPS class), with each class's response rate estimated from who answered
and who did not, then logs one MLflow run
(params, the respondents' calibration error, ``coefficients.json``) and registers the model
as a new version of ``voc.calibration_model_name`` (a pyfunc that maps feature columns to
class probabilities). The emotion index carries that version on every row; `promote` moves
``@champion`` to it once build_gold has published those rows (a build whose validation
fails leaves the alias on the version the published rows name). With fewer than
``voc.min_respondents`` answers, or without all three classes among them, nothing is
fitted and the index says why.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.config import Config
from voicelake.models.nps_calibration import NPS_CLASSES, CalibrationModel, calibration_error, fit_calibration

MAX_POPULATION_ROWS = 200_000  # customers the non-response correction is estimated on (a sample above)


class NpsCalibrationModel(PythonModel):
    """pyfunc: a DataFrame of the feature columns -> p_detractor, p_passive, p_promoter
    (population posteriors, non-response corrected)."""

    def load_context(self, context: Any) -> None:
        data = json.loads(Path(context.artifacts["coefficients"]).read_text())
        self.model = CalibrationModel.from_coefficients(data)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = model_input.reindex(columns=list(self.model.features)).astype(float)
        frame = frame.fillna(pd.Series(self.model.mean, index=list(self.model.features)))
        p = self.model.predict_proba(frame)
        return pd.DataFrame(p, columns=["p_detractor", "p_passive", "p_promoter"])


@dataclass(frozen=True)
class FittedCalibration:
    """A registered calibration model, or (``version`` None) why none was fitted."""

    coefficients: dict[str, Any] | None
    version: str | None
    respondents: int
    calibration_error: float | None
    reason: str = ""


def _population(customers: DataFrame, features: Sequence[str]) -> pd.DataFrame:
    total = customers.count()
    sample = customers if total <= MAX_POPULATION_ROWS else customers.sample(MAX_POPULATION_ROWS / total, seed=7)
    return sample.select("week", "product", "answer", "heard", *features).toPandas()


def fit_and_register(config: Config, customers: DataFrame, features: Sequence[str],
                     weeks: Sequence[date], contacts: str | None = None) -> FittedCalibration:
    """Fit on ``customers`` (`customer_windows` rows), log and register (no alias yet);
    ``contacts`` names the feature counting each customer's contacts (survey chances)."""
    # the model learns from respondents whose messages were heard: only they count toward the gate
    respondents_n = customers.where((F.col("answer") >= 0) & F.col("heard")).count()
    if respondents_n < config.voc.min_respondents:
        reason = (f"no calibration model: {respondents_n} survey answers from customers whose messages were "
                  f"heard, fewer than voc.min_respondents ({config.voc.min_respondents})")
        print(f"emotion index: {reason}")
        return FittedCalibration(None, None, respondents_n, None, reason)
    frame = _population(customers, features)
    heard = frame[frame["heard"]]
    heard = heard.fillna(heard[list(features)].mean()).fillna(0.0)
    answered = heard[heard["answer"] >= 0]
    labels = answered["answer"].to_numpy(dtype=int)
    if len(set(labels)) < 3:
        reason = ("no calibration model: the survey answers of customers whose messages were heard do not "
                  "cover all three NPS classes")
        print(f"emotion index: {reason}")
        return FittedCalibration(None, None, len(labels), None, reason)
    # the model's own error is measured per week and product, the grain of the index's accuracy
    segments = answered["week"].astype(str) + "/" + answered["product"].astype(str)
    model = fit_calibration(answered, labels, heard[heard["answer"] < 0], list(features), contacts=contacts,
                            segments=segments.to_numpy())
    ece = calibration_error(model.predict_proba(answered, corrected=False)[:, 2], (labels == 2).astype(float))
    rates = {f"response_rate_{name}": float(rate) for name, rate in zip(NPS_CLASSES, model.response_rate, strict=True)}
    version = _register(config, model, {"respondents": len(answered), "population": len(heard),
                                        "calibration_error_promoter": ece, "segment_error_sd": model.segment_error,
                                        **rates},
                        {"weeks": f"{min(weeks)}..{max(weeks)}", "features": len(features),
                         "window_days": config.voc.window_days, "contacts": contacts or "one per customer"})
    return FittedCalibration(model.coefficients(), version, len(answered), ece)


def _register(config: Config, model: CalibrationModel, metrics: dict[str, float], params: dict[str, Any]) -> str:
    import mlflow

    from voicelake.models.registry import configure_mlflow

    configure_mlflow(config)
    name = config.voc.calibration_model_name
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_name="nps-calibration"):
        path = Path(tmp) / "coefficients.json"
        path.write_text(json.dumps(model.coefficients(), indent=1))
        mlflow.log_dict(model.coefficients(), "coefficients.json")  # runs:/<run>/coefficients.json
        mlflow.log_params(params)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        example = pd.DataFrame([dict.fromkeys(model.features, 0.0)])
        info = mlflow.pyfunc.log_model(
            name="model", python_model=NpsCalibrationModel(), artifacts={"coefficients": str(path)},
            input_example=example, pip_requirements=["numpy", "pandas"], registered_model_name=name)
    return str(info.registered_model_version)


def promote(config: Config, version: str) -> None:
    """Move ``@champion`` of the calibration model to ``version`` (the one published rows name)."""
    from mlflow import MlflowClient

    from voicelake.models.registry import configure_mlflow

    configure_mlflow(config)
    MlflowClient().set_registered_model_alias(config.voc.calibration_model_name, config.mlflow.champion_alias,
                                              version)


def load_champion_coefficients(config: Config) -> tuple[dict[str, Any], str] | None:
    """The ``@champion`` calibration's coefficients (the ``coefficients.json`` its run logged)
    and version; None before a gold build has published an emotion index."""
    import mlflow

    from voicelake.models.risk_models import champion_version

    champion = champion_version(config, config.voc.calibration_model_name)
    if champion is None:
        return None
    coefficients = mlflow.artifacts.load_dict(f"runs:/{champion.run_id}/coefficients.json")
    return coefficients, str(champion.version)
