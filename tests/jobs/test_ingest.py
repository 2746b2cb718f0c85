import json
import os
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tests.conftest import make_config, write_jsonl
from voicelake.jobs.ingest import IngestResult, format_results, ingest
from voicelake.lake import Lake
from voicelake.lease import LeaseHeld, Leases
from voicelake.runtime import JobContext
from voicelake.schemas import INGEST_LOG, QUARANTINE


def chat(i: int, **change: object) -> dict:
    rec = {"message_id": f"m{i}", "chat_id": "c1", "customer_id": "C1", "author_role": "customer",
           "sent_at": "2026-01-05T10:00:00Z", "text": f"hello {i}", "product": "Atlas App"}
    rec.update(change)
    return rec


def call(i: int, **change: object) -> dict:
    rec = {"utterance_id": f"u{i}", "call_id": "k1", "speaker": "agent",
           "call_started_at": "2026-01-05T10:00:00Z", "start_offset_s": 1.5, "text": "hi"}
    rec.update(change)
    return rec


MALFORMED = {
    "invalid_json": ("chat_messages", '{"message_id": "m90", "chat_id": "c1", "text": "cut of'),
    "not_an_object": ("chat_messages", "[1, 2, 3]"),
    "missing_required": ("chat_messages", chat(91, message_id=None)),
    "bad_timestamp": ("chat_messages", chat(92, sent_at="yesterday afternoon")),
    "wrong_type": ("call_utterances", call(93, start_offset_s="five")),
    "invalid_utf8": ("chat_messages", b'{"message_id": "m94", "chat_id": "c1", "author_role": '
                                      b'"customer", "sent_at": "2026-01-05T10:00:00Z", "text": "caf\xe9"}'),
    "oversized_text": ("chat_messages", chat(95, text="x" * 20001)),
    "malformed_csv": ("reviews", None),
}
EXPECTED_REASON = {
    "invalid_json": "invalid_json", "not_an_object": "invalid_json",
    "missing_required": "missing_required:message_id", "bad_timestamp": "bad_timestamp:sent_at",
    "wrong_type": "wrong_type:start_offset_s", "invalid_utf8": "invalid_utf8",
    "oversized_text": "oversized_text:text", "malformed_csv": "malformed_csv",
}


@pytest.fixture(scope="module")
def malformed_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory):
    """One ingestion of two good records per source plus one record of every bad kind."""
    config = make_config(tmp_path_factory.mktemp("malformed"))
    landing = Path(config.lake.landing)
    chats: list = [chat(1), chat(2)]
    calls: list = [call(1), call(2)]
    for _kind, (source, record) in MALFORMED.items():
        if source == "chat_messages":
            chats.append(record)
        elif source == "call_utterances":
            calls.append(record)
    write_jsonl(landing / "chat_messages", "day1.jsonl", chats)
    write_jsonl(landing / "call_utterances", "day1.jsonl", calls)
    (landing / "reviews").mkdir(parents=True)
    (landing / "reviews" / "day1.csv").write_text(
        "review_id,customer_id,product,product_version,rating,title,body,created_at\n"
        "R1,C1,Atlas App,5.0,5,Great,\"Love it, really\",2026-01-05T09:00:00Z\n"
        "R2,C2,Atlas App,5.0,2\n")
    ctx = JobContext(config, spark, Lake(spark, config))
    results = {r.source: r for r in ingest(ctx)}
    return ctx, results


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_record_lands_in_quarantine_with_reason(malformed_run, kind: str) -> None:
    ctx, _ = malformed_run
    source = MALFORMED[kind][0]
    reasons = [r[0] for r in ctx.lake.read(QUARANTINE).where(F.col("source") == source)
               .select("reason").collect()]
    assert EXPECTED_REASON[kind] in reasons
    row = ctx.lake.read(QUARANTINE).where(F.col("reason") == EXPECTED_REASON[kind]).first()
    assert row["raw_record"] and row["source_file"].endswith(("day1.jsonl", "day1.csv"))


def test_counts_reconcile_per_source(malformed_run) -> None:
    ctx, results = malformed_run
    assert results["chat_messages"] == IngestResult("chat_messages", 1, 8, 2, 6)
    assert results["call_utterances"] == IngestResult("call_utterances", 1, 3, 2, 1)
    assert results["reviews"] == IngestResult("reviews", 1, 2, 1, 1)
    for source, result in results.items():
        if result.landed:
            bronze = ctx.lake.read(f"bronze.{source}").count()
            quarantined = ctx.lake.read(QUARANTINE).where(F.col("source") == source).count()
            assert result.landed == bronze + quarantined


