"""What the Airflow DAGs need to submit voicelake jobs, and how `voicelake run` runs them.

The DAG files in dags/ stay thin: they import this module (standard library only at import
time, so parsing a DAG never loads pyspark, pandas, torch or mlflow) and build their tasks
with `spark_job`. Each task runs one job module under spark-submit through Airflow's Spark
provider, on the Spark connection ``VOICELAKE_SPARK_CONN_ID`` (default ``spark_local``,
defined by ``AIRFLOW_CONN_SPARK_LOCAL``), with the project's code as a zip (--py-files), the
Delta jars and the voicelake environment (config overlay, home, conf folder).

    python -m voicelake.orchestration zip PATH    # build the code zip (used by submit.sh)
    python -m voicelake.orchestration jars        # the Delta jars, comma-separated
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from voicelake.config import PACKAGE_DIR, PROJECT_ROOT  # PyYAML only

SPARK_CONN_ID = os.environ.get("VOICELAKE_SPARK_CONN_ID", "spark_local")
DEFAULT_SPARK_CONNECTION = '{"conn_type": "spark", "host": "local[2]"}'

# Passed from the Airflow worker to every spark-submit (when set there). No secrets: env_vars
# is a rendered task field and the Spark provider turns it into --conf on YARN / Kubernetes.
# VOICELAKE_PSEUDONYM_KEY reaches the job because spark-submit inherits the worker's
# environment (driver and local executors too); on a cluster it is mounted on the executors.
FORWARDED_ENV = ("VOICELAKE_ENV", "VOICELAKE_HOME", "VOICELAKE_LAKE_ROOT", "VOICELAKE_LANDING",
                 "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "MLFLOW_TRACKING_URI")
SECRET_ENV = ("VOICELAKE_PSEUDONYM_KEY",)


def task_defaults() -> dict[str, Any]:
    """default_args of every voicelake DAG. Retries cover transient failures (a lost
    executor, a busy metastore); ``VOICELAKE_DAG_RETRIES`` overrides the count."""
    return {
        "owner": "voicelake",
        "retries": int(os.environ.get("VOICELAKE_DAG_RETRIES", "2")),
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(hours=6),
    }


def dag_start_date() -> datetime:
    """First data interval of the scheduled DAGs (``VOICELAKE_DAG_START``, UTC)."""
    return datetime.fromisoformat(os.environ.get("VOICELAKE_DAG_START", "2026-01-01")).replace(tzinfo=UTC)


def code_zip_path() -> Path:
    """Where the code zip for --py-files is built (``VOICELAKE_DIST`` or <project>/.voicelake-dist)."""
    return Path(os.environ.get("VOICELAKE_DIST") or PROJECT_ROOT / ".voicelake-dist") / "voicelake.zip"


def build_code_zip(path: str | Path | None = None) -> str:
    """Zip the voicelake package (with voicelake.jobs and voicelake.models) for the Spark
    driver and executors."""
    target = Path(path) if path else code_zip_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder, dirs, files in os.walk(PACKAGE_DIR, followlinks=True):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                file = Path(folder) / name
                archive.write(file, Path("voicelake") / file.relative_to(PACKAGE_DIR))
    partial.replace(target)  # a concurrent reader never sees half a zip
    return str(target)


def delta_jars() -> str:
    """The Delta Lake jars cached at install time, comma-separated for --jars."""
    from voicelake.jars import find_delta_jars  # standard library only

    return ",".join(find_delta_jars())


def job_application(job: str) -> str:
    """Path of a job module (``voicelake/jobs/<job>.py``, the checkout's ``jobs/``) for spark-submit."""
    path = PACKAGE_DIR / "jobs" / f"{job}.py"
    if not path.exists():
        raise FileNotFoundError(f"no job module {path}")
    return str(path)


def submit_environment() -> dict[str, str]:
    """Environment of a spark-submit process: the interpreter with voicelake installed, the
    checkout and conf folder the code zip reads its configuration from, and the voicelake
    variables set in the worker."""
    python = os.environ.get("PYSPARK_PYTHON", sys.executable)
    env = {
        "PYSPARK_PYTHON": python,
        "PYSPARK_DRIVER_PYTHON": os.environ.get("PYSPARK_DRIVER_PYTHON", python),
        "VOICELAKE_PROJECT_ROOT": str(PROJECT_ROOT),
        "VOICELAKE_CONF_DIR": os.environ.get("VOICELAKE_CONF_DIR", str(PACKAGE_DIR / "conf")),
        "PYTHONUNBUFFERED": "1",
    }
    env.update({k: os.environ[k] for k in FORWARDED_ENV if os.environ.get(k) and k not in SECRET_ENV})
    return env


def submit_conf() -> dict[str, str]:
    """Spark settings every submitted job needs (Delta, executors' Python)."""
    return {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.executorEnv.PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
    }


def spark_job(task_id: str, job: str, arguments: Sequence[str] = (), **operator_args: Any) -> Any:
    """A SparkSubmitOperator running ``jobs/<job>.py arguments`` (templated)."""
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    return SparkSubmitOperator(
        task_id=task_id,
        conn_id=SPARK_CONN_ID,
        application=job_application(job),
        application_args=list(arguments),
        name=f"voicelake:{task_id}",
        py_files=str(code_zip_path()),
        jars=delta_jars(),
        conf=submit_conf(),
        env_vars=submit_environment(),
        verbose=False,
        **operator_args,
    )


# -- running DAGs in-process (voicelake run, tests) ----------------------------------------

def airflow_environment(home: str | Path) -> dict[str, str]:
    """Environment for an embedded Airflow: SQLite metadata DB under ``<home>/airflow``,
    this project's dags/ folder, no example DAGs, the local Spark connection, and this
    interpreter's bin/ (spark-submit) on PATH."""
    airflow_home = Path(home) / "airflow"
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home}/airflow.db",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
        "AIRFLOW_CONN_" + SPARK_CONN_ID.upper(): os.environ.get(
            "AIRFLOW_CONN_" + SPARK_CONN_ID.upper(), DEFAULT_SPARK_CONNECTION),
        "VOICELAKE_HOME": str(home),
        "PATH": path if bin_dir in path.split(os.pathsep) else bin_dir + os.pathsep + path,
    }


