"""
### voicelake_retrain

Keeps the models fresh, weekly and on demand:

`package_code` -> `refit_topics` -> `train_sla_risk` -> `train_churn` -> `train_suggestions` ->
`train_evaluate_register` -> `promote_if_better` -> `rescore_window` -> `rescore_recent`

* `train_evaluate_register` (spark-submit `jobs/train_model.py`) assembles the training set
  (public data from `model.data` + human labels in `silver.label_feedback`), fine-tunes the
  encoder, evaluates it and its TF-IDF baseline per slice, logs everything to MLflow and
  registers the model as `voicelake-emotion@challenger`.
* `promote_if_better` moves `@champion` to the challenger only when it beats the champion
  on the challenger's evaluation set (`voicelake promote`).
* `rescore_recent` re-scores the last `rescore_days` days with the new champion; skipped
  when nothing was promoted or `rescore_days` is 0.
* `refit_topics` (spark-submit `jobs/topics.py --refit`) fits the topic model again on a
  sample of the stored opening embeddings, registers it as `voicelake-topics@challenger`,
  promotes it when it describes the sample at least as closely as the champion, keeps the
  ids of the clusters it finds again, and re-assigns every customer message. On a lake
  without silver messages yet (the bootstrap run) it does nothing.
* `train_suggestions` trains the suggestion detector (`suggestions.data_dir`: SemEval-2019
  Task 9, else the project's seed set), registers it as `voicelake-suggestions@challenger` and
  promotes it when it beats the champion's F1 (the first one: the TF-IDF baseline's); the
  daily `score` task applies the champion.
* `train_sla_risk` (spark-submit `jobs/sla_risk.py`) fits the SLA-breach model on the lake's
  history (time-based split), registers it as `voicelake-sla-risk@challenger` and promotes it
  when its test AUC beats the champion's on the same snapshots (the first one: the
  elapsed-time baseline's); on a lake without scored history (the bootstrap run) it does nothing.
* `train_churn` (spark-submit `jobs/churn.py`) does the same for the churn model
  (`voicelake-churn`, customer-weeks, time-based split; the first one must beat the
  survey-only baseline).
* Params: `max_train_rows` (cap on public rows, 0 = config), `epochs` (0 = config),
  `bootstrap` (small first model: what `voicelake run` uses when there is no champion).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, chain, task

from voicelake.orchestration import build_code_zip, dag_start_date, spark_job, task_defaults

with DAG(
    dag_id="voicelake_retrain",
    description="train -> evaluate -> register challenger -> promote if better -> rescore",
    schedule="0 3 * * 0",
    start_date=dag_start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(),
    params={
        "max_train_rows": Param(0, type="integer", minimum=0, description="cap public rows; 0 = config"),
        "epochs": Param(0, type="integer", minimum=0, description="0 = config"),
        "bootstrap": Param(False, type="boolean", description="small, fast first model"),
        "rescore_days": Param(0, type="integer", minimum=0, description="re-score the last N days"),
    },
    tags=["voicelake", "mlflow", "model"],
    doc_md=__doc__,
) as dag:

    @task
    def train_suggestions() -> dict[str, Any]:
        from voicelake.cli import train_suggestion_detector  # heavy imports at run time only

        return train_suggestion_detector()

    @task
    def promote_if_better() -> dict[str, Any]:
        from voicelake.cli import promote_challenger  # heavy imports at run time only

        return promote_challenger()

    @task.short_circuit
    def rescore_window(decision: dict[str, Any], params: dict[str, Any] | None = None) -> int:
        """Days to re-score: 0 (skip) unless a new champion was promoted."""
        return int((params or {}).get("rescore_days", 0)) if decision.get("promoted") else 0

    package_code = task(task_id="package_code")(build_code_zip)()
    train = spark_job("train_evaluate_register", "train_model", [
        "--max-train-rows", "{{ params.max_train_rows }}", "--epochs", "{{ params.epochs }}",
        "{{ '--bootstrap' if params.bootstrap else '--no-bootstrap' }}"])
    decision = promote_if_better()
    window = rescore_window(decision)
    rescore = spark_job("rescore_recent", "score", [
        "--rescore", "--last-days", "{{ ti.xcom_pull(task_ids='rescore_window') }}"])
    refit_topics = spark_job("refit_topics", "topics", ["--refit"])
    train_sla = spark_job("train_sla_risk", "sla_risk", ["--if-history"])
    train_churn = spark_job("train_churn", "churn", ["--if-history"])
    chain(package_code, refit_topics, train_sla, train_churn, train_suggestions(), train, decision, window, rescore)
