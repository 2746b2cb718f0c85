"""Real-world exports onboard through the mapping file alone: a Twitter-style thread dump
(conf/examples/twitter_threads.yaml) and a ticket export without creation time or customer id."""

import csv
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from pyspark.sql import functions as F

from voicelake.jobs.build_silver import build_silver
from voicelake.jobs.ingest import ingest
from voicelake.lake import Lake
from voicelake.runtime import JobContext
from voicelake.schemas import QUARANTINE

CONF = Path(__file__).parents[2] / "conf"
HEADER = ["tweet_id", "author_id", "inbound", "created_at", "text", "response_tweet_id", "in_response_to_tweet_id"]
# three threads over two days; the root of the second (tweet 20) is not in the dump
TWEETS = [
    (1, "115712", True, "Tue Oct 31 22:10:47 +0000 2017", "@AppleSupport my phone keeps restarting", "2", ""),
    (2, "AppleSupport", False, "Tue Oct 31 22:15:02 +0000 2017", "@115712 sorry! Which iOS version?", "3", "1.0"),
    (3, "115712", True, "Wed Nov 01 08:01:10 +0000 2017", "@AppleSupport 11.1, still broken", "4", "2.0"),
    (4, "AppleSupport", False, "Wed Nov 01 08:20:00 +0000 2017", "@115712 let's take a look in DM", "", "3.0"),
    (21, "115713", True, "Wed Nov 01 09:00:00 +0000 2017", "@AppleSupport same here, battery dies", "22", "20.0"),
    (22, "AppleSupport", False, "Wed Nov 01 09:05:00 +0000 2017", "@115713 does a restart help?", "23", "21.0"),
    (23, "115713", True, "Wed Nov 01 09:30:00 +0000 2017", "@AppleSupport no it does not", "24", "22.0"),
    (24, "AppleSupport", False, "Wed Nov 01 09:40:00 +0000 2017", "@115713 please update to 11.1.1", "", "23.0"),
    (30, "115714", True, "Wed Nov 01 10:00:00 +0000 2017", "@AppleSupport thanks, the fix worked!", "31", ""),
    (31, "AppleSupport", False, "Wed Nov 01 10:02:00 +0000 2017", "@115714 glad to hear it", "32", "30.0"),
    (32, "115714", True, "Wed Nov 01 10:03:00 +0000 2017", "@AppleSupport you are the best", "33", "31.0"),
    (33, "AppleSupport", False, "Wed Nov 01 10:04:00 +0000 2017", "@115714 anytime", "", "32.0"),
]


def test_twitter_thread_dump_becomes_conversations(ctx: JobContext) -> None:
    config = replace(ctx.config, sources_mapping_file=str(CONF / "examples" / "twitter_threads.yaml"))
    c = JobContext(config, ctx.spark, Lake(ctx.spark, config))
    folder = Path(config.lake.landing) / "twitter"
    folder.mkdir(parents=True)
    with (folder / "twcs.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(TWEETS)

    [result] = ingest(c)
    assert (result.source, result.landed, result.bronze, result.quarantined) == ("social_posts", 12, 12, 0)
    build_silver(c)

    messages = c.lake.read("silver.messages").where(F.col("channel") == "social")
    got = {r["message_id"]: (r["conversation_id"], r["author_role"], r["customer_key"], r["sent_at"])
           for r in messages.collect()}
    roots = {1: 1, 2: 1, 3: 1, 4: 1, 21: 21, 22: 21, 23: 21, 24: 21, 30: 30, 31: 30, 32: 30, 33: 30}
    assert {m: v[0] for m, v in got.items()} == {f"social:{t}": f"social:{r}" for t, r in roots.items()}
    assert {m: v[1] for m, v in got.items()} == {
        f"social:{t[0]}": "customer" if t[2] else "agent" for t in TWEETS}
    assert got["social:1"][3] == datetime(2017, 10, 31, 22, 10, 47)
    # one customer per thread, carried to the agent's replies too
    keys = {root: {v[2] for m, v in got.items() if v[0] == f"social:{root}"} for root in (1, 21, 30)}
    assert all(len(k) == 1 and None not in k for k in keys.values())
    assert len(set().union(*keys.values())) == 3

    conversations = {r["conversation_id"]: r for r in c.lake.read("silver.conversations").collect()}
    assert sorted(conversations) == ["social:1", "social:21", "social:30"]
    first = conversations["social:1"]
    assert (first["message_count"], first["customer_message_count"], first["agent_message_count"]) == (4, 2, 2)
    assert first["customer_key"] == keys[1].pop()
    assert first["first_response_minutes"] == 4.25  # 22:10:47 -> 22:15:02


def test_ticket_export_without_created_time_or_customer_id_uses_fallbacks(ctx: JobContext, tmp_path: Path) -> None:
    mapping_file = tmp_path / "sources.yaml"
    mapping_file.write_text(
        'defaults: {timestamp_format: "dd/MM/yyyy HH:mm", csv: {delimiter: ";"}}\n'
        "sources:\n"
        "  tickets:\n"
        "    format: csv\n"
        "    path: helpdesk/tickets\n"
        '    columns: {ticket_id: "Ticket ID", customer_email: "Requester email", description: "Description",\n'
        '              first_response_at: "First reply", resolved_at: "Solved"}\n'
        "    fallbacks: {created_at: [first_response_at, resolved_at], customer_id: customer_email}\n")
    config = replace(ctx.config, sources_mapping_file=str(mapping_file))
    c = JobContext(config, ctx.spark, Lake(ctx.spark, config))
    folder = Path(config.lake.landing) / "helpdesk" / "tickets"
    folder.mkdir(parents=True)
    (folder / "export.csv").write_text(
        "Ticket ID;Requester email;Description;First reply;Solved\n"
        "HD-1;ann@example.com;It drops;05/01/2026 09:30;05/01/2026 12:00\n"
        "HD-2;bob@example.com;Slow;;06/01/2026 08:00\n"
        "HD-3;;No times;;\n")
    [result] = ingest(c)
    assert (result.landed, result.bronze, result.quarantined) == (3, 2, 1)
    rows = {r["ticket_id"]: (r["created_at"], r["customer_id"]) for r in c.lake.read("bronze.tickets").collect()}
    assert rows == {"HD-1": (datetime(2026, 1, 5, 9, 30), "ann@example.com"),
                    "HD-2": (datetime(2026, 1, 6, 8, 0), "bob@example.com")}
    [reason] = [r[0] for r in c.lake.read(QUARANTINE).select("reason").collect()]
    assert reason == "missing_required:customer_id"
