#!/usr/bin/env bash
# Submit one voicelake job with spark-submit to any Spark master.
#
#   infra/spark/submit.sh MASTER JOB [job args...]
#   infra/spark/submit.sh local[2] jobs/build_gold.py --date 2026-01-05
#   infra/spark/submit.sh spark://127.0.0.1:7077 jobs/ingest.py
#
# The project's code travels to the executors as a zip (--py-files), the Delta jars
# resolved at install time as --jars, and VOICELAKE_ENV / VOICELAKE_HOME to the driver.
# Extra spark-submit flags go in SPARK_SUBMIT_EXTRA (e.g. "--executor-memory 4g").
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
master="${1:?usage: submit.sh MASTER JOB [args...]}"; job="${2:?usage: submit.sh MASTER JOB [args...]}"; shift 2
venv="${VOICELAKE_VENV:-$here/.venv}"
py="$venv/bin/python"
jars="$("$py" -m voicelake.orchestration jars)"
zip="$("$py" -m voicelake.orchestration zip "$here/.voicelake-dist/voicelake.zip")"
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$py}" PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$py}"
export VOICELAKE_ENV="${VOICELAKE_ENV:-local}"
# the driver runs the code from the zip: tell it where the checkout and its conf/ are
export VOICELAKE_PROJECT_ROOT="${VOICELAKE_PROJECT_ROOT:-$here}" VOICELAKE_CONF_DIR="${VOICELAKE_CONF_DIR:-$here/conf}"
exec "$venv/bin/spark-submit" \
  --master "$master" \
  --name "voicelake:$(basename "$job" .py)" \
  --jars "$jars" \
  --py-files "$zip" \
  --conf "spark.executorEnv.PYSPARK_PYTHON=$PYSPARK_PYTHON" \
  --conf "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" \
  --conf "spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog" \
  ${SPARK_SUBMIT_EXTRA:-} \
  "$here/$job" "$@"
