"""Readers for raw sources: landing-zone files (JSON Lines, CSV) and Delta tables.

Each reader returns the *raw shape* the bronze transforms expect: the canonical fields as
strings (renamed through the source mapping), ``_raw`` (the record as it landed),
``_source_file``, ``_source_version`` and ``_parse_error``. Files are listed through
Hadoop's FileSystem, so a landing zone on s3a:// or abfss:// works like a local folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from voicelake.lake import scalar
from voicelake.schemas import SourceSchema
from voicelake.sources import SourceMapping

FILE_SUFFIXES = {"jsonl": (".jsonl", ".json", ".ndjson"), "csv": (".csv",)}
CORRUPT = "_corrupt_record"


def normalise_path(path: str) -> str:
    """One spelling per file (Spark writes file:/x, file:///x or /x for the same file)."""
    if path.startswith("file:"):
        path = "/" + path[len("file:"):].lstrip("/")
    return path


def list_landing_files(spark: SparkSession, location: str, suffixes: tuple[str, ...]) -> list[str]:
    """Files under ``location`` (recursively) with one of ``suffixes``, sorted by name."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(location)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return []
    found = []
    files = fs.listFiles(path, True)
    while files.hasNext():
        name = files.next().getPath().toString()
        base = name.rsplit("/", 1)[-1]
        if base.endswith(suffixes) and not base.startswith((".", "_")):
            found.append(normalise_path(name))
    return sorted(found)


def _file_column() -> F.Column:
    return F.regexp_replace(F.col("_metadata.file_path"), r"^file:/+", "/")


def read_jsonl(spark: SparkSession, files: list[str], mapping: SourceMapping,
               schema: SourceSchema) -> DataFrame:
    """JSON Lines files -> raw shape; a line that is not a JSON object is ``invalid_json``."""
    lines = (spark.read.text(files)
             .select(F.col("value").alias("_raw"), _file_column().alias("_source_file"))
             .where(F.trim(F.col("_raw")) != ""))
    parsed = lines.withColumn("_m", F.from_json("_raw", "map<string,string>"))
    fields = [F.col("_m").getItem(mapping.source_column(f)).alias(f) for f in schema.field_names]
    return parsed.select(
        *fields, "_raw", "_source_file", F.lit(None).cast("long").alias("_source_version"),
        F.when(F.col("_m").isNull(), F.lit("invalid_json")).alias("_parse_error"),
    )


def read_csv(spark: SparkSession, files: list[str], mapping: SourceMapping,
             schema: SourceSchema) -> DataFrame:
    """CSV files with a header row -> raw shape; a row with the wrong number of fields is
    ``malformed_csv``. Columns are matched by header name, not by position."""
    options = {"header": "true", "multiLine": "true", "mode": "PERMISSIVE",
               "columnNameOfCorruptRecord": CORRUPT, **mapping.csv_options}
    header = spark.read.options(**options).csv(files[:1]).columns
    ddl = ", ".join(f"`{c}` string" for c in header) + f", `{CORRUPT}` string"
    rows = spark.read.options(**options).schema(ddl).csv(files)
    present = set(header)
    fields = []
    for name in schema.field_names:
        column = mapping.source_column(name)
        fields.append((F.col(f"`{column}`") if column in present else F.lit(None).cast("string"))
                      .alias(name))
    raw = F.coalesce(F.col(CORRUPT), F.to_json(F.struct(*[F.col(f"`{c}`") for c in header])))
    return rows.select(
        *fields, raw.alias("_raw"), _file_column().alias("_source_file"),
        F.lit(None).cast("long").alias("_source_version"),
        F.when(F.col(CORRUPT).isNotNull(), F.lit("malformed_csv")).alias("_parse_error"),
    )


@dataclass(frozen=True)
class DeltaSlice:
    """The part of a Delta source table not ingested yet."""

    frame: DataFrame
    from_version: int
    to_version: int


def read_delta_changes(spark: SparkSession, mapping: SourceMapping, schema: SourceSchema,
                       last_version: int | None) -> DeltaSlice | None:
    """New rows of a Delta source since ``last_version`` (snapshot on the first run,
    change data feed afterwards); None when nothing changed."""
    if mapping.table:
        table = DeltaTable.forName(spark, mapping.table)
        name = mapping.table
    else:
        assert mapping.location is not None
        table = DeltaTable.forPath(spark, mapping.location)
        name = mapping.location
    current = int(scalar(table.history(1).select("version")))
    if last_version is not None and current <= last_version:
        return None
    reader = spark.read.format("delta")
    target = mapping.table or mapping.location
    assert target is not None
    if last_version is None:
        df = (spark.read.table(target) if mapping.table
              else reader.load(target)).withColumn("_commit_version", F.lit(current))
    else:
        props = scalar(table.detail().select("properties")) or {}
        if str(props.get("delta.enableChangeDataFeed", "false")).lower() != "true":
            raise RuntimeError(
                f"Delta source {name} changed since version {last_version} but has no change "
                f"data feed; run ALTER TABLE ... SET TBLPROPERTIES "
                f"(delta.enableChangeDataFeed = true) so it can be read incrementally.")
        reader = (reader.option("readChangeFeed", "true")
                  .option("startingVersion", last_version + 1)
                  .option("endingVersion", current))
        df = (reader.table(mapping.table) if mapping.table else reader.load(target))
        # deletes are kept: `_change_type` stays in `_raw`, so silver treats them as tombstones
        df = df.where(F.col("_change_type").isin("insert", "update_postimage", "delete")).drop(
            "_commit_timestamp")
    source_cols = [c for c in df.columns if c != "_commit_version"]
    fields = [(F.col(f"`{mapping.source_column(f)}`").cast("string")
               if mapping.source_column(f) in source_cols else F.lit(None).cast("string")).alias(f)
              for f in schema.field_names]
    frame = df.select(
        *fields,
        F.to_json(F.struct(*[F.col(f"`{c}`") for c in source_cols])).alias("_raw"),
        F.lit(name).alias("_source_file"),
        F.col("_commit_version").cast("long").alias("_source_version"),
        F.lit(None).cast("string").alias("_parse_error"),
    )
    return DeltaSlice(frame, (last_version or -1) + 1, current)
