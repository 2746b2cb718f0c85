"""voicelake forget: a customer's records leave every layer and every file of the lake."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from tests.conftest import write_jsonl
from voicelake.jobs.build_silver import build_silver
from voicelake.jobs.forget import forget
from voicelake.jobs.ingest import ingest
from voicelake.runtime import JobContext
from voicelake.schemas import QUARANTINE, SILVER_LABEL_FEEDBACK, SILVER_MESSAGE_EMOTIONS, SILVER_MESSAGES
from voicelake.secrets import pseudonym_key

GONE, KEPT = "C0000042", "C0000007"
GONE_MAIL = "zed.quinn@example.com"


def _history(landing: Path) -> None:
    tickets, comments, chats = [], [], []
    for cid, mail in ((GONE, GONE_MAIL), (KEPT, "kim.lee@example.com")):
        tickets.append({"ticket_id": f"T-{cid}", "customer_id": cid, "customer_email": mail,
                        "description": f"My router is broken, write to {mail}", "product": "Nimbus Router",
                        "created_at": "2026-01-05T09:00:00Z", "status": "solved"})
        comments.append({"comment_id": f"K-{cid}", "ticket_id": f"T-{cid}", "author_role": "agent",
                         "author_id": "A1", "created_at": "2026-01-05T10:00:00Z", "body": "Restart it please"})
        chats.append({"message_id": f"M-{cid}", "chat_id": f"CH-{cid}", "customer_id": cid,
                      "author_role": "customer", "sent_at": "2026-01-06T10:00:00Z", "text": "Still broken"})
    chats.append({"message_id": f"M-{GONE}-agent", "chat_id": f"CH-{GONE}", "customer_id": GONE, "agent_id": "A1",
                  "author_role": "agent", "sent_at": "2026-01-06T10:05:00Z", "text": "Sorry about that"})
    bad = f'{{"message_id": "M-bad", "chat_id": "CH-x", "customer_id": "{GONE}", "text": "cut'
    write_jsonl(landing / "tickets", "t.jsonl", tickets)
    write_jsonl(landing / "ticket_comments", "k.jsonl", comments)
    write_jsonl(landing / "chat_messages", "c.jsonl", [*chats, bad])


def _strings_in(path: Path) -> str:
    if path.suffix == ".parquet":
        return str(pq.read_table(path).to_pylist())
    return path.read_bytes().decode("utf-8", "replace")


@pytest.mark.scenario
def test_forget_removes_a_customer_from_every_file(ctx: JobContext) -> None:
    _history(Path(ctx.config.lake.landing))
    ingest(ctx)
    build_silver(ctx)
    messages = ctx.lake.read(SILVER_MESSAGES)
    ctx.lake.append(messages.select("message_id", "sent_date", F.lit("neutral").alias("label")),
                    SILVER_MESSAGE_EMOTIONS, partition_by=["sent_date"])
    ctx.lake.append(ctx.spark.createDataFrame([("f1", "Still broken", "frustration", f"chat:CH-{GONE}"),
                                               ("f2", "Still broken", "frustration", f"chat:CH-{KEPT}")],
                                              "feedback_id string, text string, label string, group_id string"),
                    SILVER_LABEL_FEEDBACK)
    gone_key = hmac.new(pseudonym_key(ctx.config), GONE.encode(), hashlib.sha256).hexdigest()[:32]
    kept_key = hmac.new(pseudonym_key(ctx.config), KEPT.encode(), hashlib.sha256).hexdigest()[:32]
    before = {r[0]: r[1] for r in messages.groupBy("customer_key").count().collect()}
    assert before[gone_key] == 4 and before[kept_key] == 3  # the pseudonyms are the ones silver used
    assert ctx.lake.read(QUARANTINE).where(F.col("raw_record").contains(GONE)).count() == 1

    result = forget(ctx, GONE)

    assert result.deleted == {"bronze.tickets": 1, "bronze.ticket_comments": 1, "bronze.chat_messages": 2,
                              QUARANTINE: 1, SILVER_MESSAGES: 4, "silver.conversations": 2,
                              SILVER_MESSAGE_EMOTIONS: 4, SILVER_LABEL_FEEDBACK: 1}
    assert [str(d) for d in result.gold_dates] == ["2026-01-05", "2026-01-06"]
    assert len(result.landing_files) == 3
    lake = Path(ctx.config.lake.root)
    files = [p for p in lake.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files) and any("_delta_log" in p.parts for p in files)
    leaks = [(str(p.relative_to(lake)), s) for p in files for s in (GONE, GONE_MAIL, gone_key)
             if s in _strings_in(p)]
    assert leaks == []
    after = {r[0]: r[1] for r in ctx.lake.read(SILVER_MESSAGES).groupBy("customer_key").count().collect()}
    assert after == {kept_key: 3}
    assert ctx.lake.read("bronze.tickets").select("customer_id").collect()[0][0] == KEPT
    assert ctx.lake.read(SILVER_MESSAGE_EMOTIONS).count() == 3
    assert ctx.lake.read(SILVER_LABEL_FEEDBACK).select("feedback_id").collect()[0][0] == "f2"
