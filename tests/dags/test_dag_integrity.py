"""DAG integrity, checked in a fresh interpreter the way Airflow's DAG processor parses the
dags/ folder: imports without errors, parses in under a CPU second (not wall-clock time, which
a busy machine stretches) without loading heavy modules, the expected task graph without
cycles, and the scheduling settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from voicelake.orchestration import airflow_environment

ROOT = Path(__file__).parents[2]
HEAVY = ("pyspark", "pandas", "torch", "mlflow", "transformers", "great_expectations", "sklearn")

PARSE = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
heavy = %r
started = time.process_time()  # CPU seconds: what parsing costs, whatever else the machine runs
bag = DagBag(dag_folder=%r)
seconds = time.process_time() - started
dags = {}
for dag_id, dag in bag.dags.items():
    dags[dag_id] = {
        "tags": sorted(dag.tags), "catchup": dag.catchup, "doc_md": bool(dag.doc_md),
        "schedule": type(dag.timetable).__name__ + " " + str(
            getattr(dag.timetable, "expression", None) or getattr(dag.timetable, "_expression", None)),
        "max_active_runs": dag.max_active_runs,
        "tasks": {t.task_id: {"upstream": sorted(t.upstream_task_ids), "retries": t.retries,
                              "retry_delay": t.retry_delay.total_seconds(), "type": type(t).__name__,
                              "application": getattr(t, "application", None)}
                  for t in dag.tasks},
    }
print(json.dumps({"seconds": seconds, "errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "heavy": [m for m in heavy if m in sys.modules], "dags": dags}))
"""

DAILY_ORDER = ["package_code", "ingest", "validate_bronze", "build_silver", "score", "topics",
               "validate_silver", "sla_model", "churn_model", "build_gold", "validate_publish_gold", "report"]
RETRAIN_ORDER = ["package_code", "refit_topics", "train_sla_risk", "train_churn", "train_suggestions",
                 "train_evaluate_register", "promote_if_better", "rescore_window", "rescore_recent"]
VALIDATION_TASKS = {"validate_bronze", "validate_silver", "validate_publish_gold"}


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = {**os.environ, **airflow_environment(tmp_path_factory.mktemp("airflow-parse"))}
    done = subprocess.run([sys.executable, "-c", PARSE % (HEAVY, str(ROOT / "dags"))], env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_dags_import_cleanly_fast_and_without_heavy_modules(parsed: dict[str, Any]) -> None:
    assert parsed["errors"] == {}
    assert sorted(parsed["dags"]) == ["voicelake_daily", "voicelake_retrain"]
    assert parsed["seconds"] < 1.0
    assert parsed["heavy"] == []


def _topological(tasks: dict[str, Any]) -> list[str]:
    order: list[str] = []
    done: set[str] = set()
    pending = dict(tasks)
    while pending:
        ready = sorted(t for t, info in pending.items() if set(info["upstream"]) <= done)
        assert ready, f"cycle among {sorted(pending)}"
        for t in ready:
            order.append(t)
            done.add(t)
            del pending[t]
    return order


@pytest.mark.parametrize("dag_id, order", [("voicelake_daily", DAILY_ORDER), ("voicelake_retrain", RETRAIN_ORDER)])
def test_task_graph_is_the_expected_chain(parsed: dict[str, Any], dag_id: str, order: list[str]) -> None:
    tasks = parsed["dags"][dag_id]["tasks"]
    assert _topological(tasks) == order
    for before, after in zip(order, order[1:], strict=False):
        assert tasks[after]["upstream"] == [before]


@pytest.mark.parametrize("dag_id", ["voicelake_daily", "voicelake_retrain"])
def test_scheduling_settings(parsed: dict[str, Any], dag_id: str) -> None:
    dag = parsed["dags"][dag_id]
    assert "voicelake" in dag["tags"] and len(dag["tags"]) >= 2
    assert dag["doc_md"] and dag["catchup"] is False and dag["max_active_runs"] == 1
    for task_id, task in dag["tasks"].items():
        if task_id in VALIDATION_TASKS:
            assert task["retries"] == 0  # a failed check would fail again: fail the run at once
        else:
            assert task["retries"] >= 2 and task["retry_delay"] >= 60


def test_spark_tasks_submit_the_job_modules(parsed: dict[str, Any]) -> None:
    daily = parsed["dags"]["voicelake_daily"]["tasks"]
    spark_tasks = {t: i["application"] for t, i in daily.items() if i["type"] == "SparkSubmitOperator"}
    assert set(spark_tasks) == set(DAILY_ORDER) - {"package_code"}
    for application in spark_tasks.values():
        assert Path(application).is_file() and Path(application).parent == ROOT / "voicelake" / "jobs"
    # each run covers one day: a data interval, not a trigger instant
    assert parsed["dags"]["voicelake_daily"]["schedule"] == "CronDataIntervalTimetable 0 0 * * *"
    assert parsed["dags"]["voicelake_retrain"]["schedule"] == "CronTriggerTimetable 0 3 * * 0"
