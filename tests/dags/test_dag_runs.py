"""The DAGs end to end, as `make run` runs them: embedded Airflow (SQLite metadata DB),
`dag.test()`, every Spark step a real spark-submit, local MLflow. One sample history:

- `voicelake run`: the retraining DAG bootstraps a model on a tiny training set (seed set
  only, as on a machine without ../shared), registers and promotes it; the daily DAG takes
  the history to validated gold;
- a second daily run with a stricter gold suite fails at validate_publish_gold, and gold
  stays at its Delta version.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[2]
VOICELAKE = str(Path(sys.executable).parent / "voicelake")
START = date(2026, 1, 1)
DAYS = 3


def seed_only_conf(tmp_path: Path) -> Path:
    """A copy of conf/ whose bootstrap model trains on the seed set only, with short inputs."""
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    base = yaml.safe_load((conf / "base.yaml").read_text())
    base["model"]["data"]["goemotions_dir"] = None
    base["model"]["max_length"] = 32
    (conf / "base.yaml").write_text(yaml.safe_dump(base))
    return conf


class Shell:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([VOICELAKE, *args], env=self.env, capture_output=True, text=True, timeout=1500)
        if ok:
            assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
        return done

    def sql(self, query: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self("sql", query, "--format", "json").stdout.splitlines()]


def task_states(output: str) -> dict[str, str]:
    """task -> state from the task table `voicelake run` / `run-dag` print."""
    states = {}
    for line in output.splitlines():
        match = re.match(r"^(\w+)\s+(success|failed|upstream_failed|skipped|None)\s", line)
        if match:
            states[match.group(1)] = match.group(2)
    return states


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Shell, str]:
    tmp = tmp_path_factory.mktemp("dag-runs")
    env = {**os.environ, "VOICELAKE_HOME": str(tmp / "home"), "VOICELAKE_ENV": "local",
           "VOICELAKE_CONF_DIR": str(seed_only_conf(tmp)), "VOICELAKE_DIST": str(tmp / "dist"),
           "VOICELAKE_DAG_RETRIES": "0"}  # a broken task fails the test now, not after retry delays
    for key in ("PYSPARK_GATEWAY_PORT", "AIRFLOW_HOME"):
        env.pop(key, None)
    shell = Shell(env)
    run = shell("run", "--days", str(DAYS), "--customers", "40", "--seed", "5", "--start", START.isoformat())
    return shell, run.stdout


def test_make_run_bootstraps_a_model_and_publishes_validated_gold(sample: tuple[Shell, str]) -> None:
    shell, out = sample
    assert "voicelake_retrain: success" in out and "voicelake_daily: success" in out
    states = task_states(out)
    assert {states[t] for t in ("package_code", "train_evaluate_register", "promote_if_better",
                                "ingest", "validate_bronze", "build_silver", "score", "validate_silver",
                                "build_gold", "validate_publish_gold", "report")} == {"success"}
    assert states["rescore_window"] == "success" and states["rescore_recent"] == "skipped"
    assert "Data Docs (validation reports):" in out
    for table in ("bronze.chat_messages", "silver.message_emotions", "gold.service_daily",
                  "gold.emotion_daily", "gold.validation_results"):
        assert table in out
    models = shell("models", "--format", "json").stdout.splitlines()
    assert any("champion" in json.loads(line)["aliases"] for line in models)
    dates = {r["date"] for r in shell.sql("select distinct date from gold.service_daily")}
    assert dates == {(START + timedelta(days=i)).isoformat() for i in range(DAYS)}
    suites = shell.sql("select suite, min(suite_success) ok from gold.validation_results group by suite")
    assert {r["suite"] for r in suites} >= {"bronze_chat_messages", "silver_messages", "silver_message_emotions",
                                            "gold_service_daily", "gold_emotion_daily"}
    assert all(r["ok"] for r in suites)


def test_a_failed_gold_check_fails_the_daily_run_and_leaves_gold_unchanged(
        sample: tuple[Shell, str], tmp_path: Path) -> None:
    shell, _ = sample
    strict = tmp_path / "strict-conf"
    shutil.copytree(shell.env["VOICELAKE_CONF_DIR"], strict)
    suite_file = strict / "expectations" / "gold_service_daily.yaml"
    suite = yaml.safe_load(suite_file.read_text())
    suite["expectations"].append({"type": "expect_column_values_to_be_between",
                                  "kwargs": {"column": "messages", "max_value": 0}})  # real data fails
    suite_file.write_text(yaml.safe_dump(suite))

    def gold_version() -> int:
        return shell.sql("describe history gold.service_daily")[0]["version"]

    before = gold_version()
    day = (START + timedelta(days=1)).isoformat()
    strict_shell = Shell({**shell.env, "VOICELAKE_CONF_DIR": str(strict)})
    done = strict_shell("run-dag", "voicelake_daily", "--date", day, ok=False)
    assert done.returncode == 1
    states = task_states(done.stdout)
    assert states["validate_silver"] == "success" and states["build_gold"] == "success"
    assert states["validate_publish_gold"] == "failed" and states["report"] == "upstream_failed"
    assert "DAG voicelake_daily ended failed" in done.stderr
    assert gold_version() == before
    failed = shell.sql(f"select expectation, observed_value from gold.validation_results "
                       f"where suite = 'gold_service_daily' and run_dates = '{day}' and not success")
    assert [r["expectation"] for r in failed] == ["expect_column_values_to_be_between"]
