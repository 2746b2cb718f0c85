"""Ingest raw support history into bronze: one Delta table per source, plus quarantine.

Incremental: a landing file already in ``bronze.ingest_log`` is never read again, and a
Delta-table source is read from the version after the last ingested one. Malformed
records go to ``bronze.quarantine`` with the raw record, source, file and reason. Each run
prints, per source, landed = bronze + quarantine. Empty and header-only files are logged with
0 records (never read again); files with an unknown extension are reported, not read.

One run at a time: a run holds the lake's ``ingest`` lease (`voicelake.lease`) from before it
reads the log until after it writes it, so a second, overlapping run is refused with a clear
message instead of removing the first run's in-flight rows as those of a crashed batch.

    voicelake ingest [--source tickets ...]
    spark-submit jobs/ingest.py [--source ...]
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame

from voicelake.faults import fault
from voicelake.jobs.transforms.bronze import count_by_file, flag_invalid_records, to_bronze, to_quarantine
from voicelake.jobs.transforms.mapping import apply_mapping
from voicelake.landing import (
    FILE_SUFFIXES,
    landing_file_times,
    list_landing_files,
    list_unknown_files,
    read_csv,
    read_delta_changes,
    read_jsonl,
)
from voicelake.lease import DEFAULT_TTL, Lease, Leases
from voicelake.progress import SparkProgress
from voicelake.runtime import JobContext, job_parser, open_lake, run_job
from voicelake.schemas import INGEST_LOG, QUARANTINE, SOURCES, bronze_table
from voicelake.sources import SourceMapping, load_source_mappings

QUARANTINE_SCHEMA = ("source string, raw_record string, source_file string, source_version long, "
                     "reason string, batch_id string, ingested_at timestamp")
LOG_SCHEMA = ("source string, source_file string, source_version long, batch_id string, "
              "landed long, bronze_rows long, quarantined_rows long, ingested_at timestamp")


@dataclass(frozen=True)
class IngestResult:
    source: str
    units: int  # files or Delta versions read
    landed: int
    bronze: int
    quarantined: int
    unknown_files: tuple[str, ...] = ()  # files with an extension the source's format does not read
    changed_files: tuple[str, ...] = ()  # ingested files modified since: not re-read

    @property
    def reconciled(self) -> bool:
        return self.landed == self.bronze + self.quarantined


@dataclass(frozen=True)
class IngestState:
    """What earlier runs ingested, read once per run from bronze.ingest_log."""

    files: dict[str, set[str]]
    last_version: dict[str, int]
    batches: set[str]
    ingested_at: dict[str, datetime]  # landing file -> when it was ingested

    @classmethod
    def read(cls, ctx: JobContext) -> IngestState:
        files: dict[str, set[str]] = {}
        versions: dict[str, int] = {}
        batches: set[str] = set()
        ingested_at: dict[str, datetime] = {}
        if ctx.lake.exists(INGEST_LOG):
            rows = ctx.lake.read(INGEST_LOG).select(
                "source", "source_file", "source_version", "batch_id", "ingested_at").distinct().collect()
            for r in rows:
                batches.add(r["batch_id"])
                files.setdefault(r["source"], set()).add(r["source_file"])
                if r["source_version"] is not None:
                    versions[r["source"]] = max(versions.get(r["source"], -1), r["source_version"])
                if r["source_file"] and r["ingested_at"]:
                    ingested_at[r["source_file"]] = max(ingested_at.get(r["source_file"], r["ingested_at"]),
                                                        r["ingested_at"])
        return cls(files, versions, batches, ingested_at)


def recover_unlogged_batches(ctx: JobContext, state: IngestState, sources: Sequence[str]) -> int:
    """Delete rows that a crashed run appended to bronze or quarantine without logging them.

    Every append is tagged with its batch id (Delta userMetadata) and the log is written
    last, so a tagged commit whose batch is not in the log is an unfinished batch.
    """
    removed = 0
    for table in [bronze_table(s) for s in sources] + [QUARANTINE]:
        orphans = sorted(ctx.lake.commit_tags(table) - state.batches)
        if orphans:
            column = "batch_id" if table == QUARANTINE else "_batch_id"
            ctx.lake.delete(table, f"{column} IN ({', '.join(repr(b) for b in orphans)})")
            removed += len(orphans)
    return removed


def _new_files(ctx: JobContext, mapping: SourceMapping, state: IngestState) -> list[str]:
    """Landing files of a file source not in the ingest log yet (none for a Delta source)."""
    if mapping.format == "delta":
        return []
    assert mapping.location is not None
    done = state.files.get(mapping.name, set())
    return [f for f in list_landing_files(ctx.spark, mapping.location, FILE_SUFFIXES[mapping.format])
            if f not in done]


def _changed_files(ctx: JobContext, mapping: SourceMapping, state: IngestState) -> tuple[str, ...]:
    """Ingested landing files modified after their ingestion (a corrected export re-landed under
    the same name). They are not read again: a file is ingested once, by name."""
    if mapping.format == "delta" or mapping.location is None:
        return ()
    done = state.files.get(mapping.name, set())
    times = landing_file_times(ctx.spark, mapping.location)
    return tuple(sorted(f for f in done if f in times and f in state.ingested_at
                        and times[f] > state.ingested_at[f]))


def _read_new(ctx: JobContext, mapping: SourceMapping, state: IngestState,
              files: list[str]) -> DataFrame | None:
    schema = SOURCES[mapping.name]
    if mapping.format == "delta":
        delta_slice = read_delta_changes(ctx.spark, mapping, schema,
                                         state.last_version.get(mapping.name))
        return delta_slice.frame if delta_slice else None
    if not files:
        return None
    reader = read_jsonl if mapping.format == "jsonl" else read_csv
    return reader(ctx.spark, files, mapping, schema)


def _unknown_files(ctx: JobContext, mapping: SourceMapping) -> tuple[str, ...]:
    if mapping.format == "delta" or mapping.location is None:
        return ()
    return tuple(list_unknown_files(ctx.spark, mapping.location, FILE_SUFFIXES[mapping.format]))


def ingest_source(ctx: JobContext, mapping: SourceMapping, state: IngestState, batch_id: str,
                  now: datetime) -> tuple[IngestResult, list[tuple[object, ...]]]:
    """Ingest what is new for one source; returns its result and its ingest-log rows."""
    source = mapping.name
    files = _new_files(ctx, mapping, state)
    unknown = _unknown_files(ctx, mapping)
    changed = _changed_files(ctx, mapping, state)
    raw = _read_new(ctx, mapping, state, files)
    empty_files: list[tuple[object, ...]] = [(source, f, None, batch_id, 0, 0, 0, now) for f in files]
    if raw is None:
        return IngestResult(source, len(files), 0, 0, 0, unknown, changed), empty_files
    raw = apply_mapping(raw, mapping)  # casts, value maps, constants, role rules (conf/sources.yaml)
    schema = SOURCES[source]
    flagged = flag_invalid_records(raw, schema, ctx.config.max_text_chars,
                                   mapping.timestamp_format).cache()
    try:
        per_file = count_by_file(flagged).collect()
        read = {r["_source_file"] for r in per_file}
        empty_files = [row for row in empty_files if row[1] not in read]
        result = IngestResult(
            source, len(per_file) + len(empty_files),
            sum(r["landed"] for r in per_file),
            sum(r["bronze_rows"] for r in per_file),
            sum(r["quarantined_rows"] for r in per_file),
            unknown,
            changed,
        )
        if result.bronze:
            ctx.lake.append(to_bronze(flagged, schema, batch_id, now, mapping.timestamp_format),
                            bronze_table(source), commit_tag=batch_id)
        if result.quarantined:
            ctx.lake.append(to_quarantine(flagged, source, batch_id, now), QUARANTINE,
                            partition_by=["source"], commit_tag=batch_id)
    finally:
        flagged.unpersist()
    fault("ingest.after_append")  # crash drill: rows appended, batch not logged yet
    log_rows: list[tuple[object, ...]] = [(source, r["_source_file"], r["_source_version"], batch_id, r["landed"],
                 r["bronze_rows"], r["quarantined_rows"], now) for r in per_file]
    return result, log_rows + empty_files


def ingest(ctx: JobContext, sources: Sequence[str] | None = None,
           lease_ttl: timedelta = DEFAULT_TTL) -> list[IngestResult]:
    """Ingest every configured source (or the named ones) as one logged batch, holding the
    lake's ingest lease (`LeaseHeld` when another live run holds it)."""
    leases = Leases(ctx.spark, ctx.config.lake.root)
    batch_id = uuid.uuid4().hex[:12]
    lease = leases.acquire("ingest", batch_id, lease_ttl)
    try:
        return _ingest_batch(ctx, sources, batch_id, leases, lease, lease_ttl)
    finally:
        leases.release(lease)