def test_bronze_keeps_raw_record_and_metadata(malformed_run) -> None:
    ctx, _ = malformed_run
    row = ctx.lake.read("bronze.reviews").first()
    assert row["review_id"] == "R1" and row["rating"] == 5 and row["body"] == "Love it, really"
    assert '"body":"Love it, really"' in row["_raw"]
    assert row["_source_file"].endswith("reviews/day1.csv") and row["_batch_id"]
    assert isinstance(row["_ingested_at"], datetime)


def test_files_are_ingested_once(ctx: JobContext) -> None:
    landing = Path(ctx.config.lake.landing) / "chat_messages"
    write_jsonl(landing, "a.jsonl", [chat(1), chat(2)])
    first = ingest(ctx, ["chat_messages"])
    again = ingest(ctx, ["chat_messages"])
    write_jsonl(landing, "b.jsonl", [chat(3)])
    third = ingest(ctx, ["chat_messages"])
    assert [first[0].landed, again[0].landed, third[0].landed] == [2, 0, 1]
    assert ctx.lake.read("bronze.chat_messages").count() == 3
    assert ctx.lake.read(INGEST_LOG).count() == 2


def test_unfinished_batch_is_rolled_back_before_reingesting(ctx: JobContext) -> None:
    landing = Path(ctx.config.lake.landing) / "chat_messages"
    write_jsonl(landing, "a.jsonl", [chat(1), chat(2)])
    ingest(ctx, ["chat_messages"])
    write_jsonl(landing, "b.jsonl", [chat(3)])
    # a crashed run: rows appended with their batch tag, but the log never written
    orphan = ctx.lake.read("bronze.chat_messages").limit(1).withColumn("_batch_id", F.lit("crashed"))
    ctx.lake.append(orphan, "bronze.chat_messages", commit_tag="crashed")
    assert ctx.lake.read("bronze.chat_messages").count() == 3
    ingest(ctx, ["chat_messages"])
    ids = sorted(r[0] for r in ctx.lake.read("bronze.chat_messages").select("message_id").collect())
    assert ids == ["m1", "m2", "m3"]


