"""In-process pipeline from generated landing files to gold, on the run's shared generated lake
(tests/conftest.py `shared_lake`) and the test Spark session."""

import statistics
from datetime import date

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from tests.conftest import SharedLake
from voicelake.jobs.build_gold import build_gold
from voicelake.jobs.build_silver import build_silver
from voicelake.jobs.ingest import ingest
from voicelake.lake import Lake
from voicelake.runtime import JobContext
from voicelake.schemas import QUARANTINE

MESSAGE_SOURCES = ("ticket_comments", "chat_messages", "emails", "call_utterances", "social_posts")


@pytest.fixture(scope="module")
def pipeline(spark: SparkSession, shared_lake: SharedLake, tmp_path_factory: pytest.TempPathFactory):
    """The shared generated lake (ingested, silver built), copied because these tests write,
    plus gold."""
    config = shared_lake.copy(tmp_path_factory.mktemp("pipeline") / "home")
    ctx = JobContext(config, spark, Lake(spark, config))
    build_gold(ctx)
    return ctx, shared_lake.results, shared_lake.answers


def test_ingestion_matches_the_generator(pipeline) -> None:
    ctx, results, answers = pipeline
    by_source = {r.source: r for r in results}
    for source, n in answers["records"].items():
        planted = sum(answers["malformed"].get(source, {}).values())
        assert by_source[source].landed == n
        assert by_source[source].quarantined == planted
        assert by_source[source].bronze == n - planted


def test_every_valid_message_reaches_silver(pipeline) -> None:
    ctx, _, _ = pipeline
    lake = ctx.lake
    expected = sum(lake.read(f"bronze.{s}").count() for s in MESSAGE_SOURCES)
    expected += lake.read("bronze.tickets").where(F.trim("description") != "").count()
    expected += lake.read("bronze.reviews").count()
    expected += lake.read("bronze.surveys").where(F.trim("verbatim") != "").count()
    messages = lake.read("silver.messages")
    assert messages.count() == expected
    assert messages.select("message_id").distinct().count() == expected


def test_no_planted_pii_reaches_silver(pipeline) -> None:
    ctx, _, _ = pipeline
    bronze_text = " ".join(r[0] for r in ctx.lake.read("bronze.chat_messages").select("text").collect()
                           + ctx.lake.read("bronze.emails").select("body").collect()
                           + ctx.lake.read("bronze.tickets").select("description").collect())
    assert "@example.com" in bronze_text and "4539 1488 0343 6467" in bronze_text  # planted
    silver = ctx.lake.read("silver.messages")
    leaks = silver.where(F.col("text").rlike(r"@example\.com|4539 1488|DE89 3704|\+49 30 \d"))
    assert leaks.count() == 0
    assert silver.where(F.col("text").contains("[EMAIL]")).count() > 0
    ids = {r[0] for r in silver.select("customer_key").distinct().collect()}
    assert not any(i and i.startswith("C0") for i in ids)


def test_rebuilding_is_idempotent(pipeline) -> None:
    ctx, _, _ = pipeline
    before_m = ctx.lake.read("silver.messages").collect()
    before_c = ctx.lake.read("silver.conversations").collect()
    before_g = ctx.lake.read("gold.service_daily").collect()
    day = date(2026, 3, 4)
    build_silver(ctx, day)  # one date
    build_silver(ctx)  # everything again
    build_gold(ctx, day)
    assertDataFrameEqual(ctx.lake.read("silver.messages"), before_m)
    assertDataFrameEqual(ctx.lake.read("silver.conversations"), before_c)
    assertDataFrameEqual(ctx.lake.read("gold.service_daily"), before_g)
    assert ingest(ctx)[0].landed == 0  # nothing is ingested twice


def test_gold_adds_up_to_silver(pipeline) -> None:
    ctx, _, _ = pipeline
    gold = ctx.lake.read("gold.service_daily").agg(F.sum("conversations"), F.sum("messages")).first()
    assert gold[0] == ctx.lake.read("silver.conversations").count()
    assert gold[1] == ctx.lake.read("silver.messages").count()
    assert ctx.lake.read("gold.service_daily").where(F.col("product").isNull()).count() == 0


def test_planted_incident_shows_as_a_complaint_spike(pipeline) -> None:
    ctx, _, answers = pipeline
    incident = answers["scenarios"]["incident"]
    per_day = {r["date"]: r["n"] for r in ctx.lake.read("gold.service_daily")
               .where(F.col("product") == incident["product"])
               .groupBy("date").agg(F.sum("conversations").alias("n")).collect()}
    spike = per_day.pop(date.fromisoformat(incident["spike_dates"][0]))
    assert spike > 2 * statistics.median(per_day.values())


def test_slow_queue_answers_slower(pipeline) -> None:
    ctx, _, answers = pipeline
    queue = answers["scenarios"]["slow_queue"]["queue"]
    medians = {r["queue"]: r["m"] for r in ctx.lake.read("silver.conversations")
               .where(F.col("channel") == "chat")
               .groupBy("queue").agg(F.median("first_response_minutes").alias("m")).collect()}
    assert medians[queue] > 2 * max(v for k, v in medians.items() if k != queue)


def test_quarantine_is_partitioned_by_source(pipeline) -> None:
    ctx, _, _ = pipeline
    sources = {r[0] for r in ctx.lake.read(QUARANTINE).select("source").distinct().collect()}
    assert sources and sources <= set(r.source for r in pipeline[1])
