from datetime import date, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType
from pyspark.testing import assertDataFrameEqual

from voicelake.jobs.transforms.silver import (
    build_silver_conversations,
    build_silver_messages,
    detect_language,
    latest_records,
    normalise_role,
    redact_pii,
    unify_messages,
)
from voicelake.schemas import SOURCES, SPARK_TYPES

KEY = b"test-key"


def source_frame(spark: SparkSession, source: str, rows: list[dict]) -> DataFrame:
    """Bronze-shaped rows of a source: typed canonical columns, missing ones NULL."""
    schema = SOURCES[source]
    fields = [StructField(f.name, SPARK_TYPES[f.type]) for f in schema.fields]
    fields += [StructField("_ingested_at", SPARK_TYPES["timestamp"]),
               StructField("_source_file", SPARK_TYPES["string"]),
               StructField("_source_version", LongType()),
               StructField("_raw", SPARK_TYPES["string"])]
    data = [tuple(r.get(f.name) for f in fields) for r in rows]
    return spark.createDataFrame(data, StructType(fields))


def sources(spark: SparkSession, **given: list[dict]) -> dict[str, DataFrame]:
    return {name: source_frame(spark, name, given.get(name, [])) for name in SOURCES}


REDACTIONS = [
    ("mail me at anna.keller7@example.com please", "mail me at [EMAIL] please"),
    ("call +49 30 1234567 now", "call [PHONE] now"),
    ("or (555) 123-4567", "or [PHONE]"),
    ("card 4539 1488 0343 6467 charged", "card [CARD] charged"),
    ("card 4539148803436467", "card [CARD]"),
    ("IBAN DE89 3704 0044 0532 0130 00 thanks", "IBAN [IBAN] thanks"),
    ("order 123456 from 2026-01-03 at 10:30", "order 123456 from 2026-01-03 at 10:30"),
    ("version 3.2 costs 49.99", "version 3.2 costs 49.99"),
    # the planted failures of issue 9
    ("Hi Bob, call 5551234567", "Hi [PERSON], call [PHONE]"),
    ("+447946095812 or 07946 095812", "[PHONE] or [PHONE]"),
    ("iban de89 3704 0044 0532 0130 00", "iban [IBAN]"),
    ("ship to 12 Oak Avenue please", "ship to [ADDRESS] please"),
    ("order 4539148803436468 is late", "order 4539148803436468 is late"),
    ("host 192.168.1.200 is down", "host [IP] is down"),
    ("the router is broken", "the router is broken"),
    (None, None),
]


def test_redact_pii(spark: SparkSession) -> None:
    df = spark.createDataFrame([(i, t) for i, (t, _) in enumerate(REDACTIONS)], "i int, t string")
    got = [r[0] for r in df.select(redact_pii(F.col("t"))).orderBy("i").collect()]
    assert got == [expected for _, expected in REDACTIONS]


def test_normalise_role(spark: SparkSession) -> None:
    df = spark.createDataFrame([(r,) for r in ["Customer", " agent ", "BOT", "Requester", "other"]],
                               "r string")
    assert [r[0] for r in df.select(normalise_role(F.col("r"))).collect()] == [
        "customer", "agent", "bot", "customer", "other"]


def test_detect_language(spark: SparkSession) -> None:
    texts = ["The router is not working and I want my money back",
             "Der Router funktioniert nicht und ich bin sauer",
             "Je ne peux pas me connecter, merci pour votre aide",
             "🙂🙂", None]
    df = spark.createDataFrame([(t,) for t in texts], "t string")
    assert [r[0] for r in df.select(detect_language(F.col("t"))).collect()] == [
        "en", "de", "fr", "und", "und"]


def test_latest_records_keeps_the_newest_ingested_version(spark: SparkSession) -> None:
    rows = [{"ticket_id": "T1", "status": "open", "_ingested_at": datetime(2026, 1, 1), "_source_file": "a"},
            {"ticket_id": "T1", "status": "solved", "_ingested_at": datetime(2026, 1, 2), "_source_file": "b"},
            {"ticket_id": "T2", "status": "open", "_ingested_at": datetime(2026, 1, 1), "_source_file": "a"}]
    df = latest_records(source_frame(spark, "tickets", rows), "ticket_id")
    assertDataFrameEqual(df.select("ticket_id", "status"), [("T1", "solved"), ("T2", "open")])