def test_mapping_file_ingests_an_export_with_other_names(ctx: JobContext, tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "conf" / "examples" / "helpdesk_export.yaml"
    mapping = yaml.safe_load(example.read_text())
    mapping_file = tmp_path / "sources.yaml"
    mapping_file.write_text(yaml.safe_dump(mapping))
    config = replace(ctx.config, sources_mapping_file=str(mapping_file))
    folder = Path(config.lake.landing) / "helpdesk" / "tickets"
    folder.mkdir(parents=True)
    (folder / "export.csv").write_text(
        "Ticket ID;Requester ID;Subject;Description;Status;Group;Product;Created;First reply;Solved;SLA (min)\n"
        "HD-1;U7;Router;It drops;solved;technical;Nimbus Router;05/01/2026 09:00;05/01/2026 09:30;"
        "05/01/2026 12:00;60\n")
    ctx2 = JobContext(config, ctx.spark, Lake(ctx.spark, config))
    [result] = ingest(ctx2)
    assert (result.landed, result.bronze, result.quarantined) == (1, 1, 0)
    row = ctx2.lake.read("bronze.tickets").first()
    assert (row["ticket_id"], row["customer_id"], row["queue"], row["sla_minutes"]) == ("HD-1", "U7", "technical", 60)
    assert row["created_at"] == datetime(2026, 1, 5, 9, 0)
    assert row["first_response_at"] == datetime(2026, 1, 5, 9, 30)


def test_delta_table_source_is_read_incrementally(ctx: JobContext, tmp_path: Path) -> None:
    source_path = str(tmp_path / "crm_incidents")
    schema = "id string, product string, severity string, started timestamp, ended timestamp, title string"
    rows = [("I1", "Orbit Cloud", "SEV1", datetime(2026, 1, 5, 9), None, "down")]
    (ctx.spark.createDataFrame(rows, schema).write.format("delta")
     .option("delta.enableChangeDataFeed", "true").save(source_path))
    mapping_file = tmp_path / "sources.yaml"
    mapping_file.write_text(yaml.safe_dump({"sources": {"incidents": {
        "format": "delta", "path": source_path,
        "columns": {"incident_id": "id", "started_at": "started", "ended_at": "ended"}}}}))
    config = replace(ctx.config, sources_mapping_file=str(mapping_file))
    c = JobContext(config, ctx.spark, Lake(ctx.spark, config))

    first = ingest(c)[0]
    more = [("I2", "Atlas App", "SEV3", datetime(2026, 1, 6, 9), None, "slow"),
            ("I3", None, "SEV2", datetime(2026, 1, 6, 10), None, "no product")]
    ctx.spark.createDataFrame(more, schema).write.format("delta").mode("append").save(source_path)
    second = ingest(c)[0]
    third = ingest(c)[0]
    assert (first.landed, second.landed, third.landed) == (1, 2, 0)
    assert (second.bronze, second.quarantined) == (1, 1)
    ids = sorted(r[0] for r in c.lake.read("bronze.incidents").select("incident_id").collect())
    assert ids == ["I1", "I2"]
    versions = sorted(r[0] for r in c.lake.read(INGEST_LOG).select("source_version").collect())
    assert versions == [0, 1]


REVIEW_HEADER = "review_id,customer_id,product,product_version,rating,title,body,created_at"


def reviews_in_bronze(ctx: JobContext) -> dict[str, tuple]:
    rows = ctx.lake.read("bronze.reviews").collect()
    return {r["review_id"]: (r["product"], r["product_version"], r["rating"], r["body"]) for r in rows}


def test_csv_columns_are_matched_by_each_files_header(ctx: JobContext) -> None:
    folder = Path(ctx.config.lake.landing) / "reviews"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text(f"{REVIEW_HEADER}\nR1,C1,Atlas App,5.0,5,t,good,2026-01-05T09:00:00Z\n")
    (folder / "b.csv").write_text(  # same columns, another order: product and version swapped
        "review_id,customer_id,product_version,product,created_at,body,title,rating\r\n"
        "R2,C2,6.1,Orbit Cloud,2026-01-05T10:00:00Z,bad,t,1\r\n")
    [result] = ingest(ctx, ["reviews"])
    assert (result.units, result.landed, result.bronze, result.quarantined) == (2, 2, 2, 0)
    assert reviews_in_bronze(ctx) == {"R1": ("Atlas App", "5.0", 5, "good"), "R2": ("Orbit Cloud", "6.1", 1, "bad")}


def test_empty_and_header_only_csv_files_are_logged_with_zero_records(ctx: JobContext) -> None:
    folder = Path(ctx.config.lake.landing) / "reviews"
    folder.mkdir(parents=True)
    (folder / "a_empty.csv").write_bytes(b"")
    (folder / "b_header_only.csv").write_text(REVIEW_HEADER + "\n")
    (folder / "c.csv").write_text(f"{REVIEW_HEADER}\nR1,C1,Atlas App,5.0,5,t,good,2026-01-05T09:00:00Z\n")
    [first] = ingest(ctx, ["reviews"])
    [again] = ingest(ctx, ["reviews"])  # the empty files are not new any more
    assert (first.units, first.landed, first.bronze) == (3, 1, 1)
    assert (again.units, again.landed) == (0, 0)
    logged = {Path(r["source_file"]).name: r["landed"] for r in ctx.lake.read(INGEST_LOG).collect()}
    assert logged == {"a_empty.csv": 0, "b_header_only.csv": 0, "c.csv": 1}


def test_unknown_file_extensions_are_reported_not_skipped_silently(ctx: JobContext) -> None:
    folder = Path(ctx.config.lake.landing) / "chat_messages"
    write_jsonl(folder, "a.jsonl", [chat(1)])
    (folder / "export.txt").write_text(json.dumps(chat(2)) + "\n")
    [result] = ingest(ctx, ["chat_messages"])
    assert result.landed == 1 and [Path(f).name for f in result.unknown_files] == ["export.txt"]
    assert "unknown file extension" in format_results([result]) and "export.txt" in format_results([result])


def test_a_file_relanded_under_the_same_name_is_reported_not_read_twice(ctx: JobContext) -> None:
    folder = Path(ctx.config.lake.landing) / "chat_messages"
    path = write_jsonl(folder, "day.jsonl", [chat(1)])
    [first] = ingest(ctx, ["chat_messages"])
    assert first.landed == 1 and first.changed_files == ()
    write_jsonl(folder, "day.jsonl", [chat(1), chat(2)])  # a corrected export, same name
    later = time.time() + 120
    os.utime(path, (later, later))
    [second] = ingest(ctx, ["chat_messages"])
    assert second.landed == 0 and [Path(f).name for f in second.changed_files] == ["day.jsonl"]
    assert "modified after it was ingested" in format_results([second])
    assert ctx.lake.read("bronze.chat_messages").count() == 1


def test_odd_encodings_are_decoded_or_quarantined_as_invalid_utf8(ctx: JobContext) -> None:
    landing = Path(ctx.config.lake.landing)
    (landing / "chat_messages").mkdir(parents=True)
    (landing / "reviews").mkdir(parents=True)
    (landing / "chat_messages" / "bom8.jsonl").write_bytes(b"\xef\xbb\xbf" + json.dumps(chat(1)).encode() + b"\r\n")
    (landing / "chat_messages" / "utf16.jsonl").write_bytes(
        (json.dumps(chat(2, text="caf\u00e9 \ufffd ok"), ensure_ascii=False) + "\r\n").encode("utf-16"))
    (landing / "chat_messages" / "latin1.jsonl").write_bytes(
        json.dumps(chat(3, text="caf\u00e9"), ensure_ascii=False).encode("latin-1") + b"\n")
    (landing / "reviews" / "utf16.csv").write_bytes(
        f"{REVIEW_HEADER}\r\nR1,C1,Atlas App,5.0,5,t,caf\u00e9,2026-01-05T09:00:00Z\r\n".encode("utf-16"))
    (landing / "reviews" / "bom8.csv").write_bytes(
        f"\ufeff{REVIEW_HEADER}\nR2,C1,Atlas App,5.0,4,t,\ufffd kept,2026-01-05T09:00:00Z\n".encode())
    (landing / "reviews" / "latin1.csv").write_bytes(
        f"{REVIEW_HEADER}\nR3,C1,Atlas App,5.0,4,t,caf\u00e9,2026-01-05T09:00:00Z\n".encode("latin-1"))
    results = {r.source: r for r in ingest(ctx, ["chat_messages", "reviews"])}
    assert (results["chat_messages"].bronze, results["chat_messages"].quarantined) == (2, 1)
    assert (results["reviews"].bronze, results["reviews"].quarantined) == (2, 1)
    texts = {r["message_id"]: r["text"] for r in ctx.lake.read("bronze.chat_messages").collect()}
    assert texts == {"m1": "hello 1", "m2": "caf\u00e9 \ufffd ok"}
    assert reviews_in_bronze(ctx) == {"R1": ("Atlas App", "5.0", 5, "caf\u00e9"),
                                      "R2": ("Atlas App", "5.0", 4, "\ufffd kept")}
    reasons = {Path(r["source_file"]).name: r["reason"] for r in ctx.lake.read(QUARANTINE).collect()}
    assert reasons == {"latin1.jsonl": "invalid_utf8", "latin1.csv": "invalid_utf8"}


def test_integers_written_as_whole_floats_are_accepted(ctx: JobContext) -> None:
    folder = Path(ctx.config.lake.landing) / "reviews"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text(f"{REVIEW_HEADER}\nR1,C1,Atlas App,5.0,4.0,t,ok,2026-01-05T09:00:00Z\n"
                                  "R2,C1,Atlas App,5.0,4.5,t,ok,2026-01-05T09:00:00Z\n"
                                  "R3,C1,Atlas App,5.0,1e30,t,ok,2026-01-05T09:00:00Z\n")
    ingest(ctx, ["reviews"])
    assert {k: v[2] for k, v in reviews_in_bronze(ctx).items()} == {"R1": 4}
    reasons = sorted(r["reason"] for r in ctx.lake.read(QUARANTINE).collect())
    assert reasons == ["wrong_type:rating", "wrong_type:rating"]


def test_an_overlapping_run_is_refused_and_leaves_in_flight_rows_alone(ctx: JobContext) -> None:
    landing = Path(ctx.config.lake.landing) / "chat_messages"
    write_jsonl(landing, "a.jsonl", [chat(1)])
    ingest(ctx, ["chat_messages"])
    leases = Leases(ctx.spark, ctx.config.lake.root)
    first = leases.acquire("ingest", "run-a")  # a live run (this process) holds the lease ...
    in_flight = ctx.lake.read("bronze.chat_messages").withColumn("_batch_id", F.lit("run-a"))
    ctx.lake.append(in_flight, "bronze.chat_messages", commit_tag="run-a")  # ... and has appended
    with pytest.raises(LeaseHeld, match="another ingest run \\(run-a"):
        ingest(ctx, ["chat_messages"])
    assert ctx.lake.read("bronze.chat_messages").where(F.col("_batch_id") == "run-a").count() == 1
    leases.release(first)


def test_a_dead_runs_lease_is_taken_over_and_its_rows_rolled_back(ctx: JobContext) -> None:
    landing = Path(ctx.config.lake.landing) / "chat_messages"
    write_jsonl(landing, "a.jsonl", [chat(1)])
    ingest(ctx, ["chat_messages"])
    leases = Leases(ctx.spark, ctx.config.lake.root)
    leases.acquire("ingest", "expired", ttl=timedelta(seconds=-1))  # its run stopped renewing it
    dead = ctx.lake.read("bronze.chat_messages").withColumn("_batch_id", F.lit("expired"))
    ctx.lake.append(dead, "bronze.chat_messages", commit_tag="expired")
    ingest(ctx, ["chat_messages"])
    assert [r[0] for r in ctx.lake.read("bronze.chat_messages").select("_batch_id").collect()] != ["expired"]
    assert ctx.lake.read("bronze.chat_messages").count() == 1
    assert leases.read("ingest") is None  # released after the run
