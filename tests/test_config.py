from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from voicelake.config import ConfigError, load_config


def test_local_overlay_puts_every_location_under_home(tmp_path: Path) -> None:
    config = load_config("local", overrides={"home": str(tmp_path)})
    assert config.env == "local"
    for location in (config.lake.root, config.lake.landing, config.lake.warehouse,
                     config.lake.metastore, config.mlflow.artifact_root):
        assert location.startswith(str(tmp_path))
    assert config.mlflow.tracking_uri == f"sqlite:///{tmp_path}/mlflow/mlflow.db"
    assert config.spark.master == "local[*]"


def test_cluster_overlay_points_at_object_storage() -> None:
    config = load_config("cluster")
    assert config.lake.root.startswith("s3a://")
    assert config.spark.master is None  # left to spark-submit
    assert config.pii.dev_key_file is None  # the key must come from the environment


def test_environment_overrides_locations(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VOICELAKE_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("VOICELAKE_LAKE_ROOT", "s3a://bucket/lake")
    config = load_config("local")
    assert config.home == str(tmp_path / "h")
    assert config.lake.root == "s3a://bucket/lake"
    assert config.lake.landing == str(tmp_path / "h" / "landing")


def test_unknown_environment_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown VOICELAKE_ENV 'nope'"):
        load_config("nope")


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_config("local", overrides={"home": str(tmp_path)})
    with pytest.raises(FrozenInstanceError):
        config.home = "/elsewhere"  # type: ignore[misc]
