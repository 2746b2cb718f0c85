"""Fuzzed landing files: every record of every file ends in bronze or in quarantine with a
reason, and the counts reconcile per file against a count of the input made here, from the
bytes written, not by the code under test.

Hypothesis draws the files (encoding, line ending, column order, truncation, empty, header
only, unknown extension) and a seed; the records in each file come from that seed, so that a
few examples carry thousands of records and the run stays short and reproducible.
"""

from __future__ import annotations

import json
import random
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tests.conftest import make_config
from voicelake.jobs.ingest import ingest
from voicelake.lake import Lake
from voicelake.runtime import JobContext
from voicelake.schemas import INGEST_LOG, QUARANTINE

BULK_RECORDS = 1000  # one file per source always holds this many; the drawn files add more
REVIEW_COLUMNS = ["review_id", "customer_id", "product", "product_version", "rating", "title", "body", "created_at"]
SAFE = "abcdefghijklmnopqrstuvwxyz ABCXYZ 0123456789 ,;:!?'\"-_/()\u00e9\u00fc\u00df\u20ac\ufffd\U0001f621"
KINDS = ("valid", "valid", "valid", "missing", "bad_time", "wrong_type", "huge", "broken")


@dataclass(frozen=True)
class FileSpec:
    shape: str  # records | empty | header_only | unknown_ext | truncated
    encoding: str  # utf-8 | utf-8-sig | utf-16 | latin-1
    newline: str
    reorder: bool
    records: int
    seed: int