def test_latest_records_newest_source_version_wins_within_one_read(spark: SparkSession) -> None:
    same_read = {"_ingested_at": datetime(2026, 1, 2), "_source_file": "crm.tickets"}
    rows = [{"ticket_id": "T1", "status": "solved", "_source_version": 7, **same_read},
            {"ticket_id": "T1", "status": "open", "_source_version": 3, **same_read},
            {"ticket_id": "T1", "status": "pending", "_source_version": 5, **same_read},
            {"ticket_id": "T2", "status": "open", "_source_version": 2, **same_read}]
    for order in (rows, rows[::-1]):
        df = latest_records(source_frame(spark, "tickets", order), "ticket_id")
        assertDataFrameEqual(df.select("ticket_id", "status"), [("T1", "solved"), ("T2", "open")])


def test_change_feed_delete_is_a_tombstone(spark: SparkSession) -> None:
    at = {"_ingested_at": datetime(2026, 1, 2), "_source_file": "crm.tickets"}
    rows = [{"ticket_id": "T1", "status": "open", "_source_version": 1, "_raw": "{}", **at},
            {"ticket_id": "T1", "status": "open", "_source_version": 2,
             "_raw": '{"ticket_id":"T1","_change_type":"delete"}', **at},
            {"ticket_id": "T2", "status": "open", "_source_version": 1, "_raw": "{}", **at},
            {"ticket_id": "T2", "status": "solved", "_source_version": 4,
             "_raw": '{"_change_type":"update_postimage"}', **at},
            {"ticket_id": "T2", "status": "open", "_source_version": 3,
             "_raw": '{"_change_type":"delete"}', **at}]
    frame = source_frame(spark, "tickets", rows)
    assertDataFrameEqual(latest_records(frame, "ticket_id").select("ticket_id", "status"), [("T2", "solved")])
    assert latest_records(frame, "ticket_id", keep_tombstones=True).count() == 2


def t(hour: int, minute: int = 0, day: int = 5) -> datetime:
    return datetime(2026, 1, day, hour, minute)


SLA = {"chat": 5, "email": 600, "ticket": 480, "call": 5, "social": 60}


def conversations_of(spark: SparkSession, as_of: datetime | None = None, **given: list[dict]) -> dict:
    frames = sources(spark, **given)
    out = build_silver_conversations(unify_messages(frames), frames["tickets"], frames["surveys"], SLA, KEY,
                                     as_of=as_of)
    return {r["conversation_id"]: r for r in out.collect()}


def chat_message(i: int, role: str, sent_at: datetime, chat_id: str = "c1") -> dict:
    return {"message_id": f"{chat_id}-{i}", "chat_id": chat_id, "customer_id": "C1", "author_role": role,
            "agent_id": "A1" if role == "agent" else None, "sent_at": sent_at, "text": f"{role} {i}"}


def test_first_response_counts_from_the_customer_to_a_human_agent(spark: SparkSession) -> None:
    conv = conversations_of(spark, chat_messages=[
        chat_message(1, "agent", t(9)),          # outbound agent message before the customer writes
        chat_message(2, "customer", t(10)),
        chat_message(3, "bot", t(10, 1)),        # bot greeting: not a response
        chat_message(4, "agent", t(10, 20)),
    ])["chat:c1"]
    assert (conv["opened_at"], conv["first_customer_message_at"]) == (t(9), t(10))
    assert conv["first_response_at"] == t(10, 20) and conv["first_response_minutes"] == 20.0
    assert conv["resolution_minutes"] is None and conv["closed_at"] is None  # chats have no explicit close
    assert conv["last_message_at"] == t(10, 20) and conv["first_response_censored"] is False


