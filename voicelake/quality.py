"""Great Expectations 1.x for voicelake: suites from conf/expectations, validation of Spark
DataFrames, the rows behind a failure, and the HTML Data Docs.

Only this module imports ``great_expectations`` (lazily, so jobs that never validate do not
pay for it). Each run uses an ephemeral GX context: suites live as YAML with the code, the
results go to the ``gold.validation_results`` Delta table (see ``jobs/validate.py``) and to
the Data Docs folder under the voicelake home.

A failed expectation of severity ``critical`` fails its suite; ``warning`` is recorded and
printed only. Each DataFrame is cached once for the whole suite, because every
Great Expectations metric is a Spark job of its own.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql import DataFrame

from voicelake.config import Config, ConfigError
from voicelake.schemas import INGEST_COLUMNS, SOURCES, bronze_table

# Great Expectations reports usage to its vendor unless told not to; voicelake never calls out.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
logging.getLogger("great_expectations").setLevel(logging.WARNING)

SEVERITIES = ("critical", "warning", "info")
DRIFT_SEVERITY = "drift"  # placeholder in a suite file: replaced by validation.drift.on_shift
DATA_SOURCE = "voicelake"


@dataclass(frozen=True)
class ExpectationSpec:
    type: str
    kwargs: Mapping[str, Any]
    severity: str = "critical"

    @property
    def target(self) -> str:
        """The column(s) the expectation looks at, for reports ('' for table-level ones)."""
        for key in ("column", "column_list", "column_A"):
            if key in self.kwargs:
                value = self.kwargs[key]
                if key == "column_A":
                    return f"{value},{self.kwargs.get('column_B')}"
                return ",".join(value) if isinstance(value, list) else str(value)
        return ""


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    table: str
    row_id: tuple[str, ...]
    expectations: tuple[ExpectationSpec, ...]

    @property
    def layer(self) -> str:
        return self.table.partition(".")[0]


def load_suite(path: str | Path, drift_severity: str = "warning") -> SuiteSpec:
    """Read a suite file (see conf/expectations/README.md) and check it."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"expectation suite not found: {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        name, table = str(data["suite"]), str(data["table"])
        raw = data["expectations"]
    except KeyError as exc:
        raise ConfigError(f"{path}: missing key {exc}") from None
    specs = []
    for i, item in enumerate(raw):
        severity = str(item.get("severity", "critical"))
        if severity == DRIFT_SEVERITY:
            severity = drift_severity
        if severity not in SEVERITIES:
            raise ConfigError(f"{path}: expectation {i} has severity {severity!r}; use one of {SEVERITIES}")
        specs.append(ExpectationSpec(str(item["type"]), dict(item.get("kwargs") or {}), severity))
    return SuiteSpec(name, table, tuple(data.get("row_id") or ()), tuple(specs))


def configured_suite(config: Config, name: str) -> SuiteSpec:
    """The suite ``<validation.suites_dir>/<name>.yaml``."""
    return load_suite(Path(config.validation.suites_dir) / f"{name}.yaml", config.validation.drift_severity)


def bronze_suite(source: str) -> SuiteSpec:
    """A bronze table's suite, from the source contract in voicelake.schemas: the contract's
    columns plus ingestion metadata (and the derived ``event_date``) and required fields present.

    Timestamp types (fixed by the Delta table's schema) and events on the run's dates (the
    frame is selected by them) are not checked: those checks could not fail. Bronze is
    append-only and keeps every version of a record, so keys are not unique here."""
    schema = SOURCES[source]
    columns = [*schema.field_names, *INGEST_COLUMNS, "event_date"]
    specs = [ExpectationSpec("expect_table_columns_to_match_set", {"column_set": columns, "exact_match": True})]
    specs += [ExpectationSpec("expect_column_values_to_not_be_null", {"column": f.name})
              for f in schema.fields if f.required]
    return SuiteSpec(f"bronze_{source}", bronze_table(source), (schema.key,), tuple(specs))


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    target: str
    severity: str
    success: bool
    observed: str
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    failing_rows_condition: str | None = None  # Spark SQL condition selecting the failing rows
    error: str | None = None


@dataclass(frozen=True)
class SuiteOutcome:
    suite: SuiteSpec
    outcomes: tuple[ExpectationOutcome, ...]
    seconds: float
    quarantined: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def success(self) -> bool:
        """True unless an expectation of severity critical failed."""
        return all(o.success for o in self.outcomes if o.severity == "critical")

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "critical"]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity != "critical"]


def redact_observed(value: Any) -> str:
    """An observed or unexpected value as text with PII redacted (`voicelake.pii`), for
    gold.validation_results, logs and messages."""
    from voicelake.pii import redact_text

    return redact_text(str(value)) or ""


