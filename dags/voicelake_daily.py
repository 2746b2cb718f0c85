"""
### voicelake_daily

Takes one day of raw support history to published gold tables:

`package_code` -> `ingest` -> `validate_bronze` -> `build_silver` -> `score` -> `topics` ->
`validate_silver` -> `sla_model` -> `churn_model` -> `build_gold` (staged) -> `validate_publish_gold` ->
`report`

* Each run covers its data interval (one UTC day, `data_interval_start`). A manual run
  may cover a range instead with the params `since` / `until` (YYYY-MM-DD).
* Every Spark step is `spark-submit jobs/<step>.py` through Airflow's Spark provider, on the
  connection `spark_local` (`AIRFLOW_CONN_SPARK_LOCAL`, `local[2]` by default; point it at
  `spark://...`, `k8s://...` or `yarn` in production).
* Validation tasks run Great Expectations suites and fail the run on a critical failure;
  they are not retried (the data would fail again). Gold is published only after its suite
  passes; otherwise the gold tables stay at their previous Delta version.
* `sla_model` trains a first `voicelake-sla-risk` model from the lake's history when there is
  no champion yet (`voicelake train-sla-risk --if-missing`; the retraining DAG retrains it);
  `build_gold` applies the champion to the conversations waiting at the end of the interval.
  `churn_model` does the same for `voicelake-churn` (`voicelake train-churn --if-missing`);
  `build_gold` applies it to the customers of the interval's week (gold.customer_health).
* Other tasks retry twice with backoff. One run at a time: the jobs of a day share tables.
* Backfill: `airflow backfill create --dag-id voicelake_daily --from-date 2026-01-01
  --to-date 2026-01-28` (each day is idempotent: it replaces that day's partitions).
"""

from __future__ import annotations

import os

from airflow.sdk import DAG, Param, chain, task
from airflow.timetables.interval import CronDataIntervalTimetable

from voicelake.orchestration import build_code_zip, dag_start_date, spark_job, task_defaults

SINCE = "{{ params.since or (data_interval_start | ds) }}"
UNTIL = "{{ params.until or params.since or (data_interval_start | ds) }}"
DATES = ["--since", SINCE, "--until", UNTIL]

with DAG(
    dag_id="voicelake_daily",
    description="raw support history -> bronze -> silver -> emotions -> validated gold",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),  # runs cover [D 00:00, D+1 00:00)
    start_date=dag_start_date(),
    catchup=os.environ.get("VOICELAKE_DAG_CATCHUP", "false").lower() == "true",
    max_active_runs=1,
    default_args=task_defaults(),
    params={
        "since": Param(None, type=["null", "string"], format="date", description="first day (manual runs)"),
        "until": Param(None, type=["null", "string"], format="date", description="last day (manual runs)"),
    },
    tags=["voicelake", "daily", "spark", "great-expectations"],
    doc_md=__doc__,
) as dag:
    package_code = task(task_id="package_code")(build_code_zip)()
    chain(
        package_code,
        spark_job("ingest", "ingest"),
        spark_job("validate_bronze", "validate", [*DATES, "--layer", "bronze"], retries=0),
        spark_job("build_silver", "build_silver", DATES),
        spark_job("score", "score", DATES),
        spark_job("topics", "topics", DATES),
        spark_job("validate_silver", "validate", [*DATES, "--layer", "silver"], retries=0),
        spark_job("sla_model", "sla_risk", ["--if-missing"]),
        spark_job("churn_model", "churn", ["--if-missing"]),
        spark_job("build_gold", "build_gold", [*DATES, "--stage-only", "--run-id", "{{ run_id }}"]),
        spark_job("validate_publish_gold", "build_gold", [*DATES, "--publish-staged", "--run-id", "{{ run_id }}"],
                  retries=0),
        spark_job("report", "report", DATES),
    )
