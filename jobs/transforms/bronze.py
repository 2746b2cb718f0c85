"""Pure transformations from raw source records to bronze rows and quarantine rows.

Input: one row per raw record with the canonical fields as strings (already renamed by
the source mapping), ``_raw`` (the record as it landed), ``_source_file``,
``_source_version`` and ``_parse_error`` (set by the reader when the record could not be
parsed at all). `flag_invalid_records` adds ``_reason``; `to_bronze` and `to_quarantine`
shape the two outputs. No reads, writes or actions here.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from voicelake.schemas import SourceSchema


def parse_timestamp(col: Column, timestamp_format: str | None) -> Column:
    """Parse a string column to timestamp; NULL (never an error) when it does not parse."""
    if timestamp_format:
        return F.try_to_timestamp(col, F.lit(timestamp_format))
    return F.try_to_timestamp(col)


def _typed(schema: SourceSchema, name: str, timestamp_format: str | None) -> Column:
    field = schema.field(name)
    col = F.col(name)
    if field.type == "timestamp":
        return parse_timestamp(col, timestamp_format)
    if field.type == "int":  # "4" and "4.0" are 4; "4.5" is not an int
        number = col.try_cast("double")
        return F.coalesce(col.try_cast("int"),
                          F.when(number == F.floor(number), number.try_cast("int")))
    if field.type == "double":
        return col.try_cast("double")
    return col


def flag_invalid_records(
    df: DataFrame, schema: SourceSchema, max_text_chars: int, timestamp_format: str | None = None
) -> DataFrame:
    """Add ``_reason``: NULL for a valid record, else the first problem found.

    Reasons: the reader's parse error (``invalid_json``, ``malformed_csv``),
    ``invalid_utf8``, ``missing_required:<field>``, ``bad_timestamp:<field>``,
    ``wrong_type:<field>``, ``oversized_text:<field>``.
    """
    checks: list[Column] = [
        F.col("_parse_error"),
        F.when(~F.is_valid_utf8(F.col("_raw")), F.lit("invalid_utf8")),  # U+FFFD itself is valid
    ]
    for field in schema.fields:
        if field.required:
            blank = F.col(field.name).isNull() | (F.trim(F.col(field.name)) == "")
            checks.append(F.when(blank, F.lit(f"missing_required:{field.name}")))
    for field in schema.fields:
        if field.type == "string":
            continue
        present = F.col(field.name).isNotNull() & (F.trim(F.col(field.name)) != "")
        failed = present & _typed(schema, field.name, timestamp_format).isNull()
        kind = "bad_timestamp" if field.type == "timestamp" else "wrong_type"
        checks.append(F.when(failed, F.lit(f"{kind}:{field.name}")))
    for field in schema.fields:
        if field.text:
            too_long = F.length(F.col(field.name)) > max_text_chars
            checks.append(F.when(too_long, F.lit(f"oversized_text:{field.name}")))
    return df.withColumn("_reason", F.coalesce(*checks))


def to_bronze(
    df: DataFrame,
    schema: SourceSchema,
    batch_id: str,
    ingested_at: datetime,
    timestamp_format: str | None = None,
) -> DataFrame:
    """Valid records with typed canonical columns and ingestion metadata."""
    columns = [_typed(schema, f.name, timestamp_format).alias(f.name) for f in schema.fields]
    return df.where(F.col("_reason").isNull()).select(
        *columns,
        F.col("_raw"),
        F.col("_source_file"),
        F.col("_source_version").cast("long").alias("_source_version"),
        F.lit(batch_id).alias("_batch_id"),
        F.lit(ingested_at).cast("timestamp").alias("_ingested_at"),
    )


def to_quarantine(df: DataFrame, source: str, batch_id: str, ingested_at: datetime) -> DataFrame:
    """Invalid records, kept whole, with their source, file and reason."""
    return df.where(F.col("_reason").isNotNull()).select(
        F.lit(source).alias("source"),
        F.col("_raw").alias("raw_record"),
        F.col("_source_file").alias("source_file"),
        F.col("_source_version").cast("long").alias("source_version"),
        F.col("_reason").alias("reason"),
        F.lit(batch_id).alias("batch_id"),
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
    )


def count_by_file(df: DataFrame) -> DataFrame:
    """Per source file (or version): landed, valid and quarantined record counts."""
    return df.groupBy("_source_file", "_source_version").agg(
        F.count(F.lit(1)).alias("landed"),
        F.count(F.when(F.col("_reason").isNull(), 1)).alias("bronze_rows"),
        F.count(F.when(F.col("_reason").isNotNull(), 1)).alias("quarantined_rows"),
    )
