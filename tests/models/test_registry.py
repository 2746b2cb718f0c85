"""Registry look-ups: only "model or alias does not exist" means no model; an unreachable or
broken registry raises a clear error instead of looking like "no champion" (which would
start bootstrap training or promote against no reference)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from mlflow import MlflowClient

from voicelake.cli import ensure_champion
from voicelake.config import Config
from voicelake.models.registry import (
    NoChampionError,
    RegistryError,
    champion_version,
    configure_mlflow,
    list_versions,
    version_by_alias,
)

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture
def fast_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """No retries and a short timeout, so an unreachable server fails at once."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")


def test_unreachable_registry_raises_instead_of_reporting_no_champion(
        config: Config, fast_http: None, monkeypatch: pytest.MonkeyPatch) -> None:
    config = replace(config, mlflow=replace(config.mlflow, registry_uri=UNREACHABLE))
    configure_mlflow(config)  # tracking stays on the local SQLite store
    with pytest.raises(RegistryError, match=r"127\.0\.0\.1:9 failed while looking up voicelake-emotion@champion"):
        version_by_alias(config, config.mlflow.champion_alias)
    with pytest.raises(RegistryError):
        champion_version(config)
    with pytest.raises(RegistryError, match="listing the versions"):
        list_versions(config)

    trained: list[object] = []
    monkeypatch.setattr("voicelake.jobs.train_model.train", lambda *a, **k: trained.append(a))
    with pytest.raises(RegistryError):
        ensure_champion(SimpleNamespace(config=config))
    assert trained == []  # no silent bootstrap training


def test_unreachable_tracking_server_is_one_clear_error(config: Config, fast_http: None) -> None:
    config = replace(config, mlflow=replace(config.mlflow, tracking_uri=UNREACHABLE, registry_uri=UNREACHABLE))
    with pytest.raises(RegistryError, match=r"MLflow at http://127\.0\.0\.1:9 failed while reading experiment"):
        configure_mlflow(config)


def test_missing_model_or_alias_means_no_model(config: Config, tmp_path: Path) -> None:
    configure_mlflow(config)
    name = config.mlflow.model_name
    assert version_by_alias(config, "champion") is None  # no registered model at all
    assert list_versions(config) == []
    client = MlflowClient()
    client.create_registered_model(name)
    assert version_by_alias(config, "champion") is None  # the model exists, the alias does not
    with pytest.raises(NoChampionError, match="voicelake train"):
        champion_version(config)
    version = client.create_model_version(name, source=tmp_path.as_uri())
    client.set_registered_model_alias(name, "champion", version.version)
    assert str(champion_version(config).version) == str(version.version) == "1"