def _ingest_batch(ctx: JobContext, sources: Sequence[str] | None, batch_id: str, leases: Leases,
                  lease: Lease, lease_ttl: timedelta) -> list[IngestResult]:
    mappings = load_source_mappings(ctx.config)
    names = list(sources) if sources else list(mappings)
    unknown = [n for n in names if n not in mappings]
    if unknown:
        raise LookupError(f"no mapping for sources {unknown} in {ctx.config.sources_mapping_file}")
    if not ctx.lake.exists(QUARANTINE):  # always present for BI, even before a bad record
        empty = ctx.spark.createDataFrame([], QUARANTINE_SCHEMA)
        ctx.lake.append(empty, QUARANTINE, partition_by=["source"])
    state = IngestState.read(ctx)
    # safe under the lease: a tagged commit not in the log belongs to a run that died
    recovered = recover_unlogged_batches(ctx, state, list(mappings))
    if recovered:
        print(f"removed rows of {recovered} unfinished earlier batch(es) before ingesting")
    now = datetime.now(UTC).replace(tzinfo=None)
    results: list[IngestResult] = []
    log_rows: list[tuple[object, ...]] = []
    for name in names:
        result, rows = ingest_source(ctx, mappings[name], state, batch_id, now)
        results.append(result)
        log_rows += rows
        lease = leases.renew(lease, lease_ttl)
    leases.renew(lease, lease_ttl)  # still ours right before the commit point
    if log_rows:  # the commit point: only logged batches count as ingested
        ctx.lake.append(ctx.spark.createDataFrame(log_rows, LOG_SCHEMA), INGEST_LOG)
    return results