def _observed(result: Mapping[str, Any]) -> str:
    if "observed_value" in result:
        return str(result["observed_value"])
    if result.get("unexpected_count") is not None:
        sample = result.get("partial_unexpected_list") or []
        text = f"{result['unexpected_count']} of {result.get('element_count')} rows unexpected"
        if sample:
            text += f", e.g. {[redact_observed(v)[:80] for v in sample[:3]]}"
        return text
    return ""


_QUERY = re.compile(r"^df\.filter\(F\.expr\((?P<literal>.*)\)\)$", re.S)


def _failing_rows_condition(result: Mapping[str, Any]) -> str | None:
    """The Spark SQL condition Great Expectations reports for a row-level failure.

    GX renders it as ``df.filter(F.expr(<python string literal>))``; the literal is read
    with ``ast.literal_eval`` (a literal only, nothing is executed)."""
    query = result.get("unexpected_index_query")
    if not isinstance(query, str):
        return None
    match = _QUERY.match(query.strip())
    if not match:
        return None
    value = ast.literal_eval(match.group("literal"))
    return value if isinstance(value, str) else None


class Validator:
    """One ephemeral Great Expectations context, its Spark data source and Data Docs site."""

    def __init__(self, config: Config) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        self.docs_dir = config.validation.data_docs_dir
        self.detail_rows = config.validation.detail_rows
        self._runs: dict[str, int] = {}
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        for site, site_config in dict(self.context.variables.data_docs_sites or {}).items():
            # the ephemeral context's default site is a fresh folder under /tmp: drop it
            self.context.delete_data_docs_site(site)
            default_dir = Path(site_config.get("store_backend", {}).get("base_directory", ""))
            if default_dir.parent == Path(tempfile.gettempdir()):
                shutil.rmtree(default_dir, ignore_errors=True)
        self.source = self.context.data_sources.add_spark(DATA_SOURCE)
        self.context.add_data_docs_site(site_name=DATA_SOURCE, site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": self.docs_dir},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })

    def _expectation(self, spec: ExpectationSpec) -> Any:
        from great_expectations.expectations.registry import get_expectation_impl

        try:
            cls = get_expectation_impl(spec.type)
        except Exception as exc:  # GX raises its own error type for unknown names
            raise ConfigError(f"unknown expectation type {spec.type!r}") from exc
        return cls(**spec.kwargs, severity=spec.severity)  # type: ignore[arg-type]  # GX parses the name

    def _definition(self, name: str, table: str, specs: Sequence[ExpectationSpec]) -> tuple[Any, Any]:
        gx = self._gx
        runs = self._runs[name] = self._runs.get(name, 0) + 1
        name = name if runs == 1 else f"{name}-{runs}"  # names are unique per context
        batch = self.source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(table)
        gx_suite = self.context.suites.add(gx.ExpectationSuite(
            name=name, expectations=[self._expectation(s) for s in specs]))
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=gx_suite))
        return gx_suite, definition

    def run(self, suite: SuiteSpec, frame: DataFrame, parameters: Mapping[str, Any]) -> SuiteOutcome:
        """Validate ``frame`` against ``suite``; the columns the suite reads are cached once.

        Small frames get one detailed pass. On large ones a first pass computes only
        whether each expectation holds (GX's BOOLEAN_ONLY: its partial lists of unexpected
        values cost a full scan per expectation even when nothing is wrong); the failed
        expectations alone then run again for observed values and the failing rows."""
        started = time.perf_counter()
        detail = {"result_format": "BASIC", "unexpected_index_column_names": list(suite.row_id),
                  "return_unexpected_index_query": True, "partial_unexpected_count": 3}
        cached = frame.select(*[f"`{c}`" for c in checked_columns(suite, frame.columns)]).cache()
        try:
            rows = cached.count()  # materialises the cache once for every expectation
            batch = {"dataframe": cached}
            gx_suite, definition = self._definition(suite.name, suite.table, suite.expectations)
            first = definition.run(batch_parameters=batch, expectation_parameters=dict(parameters),
                                   result_format=detail if rows <= self.detail_rows else "BOOLEAN_ONLY")
            results = _in_suite_order(gx_suite, first.results)
            failed = [i for i, res in enumerate(results) if not res.success]
            if rows > self.detail_rows and failed:
                again, definition = self._definition(f"{suite.name}-failures", suite.table,
                                                     [suite.expectations[i] for i in failed])
                second = definition.run(batch_parameters=batch, expectation_parameters=dict(parameters),
                                        result_format=detail)
                for i, res in zip(failed, _in_suite_order(again, second.results), strict=True):
                    results[i] = res
        finally:
            cached.unpersist()
        outcomes = []
        for spec, res in zip(suite.expectations, results, strict=True):
            r = res.result or {}
            error = (res.exception_info or {}).get("exception_message") if res.exception_info else None
            outcomes.append(ExpectationOutcome(
                expectation=spec.type, target=spec.target, severity=spec.severity,
                success=bool(res.success), observed=_observed(r) if not error else f"error: {error}",
                element_count=r.get("element_count", rows), unexpected_count=r.get("unexpected_count"),
                unexpected_percent=r.get("unexpected_percent"),
                failing_rows_condition=None if res.success else _failing_rows_condition(r),
                error=error))
        return SuiteOutcome(suite, tuple(outcomes), time.perf_counter() - started)

    def build_docs(self) -> str:
        """Render the Data Docs site; returns the path of its index page. The stored results
        are scrubbed first: GX keeps sample values of failing rows (free text, identifiers)
        and the HTML would show them raw."""
        self._scrub_stored_results()
        self.context.build_data_docs(site_names=[DATA_SOURCE])
        return str(Path(self.docs_dir) / "index.html")


    def _scrub_stored_results(self) -> None:
        store = self.context.validation_results_store
        for key in store.list_keys():
            stored = store.get(key)
            if stored is None:
                continue
            for res in stored.results:
                if res.result:
                    res.result = {k: _scrubbed(v) if k in _SAMPLE_KEYS else v for k, v in res.result.items()}
            store.set(key, stored)