def test_unanswered_conversation_is_open_until_its_target_passes(spark: SparkSession) -> None:
    emails = [{"email_id": "e1", "thread_id": "th1", "from_role": "customer", "customer_id": "C1",
               "sent_at": t(23), "body": "still broken"}]
    within = conversations_of(spark, as_of=datetime(2026, 1, 6), emails=emails)["email:th1"]
    assert within["first_response_censored"] is True and within["sla_breached"] is None
    assert within["sla_due_at"] == datetime(2026, 1, 6, 9) and within["first_response_minutes"] is None
    passed = conversations_of(spark, as_of=datetime(2026, 1, 7), emails=emails)["email:th1"]
    assert passed["first_response_censored"] is True and passed["sla_breached"] is True
    # answered the next day: the reply ends the censoring, measured across midnight
    reply = {"email_id": "e2", "thread_id": "th1", "from_role": "agent", "agent_id": "A1",
             "sent_at": t(1, 0, day=6), "body": "fixed"}
    answered = conversations_of(spark, as_of=datetime(2026, 1, 7), emails=emails + [reply])["email:th1"]
    assert answered["first_response_censored"] is False and answered["sla_breached"] is False
    assert answered["first_response_minutes"] == 120.0 and answered["opened_date"] == date(2026, 1, 5)


def test_linked_survey_csat_counts_once(spark: SparkSession) -> None:
    conv = conversations_of(
        spark,
        tickets=[{"ticket_id": "T1", "customer_id": "C1", "created_at": t(9)}],
        surveys=[{"response_id": "S1", "customer_id": "C1", "survey_type": "csat", "score": 2,
                  "ticket_id": "T1", "responded_at": t(12)},
                 {"response_id": "S2", "customer_id": "C1", "survey_type": "csat", "score": 5,
                  "responded_at": t(12)},
                 {"response_id": "S3", "customer_id": "C1", "survey_type": "csat", "score": 4,
                  "ticket_id": "T-unknown", "responded_at": t(12)}])
    assert conv["ticket:T1"]["csat"] == 2.0
    assert conv["survey:S1"]["csat"] is None and conv["survey:S1"]["linked_conversation_id"] == "ticket:T1"
    assert conv["survey:S2"]["csat"] == 5.0 and conv["survey:S3"]["csat"] == 4.0


def test_negative_resolution_is_flagged_not_published(spark: SparkSession) -> None:
    conv = conversations_of(spark, tickets=[
        {"ticket_id": "T1", "customer_id": "C1", "created_at": t(9), "first_response_at": t(11),
         "resolved_at": t(10)},
        {"ticket_id": "T2", "customer_id": "C1", "created_at": t(9), "first_response_at": t(11),
         "resolved_at": t(8)},
        {"ticket_id": "T3", "customer_id": "C1", "created_at": t(9), "first_response_at": t(10),
         "resolved_at": t(12), "status": "solved"}])
    assert (conv["ticket:T1"]["timing_flag"], conv["ticket:T1"]["resolution_minutes"]) == (
        "resolved_before_first_response", 60.0)
    assert (conv["ticket:T2"]["timing_flag"], conv["ticket:T2"]["resolution_minutes"]) == (
        "resolved_before_opened", None)
    assert (conv["ticket:T3"]["timing_flag"], conv["ticket:T3"]["resolution_minutes"]) == (None, 180.0)


