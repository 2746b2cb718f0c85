"""Readers for raw sources: landing-zone files (JSON Lines, CSV) and Delta tables.

Each reader returns the *raw shape* the bronze transforms expect: the canonical fields as
strings (renamed through the source mapping), ``_raw`` (the record as it landed),
``_source_file``, ``_source_version`` and ``_parse_error``. Files are listed through
Hadoop's FileSystem, so a landing zone on s3a:// or abfss:// works like a local folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from voicelake.lake import scalar
from voicelake.schemas import SourceSchema
from voicelake.sources import SourceMapping

FILE_SUFFIXES = {"jsonl": (".jsonl", ".json", ".ndjson"), "csv": (".csv",)}
CORRUPT = "_corrupt_record"
BOM = "\ufeff"
# longest first: UTF-32LE's mark starts with UTF-16LE's
BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
        (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


def normalise_path(path: str) -> str:
    """One spelling per file (Spark writes file:/x, file:///x or /x for the same file)."""
    if path.startswith("file:"):
        path = "/" + path[len("file:"):].lstrip("/")
    return path


def _list_files(spark: SparkSession, location: str) -> list[tuple[str, int]]:
    """Every visible file under ``location`` (recursively) with its size in bytes."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(location)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return []
    found = []
    files = fs.listFiles(path, True)
    while files.hasNext():
        status = files.next()
        name = status.getPath().toString()
        if not name.rsplit("/", 1)[-1].startswith((".", "_")):
            found.append((normalise_path(name), int(status.getLen())))
    return sorted(found)


def landing_file_times(spark: SparkSession, location: str) -> dict[str, datetime]:
    """Last modification time (UTC, naive) of every visible file under ``location``."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(location)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return {}
    times = {}
    files = fs.listFiles(path, True)
    while files.hasNext():
        status = files.next()
        millis = int(status.getModificationTime())
        times[normalise_path(status.getPath().toString())] = datetime.fromtimestamp(millis / 1000, UTC).replace(
            tzinfo=None)
    return times


def list_landing_files(spark: SparkSession, location: str, suffixes: tuple[str, ...]) -> list[str]:
    """Files under ``location`` (recursively) with one of ``suffixes``, sorted by name."""
    return [name for name, _ in _list_files(spark, location) if name.endswith(suffixes)]


def list_unknown_files(spark: SparkSession, location: str, suffixes: tuple[str, ...]) -> list[str]:
    """Files under ``location`` whose extension is none of ``suffixes`` (reported, never read)."""
    return [name for name, _ in _list_files(spark, location) if not name.endswith(suffixes)]


def sniff_encoding(spark: SparkSession, file: str) -> str | None:
    """The encoding a byte-order mark at the start of ``file`` names (None: no BOM or UTF-8's)."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(file)
    stream = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).open(path)
    try:
        head = bytes(b for b in (stream.read() for _ in range(4)) if b >= 0)  # up to 4 bytes; -1 = end
    finally:
        stream.close()
    for bom, name in BOMS:
        if head.startswith(bom):
            return name
    return None


def _file_column() -> F.Column:
    return F.regexp_replace(F.col("_metadata.file_path"), r"^file:/+", "/")


def _jsonl_lines(spark: SparkSession, files: list[str], encoding: str | None) -> DataFrame:
    """Non-blank lines (``_raw``) with their file; UTF-16/32 files are decoded whole first."""
    if encoding is None:  # UTF-8 (invalid bytes kept as they are, flagged in bronze)
        value = F.col("value")  # substring keeps the bytes; a regex would replace invalid ones
        lines = spark.read.text(files).select(
            F.when(value.startswith(BOM), F.expr("substring(value, 2)")).otherwise(value).alias("_raw"),
            _file_column().alias("_source_file"))
    else:
        text = F.regexp_replace(F.decode(F.col("content"), encoding), f"^{BOM}", "")
        lines = spark.read.format("binaryFile").load(files).select(
            F.explode(F.split(text, "\r\n|\r|\n")).alias("_raw"),
            F.regexp_replace(F.col("path"), r"^file:/+", "/").alias("_source_file"))
    return lines.where(F.trim(F.col("_raw")) != "")


def read_jsonl(spark: SparkSession, files: list[str], mapping: SourceMapping,
               schema: SourceSchema) -> DataFrame:
    """JSON Lines files -> raw shape; a line that is not a JSON object is ``invalid_json``.
    A UTF-8 byte-order mark is dropped; a UTF-16/32 file (with its mark) is decoded."""
    by_encoding: dict[str | None, list[str]] = {}
    for file in files:
        by_encoding.setdefault(sniff_encoding(spark, file), []).append(file)
    lines = reduce(DataFrame.unionAll, [_jsonl_lines(spark, group, encoding)
                                        for encoding, group in sorted(by_encoding.items(), key=str)])
    parsed = lines.withColumn("_m", F.from_json("_raw", "map<string,string>"))
    fields = [F.col("_m").getItem(mapping.source_column(f)).alias(f) for f in schema.field_names]
    return parsed.select(
        *fields, "_raw", "_source_file", F.lit(None).cast("long").alias("_source_version"),
        F.when(F.col("_m").isNull(), F.lit("invalid_json")).alias("_parse_error"),
    )


@dataclass(frozen=True)
class CsvLayout:
    """How one CSV file is read: its header's column names and the encoding used."""

    header: tuple[str, ...]
    encoding: str
    utf8_bytes: bool  # read byte-for-byte as ISO-8859-1, then taken back to UTF-8 bytes


def csv_layout(spark: SparkSession, file: str, options: dict[str, str]) -> CsvLayout | None:
    """The header of one CSV file (None for a file without one: empty). A UTF-16/32 file is
    decoded by its byte-order mark; otherwise the bytes are kept so invalid UTF-8 is detected."""
    encoding = options.get("encoding") or options.get("charset")
    utf8_bytes = False
    if encoding is None:
        encoding = sniff_encoding(spark, file)
        if encoding is None:
            encoding, utf8_bytes = "ISO-8859-1", True
    columns = spark.read.options(**{**options, "encoding": encoding}).csv(file).columns
    if utf8_bytes:
        columns = [c.encode("latin-1").decode("utf-8", "replace") for c in columns]
    header = tuple(c.removeprefix(BOM).strip() for c in columns)
    return CsvLayout(header, encoding, utf8_bytes) if any(header) else None


def _csv_group(spark: SparkSession, files: list[str], layout: CsvLayout, options: dict[str, str],
               mapping: SourceMapping, schema: SourceSchema) -> DataFrame:
    """Files sharing one header -> raw shape, columns matched by header name."""
    positions = [f"_c{i}" for i in range(len(layout.header))]
    ddl = ", ".join(f"`{c}` string" for c in [*positions, CORRUPT])
    rows = spark.read.options(**{**options, "encoding": layout.encoding}).schema(ddl).csv(files)

    def text(name: str) -> F.Column:  # the field as UTF-8 text (invalid bytes kept, flagged later)
        column = F.col(f"`{name}`")
        return F.encode(column, "ISO-8859-1").cast("string") if layout.utf8_bytes else column

    by_name = {name: positions[i] for i, name in reversed(list(enumerate(layout.header)))}
    fields = [(text(by_name[mapping.source_column(f)]) if mapping.source_column(f) in by_name
               else F.lit(None).cast("string")).alias(f) for f in schema.field_names]
    values = [text(p).alias(name or p) for p, name in zip(positions, layout.header, strict=True)]
    invalid = reduce(lambda a, b: a | b, [~F.is_valid_utf8(F.coalesce(text(c), F.lit("")))
                                          for c in [*positions, CORRUPT]])
    return rows.select(
        *fields, F.coalesce(text(CORRUPT), F.to_json(F.struct(*values))).alias("_raw"),
        _file_column().alias("_source_file"), F.lit(None).cast("long").alias("_source_version"),
        F.when(F.col(CORRUPT).isNotNull(), F.lit("malformed_csv"))
        .when(invalid, F.lit("invalid_utf8")).alias("_parse_error"),
    )


def read_csv(spark: SparkSession, files: list[str], mapping: SourceMapping,
             schema: SourceSchema) -> DataFrame | None:
    """CSV files with a header row -> raw shape (None when no file has a header); a row with
    the wrong number of fields is ``malformed_csv``. Columns are matched by each file's
    header names, not by position; empty files have no records."""
    options = {"header": "true", "multiLine": "true", "mode": "PERMISSIVE",
               "columnNameOfCorruptRecord": CORRUPT, **mapping.csv_options}
    groups: dict[CsvLayout, list[str]] = {}
    unreadable: list[tuple[str, str]] = []
    for file in files:
        try:
            layout = csv_layout(spark, file, options)
        except Exception as exc:  # noqa: BLE001 - any reader failure quarantines the file by name
            unreadable.append((file, f"unreadable file {file}: {str(exc).splitlines()[0][:500]}"))
            continue
        if layout is not None:
            groups.setdefault(layout, []).append(file)
    frames = [_csv_group(spark, group, layout, options, mapping, schema) for layout, group in groups.items()]
    if unreadable:
        frames.append(unreadable_records(spark, unreadable, schema))
    return reduce(DataFrame.unionAll, frames) if frames else None


def unreadable_records(spark: SparkSession, files: list[tuple[str, str]], schema: SourceSchema) -> DataFrame:
    """One ``unreadable_file`` record per (file, error) so that a file no reader can open is
    quarantined and logged by name instead of failing the run."""
    ddl = ", ".join(f"`{f}` string" for f in schema.field_names)
    rows = [(*([None] * len(schema.field_names)), error, file, None, "unreadable_file") for file, error in files]
    return spark.createDataFrame(rows, f"{ddl}, _raw string, _source_file string, "
                                       "_source_version long, _parse_error string")


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
