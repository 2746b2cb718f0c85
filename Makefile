# voicelake: two commands on a fresh machine.
#   make run   - install everything, then run the pipeline on a generated sample history
#   make test  - install everything, then run lint, types and the test suite (then: make test-e2e, make test-scenarios)
# Installing is idempotent: a second run with nothing changed starts within seconds.

SHELL  := /bin/bash
PYTHON ?= python3.11
VENV   := .venv
# pytest processes of the fast tier, each with its own Spark driver; a test module stays in
# one (its fixtures are built once), in the order tests/conftest.py sets (--no-loadscope-reorder:
# xdist would otherwise sort modules by test count). Most of a small Spark job's time is one driver thread
# waiting on the JVM, so two overlap well even on two cores.
TEST_WORKERS ?= 2
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
STAMP  := $(VENV)/.voicelake-installed

export VOICELAKE_ENV ?= local
export HF_HUB_OFFLINE := 1
export PYTHONUNBUFFERED := 1
export TRANSFORMERS_OFFLINE := 1
export PYSPARK_PYTHON := $(abspath $(PY))
export PYSPARK_DRIVER_PYTHON := $(abspath $(PY))

.PHONY: install browser lock run test test-e2e test-scenarios lint bench clean

install: $(STAMP)

# The venv, the locked packages, the project itself (editable), then the Delta jars that
# match the installed delta-spark, resolved once from Maven Central and cached in the venv.
$(STAMP): pyproject.toml requirements.lock voicelake/jars.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "uv>=0.4"
	$(UV) pip sync -q --python $(PY) requirements.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	$(PY) -m voicelake.jars
	touch $(STAMP)

# Refresh the lock after changing dependencies in pyproject.toml.
lock:
	$(UV) pip compile -q pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

run: install
	$(VENV)/bin/voicelake run

# ruff first (seconds), then mypy in the background while pytest runs; both outputs are
# printed and the target fails when either failed.
# mypy runs beside pytest; its report comes first and pytest's closing line is printed last.
test: install
	$(VENV)/bin/ruff check voicelake jobs models dags tests bench
	@log=$$(mktemp -d); $(VENV)/bin/mypy > $$log/mypy 2>&1 & mypy_pid=$$!; \
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder 2>&1 | tee $$log/pytest; pytest_rc=$${PIPESTATUS[0]}; \
	wait $$mypy_pid; mypy_rc=$$?; \
	echo "== mypy (exit $$mypy_rc)"; cat $$log/mypy; \
	echo "== pytest exit $$pytest_rc, mypy exit $$mypy_rc"; tail -n 1 $$log/pytest; rm -rf $$log; \
	test $$pytest_rc -eq 0 -a $$mypy_rc -eq 0

# The end-to-end tier (CI runs it after `make test`): `voicelake` processes with their own JVMs
# (both DAGs as `make run` runs them, a failed gold check failing the daily DAG, spark-submit,
# the wheel in a fresh venv).
test-e2e: install browser
	$(VENV)/bin/pytest -q -m e2e

# Debian's Chromium for the dashboard's browser tests (Playwright drives it; no browser download).
# Installed with apt-get where this user may (root); elsewhere the tests skip and say why.
browser:
	@if command -v chromium >/dev/null || [ -n "$$VOICELAKE_CHROMIUM" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else echo "no chromium: install Debian's chromium (sudo apt-get install chromium) for the dashboard's browser tests"; fi

# The scenario tier: kill -9 crash drills, day-by-day late data and the multi-layer scenarios and
# acceptance checks on generated histories that take minutes each (marker `scenario`); about 90
# minutes on 2 cores, more than CI's budget: run it before a release and after changing what it judges.
test-scenarios: install
	$(VENV)/bin/pytest -q -m scenario

lint: install
	$(VENV)/bin/ruff check voicelake jobs models dags tests bench
	$(VENV)/bin/mypy

bench: install
	$(PY) bench/bench_generate_ingest.py
	$(PY) bench/bench_scoring.py

clean:
	rm -rf .voicelake spark-warehouse metastore_db derby.log