def format_results(results: Sequence[IngestResult]) -> str:
    """The reconciliation table printed at the end of a run."""
    lines = [f"{'source':<16} {'files':>5} {'landed':>9} {'bronze':>9} {'quarantine':>10}  check"]
    for r in results:
        check = "ok" if r.reconciled else "MISMATCH"
        lines.append(f"{r.source:<16} {r.units:>5} {r.landed:>9} {r.bronze:>9} "
                     f"{r.quarantined:>10}  {check}")
    total = IngestResult("total", sum(r.units for r in results), sum(r.landed for r in results),
                         sum(r.bronze for r in results), sum(r.quarantined for r in results))
    lines.append(f"{'total':<16} {total.units:>5} {total.landed:>9} {total.bronze:>9} "
                 f"{total.quarantined:>10}  landed = bronze + quarantine: "
                 f"{'ok' if total.reconciled else 'MISMATCH'}")
    for r in results:
        for name in r.unknown_files:
            lines.append(f"not read ({r.source}: unknown file extension): {name}")
        for name in r.changed_files:
            lines.append(f"not re-read ({r.source}: modified after it was ingested; land a corrected export "
                         f"under a new name): {name}")
    return "\n".join(lines)


def _main(argv: Sequence[str] | None) -> int:
    parser = job_parser("voicelake ingest", "Ingest new landing files / Delta versions into bronze.")
    parser.add_argument("--source", action="append", choices=sorted(SOURCES),
                        help="only this source (repeatable); default: every configured source")
    args = parser.parse_args(argv)
    with open_lake(args.env) as ctx, SparkProgress(ctx.spark, "ingest"):
        results = ingest(ctx, args.source)
    print(format_results(results))
    return 0 if all(r.reconciled for r in results) else 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
