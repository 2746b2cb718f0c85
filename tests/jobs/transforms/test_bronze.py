from datetime import datetime

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from voicelake.jobs.transforms.bronze import count_by_file, flag_invalid_records, to_bronze, to_quarantine
from voicelake.schemas import SOURCES

REVIEWS = SOURCES["reviews"]
GOOD = {"review_id": "R1", "customer_id": "C1", "product": "Atlas App", "product_version": "5.0",
        "rating": "4", "title": "Nice", "body": "Works well", "created_at": "2026-01-02T10:00:00Z"}


def raw_reviews(spark: SparkSession, rows: list[dict], parse_error: str | None = None) -> DataFrame:
    cols = REVIEWS.field_names + ["_raw", "_source_file", "_source_version", "_parse_error"]
    data = [tuple([r.get(c) for c in REVIEWS.field_names]
                  + [r.get("_raw", "raw"), "f.csv", None, r.get("_parse_error", parse_error)])
            for r in rows]
    schema = ", ".join(f"`{c}` string" for c in cols).replace("`_source_version` string",
                                                                "`_source_version` long")
    return spark.createDataFrame(data, schema)


@pytest.mark.parametrize("change, reason", [
    ({}, None),
    ({"_parse_error": "malformed_csv"}, "malformed_csv"),
    ({"_parse_error": "invalid_utf8"}, "invalid_utf8"),  # the reader saw invalid bytes
    ({"_raw": "caf\ufffd"}, None),  # U+FFFD in valid text is a character, not an encoding error
    ({"review_id": None}, "missing_required:review_id"),
    ({"review_id": "  "}, "missing_required:review_id"),
    ({"created_at": "last tuesday"}, "bad_timestamp:created_at"),
    ({"rating": "five"}, "wrong_type:rating"),
    ({"body": "x" * 101}, "oversized_text:body"),
    ({"product_version": None, "title": None}, None),  # optional fields may be missing
])
def test_each_problem_gets_its_reason(spark: SparkSession, change: dict, reason: str | None) -> None:
    df = flag_invalid_records(raw_reviews(spark, [{**GOOD, **change}]), REVIEWS, max_text_chars=100)
    assert df.select("_reason").first()[0] == reason


def test_first_problem_wins(spark: SparkSession) -> None:
    df = flag_invalid_records(raw_reviews(spark, [{**GOOD, "review_id": None, "rating": "x"}]),
                              REVIEWS, max_text_chars=100)
    assert df.select("_reason").first()[0] == "missing_required:review_id"


def test_custom_timestamp_format(spark: SparkSession) -> None:
    row = {**GOOD, "created_at": "02/01/2026 10:00"}
    flagged = flag_invalid_records(raw_reviews(spark, [row]), REVIEWS, 100, "dd/MM/yyyy HH:mm")
    bronze = to_bronze(flagged, REVIEWS, "b1", datetime(2026, 1, 3), "dd/MM/yyyy HH:mm")
    assert bronze.select("created_at").first()[0] == datetime(2026, 1, 2, 10, 0)


def test_valid_and_invalid_rows_split_and_reconcile(spark: SparkSession) -> None:
    raw = raw_reviews(spark, [GOOD, {**GOOD, "review_id": "R2", "rating": "lots"}])
    flagged = flag_invalid_records(raw, REVIEWS, 100)
    now = datetime(2026, 1, 3, 12, 0)
    bronze = to_bronze(flagged, REVIEWS, "b1", now)
    quarantine = to_quarantine(flagged, "reviews", "b1", now)
    assertDataFrameEqual(
        bronze.select("review_id", "rating", "created_at", "_batch_id", "_ingested_at"),
        [("R1", 4, datetime(2026, 1, 2, 10, 0), "b1", now)])
    assertDataFrameEqual(
        quarantine.select("source", "raw_record", "source_file", "reason", "batch_id"),
        [("reviews", "raw", "f.csv", "wrong_type:rating", "b1")])
    counts = count_by_file(flagged).select("_source_file", "landed", "bronze_rows", "quarantined_rows")
    assertDataFrameEqual(counts, [("f.csv", 2, 1, 1)])
