"""The DAGs end to end, as `make run` runs them: embedded Airflow (SQLite metadata DB),
`dag.test()`, Spark steps as real spark-submits, local MLflow.

- `voicelake run` (slow): the retraining DAG bootstraps a model with the real default encoder
  on a tiny training set (seed set only, as on a machine without ../shared), registers and
  promotes it (its quality decides that); the daily DAG takes the history to validated gold;
- a daily run with a stricter gold suite fails at validate_publish_gold, and gold stays at its
  Delta version. It runs over a copy of the run's gold lake (tests/conftest.py `gold_lake`:
  generated, scored and published in-process once per run); the DAG runs package_code,
  validate_silver, build_gold, validate_publish_gold and report for real (spark-submit), the
  steps before them are marked done (their jobs are tested in the run above and in tests/jobs).

The tables are read in-process with the test Spark session, not by a `voicelake sql` JVM each.
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

import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tests.conftest import SHARED_LAKE_START, GoldLake, make_config
from tests.jobs.gates import gold_lake_copy
from voicelake.lake import Lake
from voicelake.schemas import VALIDATION_RESULTS

ROOT = Path(__file__).parents[2]
VOICELAKE = str(Path(sys.executable).parent / "voicelake")
START = date(2026, 1, 1)
DAYS = 3
# Only a guard against a hung process: a loaded 2-core machine needed more than 25 minutes
# for `voicelake run`, which takes about 10 on a quiet one.
TIMEOUT_S = 3 * 3600


def seed_only_conf(tmp_path: Path) -> Path:
    """A copy of conf/ whose bootstrap models train on the seed sets only, with short inputs."""
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    base = yaml.safe_load((conf / "base.yaml").read_text())
    base["model"]["data"]["goemotions_dir"] = None
    base["model"]["max_length"] = 32
    base["suggestions"]["data_dir"] = None  # the suggestion detector from the seed set alone, too
    (conf / "base.yaml").write_text(yaml.safe_dump(base))
    return conf


def dag_environment(tmp: Path, home: Path, conf: Path) -> dict[str, str]:
    """The environment of a `voicelake` process running the DAGs over ``home``."""
    env = {**os.environ, "VOICELAKE_HOME": str(home), "VOICELAKE_ENV": "local", "VOICELAKE_CONF_DIR": str(conf),
           "VOICELAKE_DIST": str(tmp / "dist"),
           "VOICELAKE_DAG_RETRIES": "0"}  # a broken task fails the test now, not after retry delays
    for key in ("PYSPARK_GATEWAY_PORT", "AIRFLOW_HOME"):
        env.pop(key, None)
    return env


class Shell:
    def __init__(self, env: dict[str, str], prefix: tuple[str, ...] = (VOICELAKE,)) -> None:
        self.env = env
        self.prefix = prefix

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*self.prefix, *args], env=self.env, capture_output=True, text=True,
                              timeout=TIMEOUT_S)
        if ok:
            assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
        return done


def task_states(output: str) -> dict[str, str]:
    """task -> state from the task table `voicelake run` / `run-dag` print."""
    states = {}
    for line in output.splitlines():
        match = re.match(r"^(\w+)\s+(success|failed|upstream_failed|skipped|None)\s", line)
        if match:
            states[match.group(1)] = match.group(2)
    return states


def lake_of(spark: SparkSession, env: dict[str, str]) -> Lake:
    """The lake a `voicelake` process with ``env`` wrote, read with the test Spark session."""
    return Lake(spark, make_config(Path(env["VOICELAKE_HOME"])))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Shell, str]:
    tmp = tmp_path_factory.mktemp("dag-runs")
    shell = Shell(dag_environment(tmp, tmp / "home", seed_only_conf(tmp)))
    run = shell("run", "--days", str(DAYS), "--customers", "40", "--seed", "5", "--start", START.isoformat())
    return shell, run.stdout


@pytest.mark.e2e
def test_make_run_bootstraps_a_model_and_publishes_validated_gold(sample: tuple[Shell, str],
                                                                 spark: SparkSession) -> None:
    shell, out = sample
    assert "voicelake_retrain: success" in out and "voicelake_daily: success" in out
    states = task_states(out)
    assert {states[t] for t in ("package_code", "refit_topics", "train_sla_risk", "train_churn",
                                "train_suggestions", "train_evaluate_register", "promote_if_better",
                                "ingest", "validate_bronze", "build_silver", "score", "topics", "validate_silver",
                                "sla_model", "churn_model", "build_gold", "validate_publish_gold",
                                "report")} == {"success"}
    assert states["rescore_window"] == "success" and states["rescore_recent"] == "skipped"
    assert "Data Docs (validation reports):" in out
    for table in ("bronze.chat_messages", "silver.message_emotions", "silver.message_topics",
                  "silver.message_suggestions", "gold.service_daily",
                  "gold.emotion_daily", "gold.topic_daily", "gold.topic_alerts", "gold.incident_impact",
                  "gold.unexplained_spikes", "gold.release_impact", "gold.health_check",
                  "gold.validation_results"):
        assert table in out
    models = shell("models", "--format", "json").stdout.splitlines()
    assert any("champion" in json.loads(line)["aliases"] for line in models)
    lake = lake_of(spark, shell.env)
    dates = {str(r["date"]) for r in lake.read("gold.service_daily").select("date").distinct().collect()}
    run_dates = {(START + timedelta(days=i)).isoformat() for i in range(DAYS)}
    # replies and survey answers sent after the last midnight land on the next day: silver rebuilds it and
    # gold publishes it with them (late data), nothing later
    assert run_dates <= dates <= run_dates | {(START + timedelta(days=DAYS)).isoformat()}
    suites = lake.read(VALIDATION_RESULTS).groupBy("suite").agg(F.min("suite_success").alias("ok")).collect()
    assert {r["suite"] for r in suites} >= {"bronze_chat_messages", "silver_messages", "silver_message_emotions",
                                            "silver_message_suggestions",
                                            "gold_service_daily", "gold_emotion_daily", "gold_topic_daily",
                                            "gold_topic_alerts", "gold_incident_impact",
                                            "gold_unexplained_spikes", "gold_release_impact",
                                            "gold_health_check"}
    assert all(r["ok"] for r in suites)


# the copied lake holds their output (topics and sla_model: this lake has neither; the gate is gold's)
ALREADY_DONE = "ingest|validate_bronze|build_silver|score|topics|sla_model|churn_model"


@pytest.mark.e2e
def test_a_failed_gold_check_fails_the_daily_run_and_leaves_gold_unchanged(
        gold_lake: GoldLake, spark: SparkSession, tmp_path: Path) -> None:
    ctx = gold_lake_copy(spark, gold_lake, tmp_path)  # gold validated and published with the shipped suites
    strict = tmp_path / "strict-conf"
    shutil.copytree(ROOT / "conf", strict)
    suite_file = strict / "expectations" / "gold_service_daily.yaml"
    suite = yaml.safe_load(suite_file.read_text())
    suite["expectations"].append({"type": "expect_column_values_to_be_between",
                                  "kwargs": {"column": "messages", "max_value": 0}})  # real data fails
    suite_file.write_text(yaml.safe_dump(suite))

    before = ctx.lake.version("gold.service_daily")
    day = (SHARED_LAKE_START + timedelta(days=3)).isoformat()
    strict_shell = Shell(dag_environment(tmp_path, Path(ctx.config.home), strict))
    done = strict_shell("run-dag", "voicelake_daily", "--date", day, "--mark-success", f"^({ALREADY_DONE})$", ok=False)
    assert done.returncode == 1, (done.stdout[-3000:], done.stderr[-3000:])
    states = task_states(done.stdout)
    assert states["validate_silver"] == "success" and states["build_gold"] == "success"
    assert states["validate_publish_gold"] == "failed" and states["report"] == "upstream_failed"
    assert "DAG voicelake_daily ended failed" in done.stderr
    assert ctx.lake.version("gold.service_daily") == before
    failed = (ctx.lake.read(VALIDATION_RESULTS)
              .where((F.col("suite") == "gold_service_daily") & (F.col("run_dates") == day) & ~F.col("success"))
              .select("expectation").collect())
    assert [r["expectation"] for r in failed] == ["expect_column_values_to_be_between"]