# result fields where GX keeps values of the validated rows
_SAMPLE_KEYS = frozenset({"partial_unexpected_list", "unexpected_list", "partial_unexpected_index_list",
                          "unexpected_index_list", "partial_unexpected_counts", "details"})


def _scrubbed(value: Any) -> Any:
    """``value`` with every string PII-redacted (`redact_observed`), containers walked."""
    if isinstance(value, str):
        return redact_observed(value)
    if isinstance(value, Mapping):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value


def checked_columns(suite: SuiteSpec, columns: Sequence[str]) -> list[str]:
    """The columns a suite reads (all of them when it checks the table's column set):
    caching only those keeps wide tables cheap to validate."""
    if any(e.type.startswith("expect_table_column") for e in suite.expectations):
        return list(columns)
    words = set(suite.row_id)
    for e in suite.expectations:
        for key in ("column", "column_A", "column_B"):
            if key in e.kwargs:
                words.add(str(e.kwargs[key]))
        words.update(e.kwargs.get("column_list") or [])
        words.update(re.findall(r"\w+", str(e.kwargs.get("row_condition") or "")))
    return [c for c in columns if c in words]


def _in_suite_order(gx_suite: Any, results: Sequence[Any]) -> list[Any]:
    """GX reorders results (table-level first); put them back in the suite's order by id."""
    by_id = {res.expectation_config.id: res for res in results}
    missing = [e.id for e in gx_suite.expectations if e.id not in by_id]
    if missing:
        raise RuntimeError(f"Great Expectations returned no result for {len(missing)} expectation(s) "
                           f"of {gx_suite.name}")
    return [by_id[e.id] for e in gx_suite.expectations]


# GX reports these as a window expression that is not valid SQL: select their rows directly.
UNIQUENESS_EXPECTATIONS = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")


def failing_rows(frame: DataFrame, outcome: ExpectationOutcome) -> DataFrame | None:
    """The rows of ``frame`` behind a failed row-level expectation (None for table-level ones)."""
    if outcome.success:
        return None
    if outcome.expectation in UNIQUENESS_EXPECTATIONS:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        key = [F.col(f"`{c}`") for c in outcome.target.split(",")]
        counted = frame.withColumn("_copies", F.count(F.lit(1)).over(Window.partitionBy(*key)))
        return counted.where(F.col("_copies") > 1).drop("_copies")
    if not outcome.failing_rows_condition:
        return None
    return frame.where(outcome.failing_rows_condition)


def summarise(outcomes: Sequence[SuiteOutcome]) -> str:
    """A short readable report: one line per suite, then each failure and warning."""
    lines = []
    for s in outcomes:
        if not s.outcomes:
            lines.append(f"SKIP  {s.suite.name:<28} {s.suite.table:<26} {'; '.join(s.notes)}")
            continue
        state = "PASS" if s.success else "FAIL"
        warn = f", {len(s.warnings)} warning(s)" if s.warnings else ""
        lines.append(f"{state}  {s.suite.name:<28} {s.suite.table:<26} "
                     f"{len(s.outcomes) - len(s.failures) - len(s.warnings)}/{len(s.outcomes)} passed{warn}"
                     f"  ({s.seconds:.1f}s)")
        for o in s.failures + s.warnings:
            kind = "failed " if o.severity == "critical" else "warning"
            target = f"({o.target})" if o.target else ""
            lines.append(f"      {kind} {o.expectation}{target}: {o.observed}")
        if s.quarantined:
            lines.append(f"      {s.quarantined} failing row(s) copied to bronze.quarantine")
    return "\n".join(lines)
