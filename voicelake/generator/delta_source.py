"""Turn one generated source into a Delta table with the change data feed on, as a sync tool fills it.

`voicelake generate --delta-source SOURCE` writes the history as usual, then moves that
source's JSON Lines files out of the landing zone into ``<home>/sources/<source>``: one
append per file in name order (each day, then each late file), so every day is a Delta
version and late records arrive in a later one. Lines that are not valid JSON objects (the
generator's planted malformed records) cannot be rows of a typed table and are left out;
their count is returned. Point ``conf/sources.yaml`` at the table with ``format: delta``.
"""

from __future__ import annotations

import json
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from voicelake.schemas import SOURCES, SPARK_TYPES


def write_delta_source(spark: SparkSession, landing: Path, source: str, target: str) -> tuple[int, int]:
    """Move ``<landing>/<source>/*.jsonl`` into the Delta table at ``target``; returns
    (rows written, malformed lines left out)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; known: {sorted(SOURCES)}")
    schema = SOURCES[source]
    files = sorted((landing / source).glob("*.jsonl"))
    if not files:
        raise ValueError(f"no generated JSON Lines files for {source!r} under {landing / source}")
    ddl = ", ".join(f"`{f.name}` string" for f in schema.fields)
    written = skipped = 0
    for file in files:
        rows = []
        for line in file.read_bytes().splitlines():
            try:
                record = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                record = None
            if not isinstance(record, dict):
                skipped += 1
                continue
            rows.append(tuple(None if record.get(f.name) is None else str(record[f.name]) for f in schema.fields))
        frame = spark.createDataFrame(rows, ddl).select(*(
            F.col(f.name).cast(SPARK_TYPES[f.type]).alias(f.name) if f.type != "string" else F.col(f.name)
            for f in schema.fields))
        (frame.write.format("delta").mode("append").option("delta.enableChangeDataFeed", "true")
         .save(target))
        written += len(rows)
        file.unlink()
    return written, skipped