FILES = st.lists(st.builds(
    FileSpec,
    shape=st.sampled_from(["records", "records", "empty", "header_only", "unknown_ext", "truncated"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    reorder=st.booleans(),
    records=st.integers(min_value=20, max_value=200),
    seed=st.integers(min_value=0, max_value=2**31),
), min_size=3, max_size=6)


def _text(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(SAFE) for _ in range(size))


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "latin-1":  # what a Windows export does: bytes that are not UTF-8
        return text.encode("latin-1", errors="replace")
    return text.encode(encoding)


def utterance(rng: random.Random, i: int, kind: str) -> str:
    """One JSON Lines record of call_utterances (a line, no line break)."""
    rec: dict[str, object] = {"utterance_id": f"u{i}", "call_id": f"k{i % 7}", "speaker": "customer",
                              "call_started_at": "2026-01-05T10:00:00Z", "start_offset_s": rng.random() * 99,
                              "text": _text(rng, rng.randint(1, 40))}
    if kind == "missing":
        rec.pop("call_id")
    elif kind == "bad_time":
        rec["call_started_at"] = _text(rng, 8)
    elif kind == "wrong_type":
        rec["start_offset_s"] = rng.choice(["five", "1,5", "[]"])
    elif kind == "huge":
        rec["text"] = "x" * 20001
    line = json.dumps(rec, ensure_ascii=rng.random() < 0.5)
    if kind == "broken":
        line = rng.choice([line[: rng.randint(1, len(line) - 1)], "[1, 2]", "not json " + _text(rng, 5)])
    return line


def review(rng: random.Random, i: int, kind: str, columns: list[str]) -> str:
    """One CSV row of reviews in the file's column order (quoted when needed, no line break)."""
    rec = {"review_id": f"r{i}", "customer_id": f"C{i % 9}", "product": f"P{i % 5}",
           "product_version": f"{i % 3}.0", "rating": rng.choice(["1", "5", "4.0"]),
           "title": _text(rng, rng.randint(0, 10)), "body": _text(rng, rng.randint(0, 60)),
           "created_at": "2026-01-05T09:00:00Z"}
    if kind == "missing":
        rec["product"] = ""
    elif kind == "bad_time":
        rec["created_at"] = "yesterday"
    elif kind == "wrong_type":
        rec["rating"] = rng.choice(["five", "4.5"])
    elif kind == "huge":
        rec["body"] = "y" * 20001
    values = ['"' + rec[c].replace('"', '""') + '"' if re.search(r'[,"]', rec[c]) else rec[c] for c in columns]
    if kind == "broken":
        values = values + ["extra"] if rng.random() < 0.5 else values[:3]
    return ",".join(values)


def write_file(folder: Path, index: int, spec: FileSpec, fmt: str, first_id: int) -> tuple[str, int, set[str]]:
    """Write one landing file; returns its name, its record count and the ids expected in bronze."""
    rng = random.Random(spec.seed)
    suffix = ".txt" if spec.shape == "unknown_ext" else (".csv" if fmt == "csv" else ".jsonl")
    name = f"f{index:02d}{suffix}"
    columns = REVIEW_COLUMNS[:]
    if spec.reorder:
        rng.shuffle(columns)
    count = 0 if spec.shape in ("empty", "header_only") else spec.records
    kinds = [rng.choice(KINDS) for _ in range(count)]
    lines = [review(rng, first_id + n, k, columns) if fmt == "csv" else utterance(rng, first_id + n, k)
             for n, k in enumerate(kinds)]
    if spec.shape == "truncated" and lines:  # a half-written file: the last line cut short
        lines[-1] = lines[-1][: rng.randint(1, max(1, len(lines[-1]) - 1))]
    header = [",".join(columns)] if fmt == "csv" and spec.shape != "empty" else []
    text = spec.newline.join(header + lines) + ("" if spec.shape == "truncated" or not (header + lines)
                                                else spec.newline)
    data = _encode(text, spec.encoding)
    (folder / name).write_bytes(data)
    expected = {f"{'r' if fmt == 'csv' else 'u'}{first_id + n}" for n, k in enumerate(kinds)
                if k == "valid" and n < len(kinds) - (spec.shape == "truncated")
                and (spec.encoding != "latin-1" or lines[n].isascii())}
    return name, count_records(data, spec.encoding, fmt), expected


def count_records(data: bytes, encoding: str, fmt: str) -> int:
    """The records a reader should find, counted from the bytes: non-blank lines (less a CSV header)."""
    if encoding in ("utf-16", "utf-8-sig"):
        data = data.decode(encoding).encode("utf-8")
    lines = [line for line in re.split(rb"\r\n|\r|\n", data) if line.strip(b" ")]
    return max(0, len(lines) - 1) if fmt == "csv" else len(lines)


def check_run(spark: SparkSession, files: list[FileSpec]) -> None:
    config = make_config(Path(tempfile.mkdtemp(prefix="fuzz-")))
    ctx = JobContext(config, spark, Lake(spark, config))
    landing = Path(config.lake.landing)
    expected_counts: dict[tuple[str, str], int] = {}
    expected_bronze: dict[str, set[str]] = {"reviews": set(), "call_utterances": set()}
    unknown: dict[str, set[str]] = {"reviews": set(), "call_utterances": set()}
    for source, fmt in (("reviews", "csv"), ("call_utterances", "jsonl")):
        folder = landing / source
        folder.mkdir(parents=True)
        bulk = FileSpec("records", "utf-8", "\n", False, BULK_RECORDS, 7)
        for index, spec in enumerate([bulk, *files]):
            name, count, valid = write_file(folder, index, spec, fmt, first_id=index * 1000)
            if spec.shape == "unknown_ext":
                unknown[source].add(name)
                continue
            expected_counts[(source, name)] = count
            expected_bronze[source] |= valid
    results = {r.source: r for r in ingest(ctx, ["reviews", "call_utterances"])}

    logged = {(r["source"], Path(r["source_file"]).name): r["landed"] for r in ctx.lake.read(INGEST_LOG).collect()}
    assert logged == expected_counts  # every file, empty ones included, with its own record count
    quarantine = ctx.lake.read(QUARANTINE)
    assert quarantine.where(F.col("reason").isNull()).count() == 0
    for source, column in (("reviews", "review_id"), ("call_utterances", "utterance_id")):
        bronze = ctx.lake.read(f"bronze.{source}")
        per_file: dict[str, int] = {}
        for row in (bronze.select(F.col("_source_file").alias("f"))
                    .unionAll(quarantine.where(F.col("source") == source).select(F.col("source_file").alias("f")))
                    .groupBy("f").count().collect()):
            per_file[Path(row["f"]).name] = row["count"]
        landed = {name: n for (s, name), n in expected_counts.items() if s == source and n}
        assert per_file == landed, source  # nothing lost, nothing duplicated, per file
        ids = [r[0] for r in bronze.select(column).collect()]
        assert len(ids) == len(set(ids))
        assert expected_bronze[source] <= set(ids), source
        assert {Path(f).name for f in results[source].unknown_files} == unknown[source]
        assert results[source].landed == sum(landed.values()) >= BULK_RECORDS
    products = {r["review_id"]: r["product"] for r in ctx.lake.read("bronze.reviews").collect()}
    assert all(products[i] == f"P{int(i[1:]) % 5}" for i in expected_bronze["reviews"])  # by header name


@settings(max_examples=2, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],  # no shrinking: each example is a Spark run
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(files=FILES)
def test_fuzzed_landing_files_reconcile(spark: SparkSession, files: list[FileSpec]) -> None:
    check_run(spark, files)
