"""build-silver and build-gold with late, updated and deleted records (Delta on temp dirs)."""

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from tests.conftest import write_jsonl
from voicelake.jobs.build_gold import build_gold
from voicelake.jobs.build_silver import build_silver
from voicelake.jobs.ingest import ingest
from voicelake.lake import Lake
from voicelake.runtime import JobContext
from voicelake.schemas import GOLD_SERVICE_DAILY, SILVER_CONVERSATIONS, SILVER_MESSAGES

D, D1 = date(2026, 1, 5), date(2026, 1, 6)


def chat(mid: str, chat_id: str, role: str, sent_at: str) -> dict:
    return {"message_id": mid, "chat_id": chat_id, "customer_id": "C1", "author_role": role,
            "agent_id": "A1" if role == "agent" else None, "sent_at": sent_at, "text": f"{role} says hi",
            "product": "Atlas App"}


def conversations(ctx: JobContext) -> dict:
    return {r["conversation_id"]: r for r in ctx.lake.read(SILVER_CONVERSATIONS).collect()}


@pytest.mark.scenario
def test_late_records_and_replies_after_midnight_reach_silver_and_gold(ctx: JobContext) -> None:
    landing = Path(ctx.config.lake.landing) / "chat_messages"
    write_jsonl(landing, f"{D}.jsonl", [chat("m1", "c1", "customer", "2026-01-05T23:58:00Z")])
    ingest(ctx)
    build_silver(ctx, day=D)
    build_gold(ctx, day=D)
    c1 = conversations(ctx)["chat:c1"]
    # unanswered at the cut-off (D+1 00:00) but still within its 5-minute target: open
    assert (c1["first_response_censored"], c1["sla_breached"], c1["first_response_minutes"]) == (True, None, None)

    # next day: the reply after midnight, and a record of day D that landed late
    write_jsonl(landing, f"{D1}.jsonl", [chat("m2", "c1", "agent", "2026-01-06T00:10:00Z"),
                                         chat("m9", "c9", "customer", "2026-01-06T09:00:00Z")])
    write_jsonl(landing, f"{D1}.late-from-{D}.jsonl", [chat("m3", "c2", "customer", "2026-01-05T15:00:00Z")])
    ingest(ctx)
    result = build_silver(ctx, day=D1)
    assert result.late_dates == [D]
    conv = conversations(ctx)
    assert (conv["chat:c1"]["first_response_minutes"], conv["chat:c1"]["sla_breached"]) == (12.0, True)
    assert (conv["chat:c2"]["first_response_censored"], conv["chat:c2"]["sla_breached"]) == (True, True)
    assert conv["chat:c1"]["opened_date"] == conv["chat:c2"]["opened_date"] == D
    assert ctx.lake.read(SILVER_MESSAGES).where(F.col("sent_date") == D).count() == 2

    build_gold(ctx, day=D1)  # gold for D is rebuilt too: silver changed it
    gold = {(r["date"], r["channel"]): r for r in ctx.lake.read(GOLD_SERVICE_DAILY).collect()}
    assert (gold[(D, "chat")]["conversations"], gold[(D, "chat")]["unanswered"],
            gold[(D, "chat")]["sla_breaches"]) == (2, 1, 2)
    assert gold[(D1, "chat")]["conversations"] == 1


@pytest.mark.scenario
def test_change_feed_versions_and_deletes_reach_silver(ctx: JobContext, tmp_path: Path) -> None:
    source = str(tmp_path / "helpdesk_tickets")
    schema = "ticket_id string, customer_id string, status string, description string, created_at timestamp"
    rows = [("T1", "C1", "open", "help", datetime(2026, 1, 5, 9)),
            ("T2", "C2", "open", "broken", datetime(2026, 1, 5, 10))]
    spark = ctx.spark
    (spark.createDataFrame(rows, schema).write.format("delta")
     .option("delta.enableChangeDataFeed", "true").save(source))
    mapping_file = tmp_path / "sources.yaml"
    mapping_file.write_text(yaml.safe_dump({"sources": {"tickets": {"format": "delta", "path": source}}}))
    config = replace(ctx.config, sources_mapping_file=str(mapping_file))
    c = JobContext(config, spark, Lake(spark, config))
    ingest(c)
    build_silver(c, day=D)
    assert set(conversations(c)) == {"ticket:T1", "ticket:T2"}

    table = f"delta.`{source}`"
    spark.sql(f"DELETE FROM {table} WHERE ticket_id = 'T1'")
    spark.sql(f"UPDATE {table} SET status = 'pending' WHERE ticket_id = 'T2'")
    spark.sql(f"UPDATE {table} SET status = 'solved' WHERE ticket_id = 'T2'")
    ingest(c)  # one read holding two versions of T2 and the delete of T1
    build_silver(c, day=D)
    conv = conversations(c)
    assert set(conv) == {"ticket:T2"} and conv["ticket:T2"]["status"] == "solved"
    assert [r[0] for r in c.lake.read(SILVER_MESSAGES).select("message_id").collect()] == ["ticket:T2:description"]


def test_a_date_with_nothing_to_write_reports_zero_rows(shared_lake, spark, tmp_path: Path) -> None:
    config = shared_lake.copy(tmp_path / "home")
    lake_ctx = JobContext(config, spark, Lake(spark, config))
    result = build_silver(lake_ctx, day=date(2025, 6, 1))  # long before the shared history
    assert (result.messages, result.conversations) == (0, 0)
    assert lake_ctx.lake.read(SILVER_MESSAGES).count() > 0  # the other dates are untouched


def test_a_generated_delta_source_is_ingested_through_its_change_feed(ctx: JobContext, tmp_path: Path) -> None:
    from voicelake.generator import GeneratorSettings, generate_history
    from voicelake.generator.delta_source import write_delta_source

    landing = Path(ctx.config.lake.landing)
    summary = generate_history(GeneratorSettings(days=2, customers=40, seed=3, start=D, landing=landing,
                                                 answers=tmp_path / "answers.json", workers=1, late_rate=0.3))
    target = str(tmp_path / "sources" / "chat_messages")
    files = sorted(p.name for p in (landing / "chat_messages").glob("*.jsonl"))
    rows, skipped = write_delta_source(ctx.spark, landing, "chat_messages", target)
    assert rows == summary["records"]["chat_messages"] and skipped == 0
    assert not list((landing / "chat_messages").glob("*.jsonl"))  # moved out of the landing zone
    assert ctx.spark.sql(f"describe history delta.`{target}`").count() == len(files)  # a version per file
    mapping_file = tmp_path / "sources.yaml"
    mapping_file.write_text(yaml.safe_dump({"sources": {"chat_messages": {"format": "delta", "path": target}}}))
    c = JobContext(replace(ctx.config, sources_mapping_file=str(mapping_file)), ctx.spark, ctx.lake)
    results = {r.source: r for r in ingest(c)}
    assert results["chat_messages"].bronze == rows and results["chat_messages"].reconciled
    assert c.lake.read("bronze.chat_messages").select("message_id").distinct().count() == rows
