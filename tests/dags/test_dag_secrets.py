"""The pseudonym key set in the Airflow worker's environment reaches no rendered task field,
no spark-submit command line (the Spark provider turns env_vars into --conf on YARN and
Kubernetes) and no log line written while the DAGs are parsed and the commands built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from voicelake.orchestration import airflow_environment

ROOT = Path(__file__).parents[2]
KEY = "dag-secret-test-key-93b1f0"

RENDER = """
import json, logging, sys
from airflow.dag_processing.dagbag import DagBag
logging.basicConfig(stream=sys.stderr, level=logging.INFO)
bag = DagBag(dag_folder=%r)
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "tasks": {}}
for dag_id, dag in bag.dags.items():
    for task in dag.tasks:
        if type(task).__name__ != "SparkSubmitOperator":
            continue
        fields = {name: repr(getattr(task, name, None)) for name in task.template_fields}
        fields.update(env_vars=repr(task.env_vars), conf=repr(task.conf), application_args=repr(task.application_args))
        for conn_id in %r:  # the command line the worker would run against each kind of master
            task._conn_id = conn_id
            fields["command " + conn_id] = " ".join(task._get_hook()._build_spark_submit_command(task.application))
        out["tasks"][f"{dag_id}.{task.task_id}"] = fields
print(json.dumps(out))
"""


# (Kubernetes masters need the kubernetes client, not installed; the provider handles them like YARN.)
MASTERS = {"spark_local": "local[2]", "vl_yarn": "yarn"}


def test_pseudonym_key_is_in_no_task_field_command_line_or_log(tmp_path: Path) -> None:
    env = {**os.environ, **airflow_environment(tmp_path), "VOICELAKE_PSEUDONYM_KEY": KEY}
    for conn_id, master in MASTERS.items():
        env["AIRFLOW_CONN_" + conn_id.upper()] = json.dumps({"conn_type": "spark", "host": master})
    done = subprocess.run([sys.executable, "-c", RENDER % (str(ROOT / "dags"), list(MASTERS))], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    parsed = json.loads(done.stdout.strip().splitlines()[-1])
    assert parsed["errors"] == {}
    tasks = parsed["tasks"]
    assert "voicelake_daily.build_silver" in tasks and len(tasks) >= 10
    assert all("VOICELAKE_HOME" in t["env_vars"] for t in tasks.values())
    # on YARN the provider turns env_vars into --conf: a forwarded key would be on the command line
    assert "spark.yarn.appMasterEnv.VOICELAKE_HOME=" in tasks["voicelake_daily.build_silver"]["command vl_yarn"]
    leaks = [f"{task}.{field}" for task, fields in tasks.items() for field, value in fields.items() if KEY in value]
    assert leaks == []
    assert KEY not in done.stderr and KEY not in done.stdout