def prepare_airflow(home: str | Path) -> None:
    """Point this process at the embedded Airflow and create/upgrade its metadata DB.
    Must run before anything imports airflow."""
    env = airflow_environment(home)
    os.environ.update(env)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    airflow = Path(sys.executable).parent / "airflow"
    done = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, env=dict(os.environ))
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def load_dag(dag_id: str) -> Any:
    """The DAG ``dag_id`` from dags/<dag_id>.py."""
    import importlib.util

    path = PROJECT_ROOT / "dags" / f"{dag_id}.py"
    spec = importlib.util.spec_from_file_location(f"voicelake_dags_{dag_id}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no DAG file {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def run_dag(dag_id: str, logical_date: Any = None, conf: Mapping[str, Any] | None = None,
            mark_success: str | None = None) -> Any:
    """Run a DAG once in this process with ``dag.test()``; returns the finished DagRun. Tasks
    whose id matches the regex ``mark_success`` are marked successful without running."""
    dag = load_dag(dag_id)
    return dag.test(logical_date=logical_date, run_conf=dict(conf or {}), mark_success_pattern=mark_success)


def task_states(dag_run: Any) -> list[tuple[str, str, float | None]]:
    """(task id, state, seconds) of a DagRun's task instances, in start order."""
    instances = sorted(dag_run.get_task_instances(),
                       key=lambda ti: (ti.start_date is None, ti.start_date or 0, ti.task_id))
    return [(ti.task_id, str(ti.state), ti.duration) for ti in instances]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["zip"] and len(args) == 2:
        print(build_code_zip(args[1]))
        return 0
    if args == ["jars"]:
        print(delta_jars())
        return 0
    print("usage: python -m voicelake.orchestration zip PATH | jars", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