def test_chat_and_ticket_become_messages_and_conversations(spark: SparkSession) -> None:
    given = sources(
        spark,
        chat_messages=[
            {"message_id": "m1", "chat_id": "c1", "customer_id": "C1", "author_role": "customer",
             "sent_at": t(10), "text": "Hi, reach me at bob@example.com", "queue": "billing",
             "product": "Atlas App", "product_version": "5.0"},
            {"message_id": "m2", "chat_id": "c1", "customer_id": "C1", "author_role": "bot",
             "sent_at": t(10, 1), "text": "Connecting you", "product": "Atlas App"},
            {"message_id": "m3", "chat_id": "c1", "customer_id": "C1", "agent_id": "A1",
             "author_role": "agent", "sent_at": t(10, 12), "text": "Hello Bob", "product": "Atlas App"},
        ],
        tickets=[{"ticket_id": "T1", "customer_id": "C2", "description": "Broken", "queue": "technical",
                  "product": "Nimbus Router", "agent_id": "A2", "created_at": t(9),
                  "first_response_at": t(11), "resolved_at": t(15), "sla_minutes": 60, "csat": 2}],
        ticket_comments=[{"comment_id": "k1", "ticket_id": "T1", "author_role": "agent",
                          "author_id": "A2", "created_at": t(11), "body": "On it"}],
        surveys=[{"response_id": "S1", "customer_id": "C3", "survey_type": "nps", "score": 10,
                  "verbatim": "", "product": "Atlas App", "responded_at": t(12)}],
    )
    unified = unify_messages(given)
    messages = build_silver_messages(unified, KEY)
    assertDataFrameEqual(
        messages.select("message_id", "conversation_id", "channel", "author_role", "text", "sent_date"),
        [("chat:m1", "chat:c1", "chat", "customer", "Hi, reach me at [EMAIL]", date(2026, 1, 5)),
         ("chat:m2", "chat:c1", "chat", "bot", "Connecting you", date(2026, 1, 5)),
         ("chat:m3", "chat:c1", "chat", "agent", "Hello [PERSON]", date(2026, 1, 5)),
         ("ticket:T1:description", "ticket:T1", "ticket", "customer", "Broken", date(2026, 1, 5)),
         ("ticket:k1", "ticket:T1", "ticket", "agent", "On it", date(2026, 1, 5))])
    keys = {r["message_id"]: r for r in messages.collect()}
    assert keys["chat:m1"]["customer_key"] == keys["chat:m3"]["customer_key"] != "C1"
    assert keys["chat:m1"]["agent_key"] is None and len(keys["chat:m3"]["agent_key"]) == 32

    conversations = build_silver_conversations(unified, given["tickets"], given["surveys"],
                                               {"chat": 5, "ticket": 480}, KEY)
    assertDataFrameEqual(
        conversations.select("conversation_id", "channel", "queue", "opened_at", "first_response_minutes",
                             "resolution_minutes", "sla_target_minutes", "sla_breached", "csat",
                             "nps_score", "message_count", "customer_message_count"),
        [("chat:c1", "chat", "billing", t(10), 12.0, None, 5, True, None, None, 3, 1),
         ("ticket:T1", "ticket", "technical", t(9), 120.0, 360.0, 60, True, 2.0, None, 2, 1),
         ("survey:S1", "survey", None, t(12), None, None, None, None, None, 10, 0, 0)])


def test_pseudonyms_depend_on_the_key(spark: SparkSession) -> None:
    given = sources(spark, reviews=[{"review_id": "R1", "customer_id": "C1", "product": "P",
                                     "rating": 5, "body": "Great", "created_at": t(9)}])
    unified = unify_messages(given)
    a = build_silver_messages(unified, b"key-a").collect()[0]["customer_key"]
    b = build_silver_messages(unified, b"key-b").collect()[0]["customer_key"]
    assert a != b and "C1" not in a


def test_native_hmac_matches_python_hmac(spark: SparkSession) -> None:
    import hashlib
    import hmac

    from voicelake.jobs.transforms.silver import hmac_sha256

    ids = ["C0000001", "Ünïcödé-id", ""]  # same pseudonyms as the native Spark HMAC of earlier versions
    for key in (b"short", b"k" * 64, b"a-key-longer-than-the-sha256-block-size-" * 3):
        df = spark.createDataFrame([(i,) for i in ids], "id string")
        got = [r[0] for r in df.select(hmac_sha256(F.col("id"), key)).collect()]
        assert got == [hmac.new(key, i.encode(), hashlib.sha256).hexdigest()[:32] for i in ids]


def test_pseudonym_key_stays_out_of_the_spark_plan(spark: SparkSession, tmp_path, capsys) -> None:
    import hashlib
    import hmac

    from voicelake.secrets import PseudonymKeyRef, read_pseudonym_key

    key = b"plan-test-key-6f1d2c"
    (tmp_path / "pseudonym.key").write_text(key.decode())
    read_pseudonym_key.cache_clear()
    ref = PseudonymKeyRef("VOICELAKE_TEST_UNSET_KEY_ENV", str(tmp_path / "pseudonym.key"))
    given = sources(spark, reviews=[{"review_id": "R1", "customer_id": "C1", "product": "P",
                                     "rating": 5, "body": "Great", "created_at": t(9)}])
    messages = build_silver_messages(unify_messages(given), ref)
    messages.explain(extended=True)
    plan = capsys.readouterr().out
    padded = key.ljust(64, b"\0")
    forms = [key.decode(), key.hex(), bytes(b ^ 0x36 for b in padded).hex(), bytes(b ^ 0x5C for b in padded).hex()]
    assert "customer_key" in plan
    assert not [f for f in forms if f.lower() in plan.lower()]
    assert messages.collect()[0]["customer_key"] == hmac.new(key, b"C1", hashlib.sha256).hexdigest()[:32]
