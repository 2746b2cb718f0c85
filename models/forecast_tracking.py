"""The topic forecast's backtests in MLflow: one run per published forecast (run name
``topic-forecast-backtest``, in the project's experiment) with its settings as parameters and
its rolling-origin backtest (MASE against the seasonal-naive forecast's, interval coverage)
as metrics, so a change of method or settings is compared run against run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voicelake.config import Config

RUN_NAME = "topic-forecast-backtest"


def log_backtest(config: Config, metrics: Mapping[str, float], params: Mapping[str, Any]) -> str:
    """Log one backtest; returns the MLflow run id."""
    import mlflow

    from voicelake.models.registry import configure_mlflow

    configure_mlflow(config)
    with mlflow.start_run(run_name=RUN_NAME) as run:
        mlflow.set_tag("voicelake.mart", "gold.topic_forecast")
        mlflow.log_params(dict(params))
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
    return str(run.info.run_id)
