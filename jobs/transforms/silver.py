"""Pure transformations from bronze sources to silver.messages and silver.conversations.

Every channel becomes rows of one message shape; conversation metrics (first response,
resolution, SLA breach, CSAT/NPS) are derived from those rows and the ticket and survey
records. PII is redacted from text (`voicelake.pii`: a native regex pass picks the candidate
texts, Presidio redacts them in a pandas UDF) and identifiers are pseudonymised with a keyed
hash (HMAC-SHA256, key read on the executors) before anything reaches silver. No reads,
writes or actions here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from voicelake.pii import CANDIDATE_PATTERN, PII_PATTERNS, hmac_pseudonym, redact_texts
from voicelake.secrets import PseudonymKeyRef, read_pseudonym_key

# PII_PATTERNS (the regex-only patterns, also the silver gate's) lives in voicelake.pii now.
# A key given as bytes (tests, ad-hoc use: it travels pickled inside the UDF) or a reference
# each executor resolves itself (jobs: no secret leaves the executor's environment).
PseudonymKey = bytes | PseudonymKeyRef

# Unified message shape before PII handling (ids still raw).
UNIFIED_COLUMNS = ("message_id", "conversation_id", "channel", "source_system", "customer_id",
                   "agent_id", "author_role", "sent_at", "text", "product", "product_version",
                   "queue")

SILVER_MESSAGE_COLUMNS = ("message_id", "conversation_id", "channel", "source_system",
                          "customer_key", "agent_key", "author_role", "sent_at", "text",
                          "language", "product", "product_version", "sent_date")

ROLE_SYNONYMS = {
    "customer": ("customer", "client", "user", "end-user", "end_user", "requester", "inbound"),
    "agent": ("agent", "support", "staff", "advisor", "rep", "outbound"),
    "bot": ("bot", "system", "automation", "virtual_assistant"),
}

STOPWORDS: dict[str, tuple[str, ...]] = {
    "en": ("the", "and", "is", "my", "to", "it", "you", "not", "this", "for", "with", "have",
           "i", "was", "are", "of", "can", "please", "thanks", "your"),
    "de": ("der", "die", "das", "und", "ist", "nicht", "ich", "mein", "meine", "sie", "mit",
           "ein", "eine", "zu", "auf", "bitte", "danke", "funktioniert", "wir", "es"),
    "fr": ("le", "la", "les", "et", "est", "je", "mon", "ma", "pas", "vous", "avec", "une",
           "un", "pour", "merci", "ne", "ça", "des", "sur", "il"),
    "es": ("el", "la", "los", "y", "es", "mi", "no", "que", "con", "una", "un", "para",
           "gracias", "por", "funciona", "se", "lo", "del", "está", "muy"),
    "nl": ("de", "het", "een", "en", "is", "niet", "ik", "mijn", "jullie", "met", "voor",
           "bedankt", "dat", "van", "werkt", "op", "zijn", "maar", "wel", "ook"),
}


# -- helpers -----------------------------------------------------------------------------

def is_tombstone(raw: Column) -> Column:
    """TRUE for a bronze row that records a delete (a change-feed ``delete`` kept in ``_raw``)."""
    return F.coalesce(F.get_json_object(raw, "$._change_type") == F.lit("delete"), F.lit(False))


def latest_records(df: DataFrame, key: str, keep_tombstones: bool = False) -> DataFrame:
    """One row per ``key``: its newest version by ``_source_version`` (a Delta source's commit
    version; NULL for files sorts last), then ingest time, then file name. A key whose newest
    version is a delete (tombstone) is dropped unless ``keep_tombstones``."""
    order = [F.col(c).desc_nulls_last() for c in ("_source_version", "_ingested_at", "_source_file")
             if c in df.columns]
    w = Window.partitionBy(key).orderBy(*order)
    out = df.withColumn("_rn", F.row_number().over(w)).where("_rn = 1").drop("_rn")
    if "_raw" in df.columns and not keep_tombstones:
        out = out.where(~is_tombstone(F.col("_raw")))
    return out


def normalise_role(col: Column) -> Column:
    """Map role spellings onto customer / agent / bot; other values are kept lower-cased."""
    lowered = F.lower(F.trim(col))
    expr = lowered
    for role, names in ROLE_SYNONYMS.items():
        expr = F.when(lowered.isin(*names), F.lit(role)).otherwise(expr)
    return expr


def redact_pii_regex(col: Column) -> Column:
    """The regex-only redaction (`PII_PATTERNS`, native Spark): the fast path of earlier versions."""
    for placeholder, pattern in PII_PATTERNS:
        col = F.regexp_replace(col, pattern, placeholder)
    return col


@F.pandas_udf(StringType())  # type: ignore[call-overload, untyped-decorator]
def _redact_udf(texts: pd.Series) -> pd.Series:
    return pd.Series(redact_texts(texts.tolist()), index=texts.index, dtype=object)


def pii_candidate(col: Column) -> Column:
    """The cheap first pass, native Spark: true for texts the Presidio pass must see."""
    return F.coalesce(col.rlike(CANDIDATE_PATTERN), F.lit(False))


def redact_pii(col: Column) -> Column:
    """Names, e-mail addresses, phones, cards, IBANs, postal and IP addresses become
    placeholders: Presidio (`voicelake.pii`) in a pandas UDF, run only on the texts the
    regex pass flags as candidates; the others are kept as they are."""
    return F.when(pii_candidate(col), _redact_udf(col)).otherwise(col)


def detect_language(col: Column) -> Column:
    """Cheap stop-word language guess: ISO 639-1 code, ``und`` when no clear signal."""
    tokens = F.split(F.lower(F.coalesce(col, F.lit(""))), r"[^\p{L}]+")
    scores = {lang: F.size(F.array_intersect(tokens, F.array(*[F.lit(w) for w in words])))
              for lang, words in STOPWORDS.items()}
    best = F.greatest(*scores.values())
    result: Column = F.lit("und")
    for lang, score in reversed(list(scores.items())):
        result = F.when((score == best) & (best > 0), F.lit(lang)).otherwise(result)
    return result


def _pseudonym_udf(key: PseudonymKey) -> Callable[[Column], Column]:
    """A pandas UDF computing pseudonyms; with a `PseudonymKeyRef` the key is read on the
    executor (environment, else the local development key file), so it is in no plan,
    conf or command line."""

    @F.pandas_udf(StringType())  # type: ignore[call-overload, untyped-decorator]
    def pseudonym(ids: pd.Series) -> pd.Series:
        secret = key if isinstance(key, bytes) else read_pseudonym_key(key)
        return pd.Series([None if v is None or v is pd.NA else hmac_pseudonym(str(v), secret)
                          for v in ids.tolist()], index=ids.index, dtype=object)

    return pseudonym  # type: ignore[no-any-return]


def hmac_sha256(col: Column, key: PseudonymKey) -> Column:
    """HMAC-SHA256(key, col) as 32 hex chars (the pseudonyms of every earlier version)."""
    return _pseudonym_udf(key)(col.cast("string"))


def pseudonymiser(key: PseudonymKey) -> Callable[[Column], Column]:
    """A function mapping an id column to its pseudonym (NULL stays NULL)."""
    udf = _pseudonym_udf(key)
    return lambda col: F.when(col.isNotNull(), udf(col.cast("string")))


def _message(df: DataFrame, *, message_id: Column, conversation_id: Column, channel: str,
             source: str, customer_id: Column, agent_id: Column, author_role: Column,
             sent_at: Column, text: Column, product: Column, product_version: Column,
             queue: Column) -> DataFrame:
    return df.select(
        F.concat(F.lit(f"{channel}:"), message_id).alias("message_id"),
        F.concat(F.lit(f"{channel}:"), conversation_id).alias("conversation_id"),
        F.lit(channel).alias("channel"), F.lit(source).alias("source_system"),
        customer_id.alias("customer_id"), agent_id.alias("agent_id"),
        normalise_role(author_role).alias("author_role"), sent_at.alias("sent_at"),
        text.alias("text"), product.alias("product"), product_version.alias("product_version"),
        queue.alias("queue"),
    )


def _null() -> Column:
    return F.lit(None).cast("string")


# -- per-source message builders ------------------------------------------------------------

def messages_from_tickets(tickets: DataFrame, comments: DataFrame) -> DataFrame:
    """The ticket description as the first customer message, then every comment."""
    opening = _message(
        tickets.where(F.coalesce(F.trim("description"), F.lit("")) != ""),
        message_id=F.concat(F.col("ticket_id"), F.lit(":description")),
        conversation_id=F.col("ticket_id"), channel="ticket", source="tickets",
        customer_id=F.col("customer_id"), agent_id=_null(), author_role=F.lit("customer"),
        sent_at=F.col("created_at"), text=F.col("description"), product=F.col("product"),
        product_version=F.col("product_version"), queue=F.col("queue"))
    t = tickets.select("ticket_id", "customer_id", "product", "product_version", "queue",
                       F.col("agent_id").alias("ticket_agent"))
    c = comments.join(t, "ticket_id", "left")
    role = normalise_role(F.col("author_role"))
    replies = _message(
        c, message_id=F.col("comment_id"), conversation_id=F.col("ticket_id"), channel="ticket",
        source="ticket_comments", customer_id=F.col("customer_id"),
        agent_id=F.when(role == "agent", F.coalesce(F.col("author_id"), F.col("ticket_agent"))),
        author_role=F.col("author_role"), sent_at=F.col("created_at"), text=F.col("body"),
        product=F.col("product"), product_version=F.col("product_version"), queue=F.col("queue"))
    return opening.unionByName(replies)


def messages_from_chats(chats: DataFrame) -> DataFrame:
    return _message(
        chats, message_id=F.col("message_id"), conversation_id=F.col("chat_id"), channel="chat",
        source="chat_messages", customer_id=F.col("customer_id"), agent_id=F.col("agent_id"),
        author_role=F.col("author_role"), sent_at=F.col("sent_at"), text=F.col("text"),
        product=F.col("product"), product_version=F.col("product_version"), queue=F.col("queue"))


def messages_from_emails(emails: DataFrame) -> DataFrame:
    return _message(
        emails, message_id=F.col("email_id"), conversation_id=F.col("thread_id"), channel="email",
        source="emails", customer_id=F.col("customer_id"), agent_id=F.col("agent_id"),
        author_role=F.col("from_role"), sent_at=F.col("sent_at"), text=F.col("body"),
        product=F.col("product"), product_version=F.col("product_version"), queue=F.col("queue"))


def messages_from_calls(calls: DataFrame) -> DataFrame:
    sent_at = F.timestamp_seconds(F.unix_timestamp("call_started_at") + F.col("start_offset_s"))
    return _message(
        calls, message_id=F.col("utterance_id"), conversation_id=F.col("call_id"), channel="call",
        source="call_utterances", customer_id=F.col("customer_id"),
        agent_id=F.when(normalise_role(F.col("speaker")) == "agent", F.col("agent_id")),
        author_role=F.col("speaker"), sent_at=sent_at, text=F.col("text"),
        product=F.col("product"), product_version=F.col("product_version"), queue=F.col("queue"))


THREAD_DOUBLINGS = 6  # reply chains are followed up to 2**6 = 64 posts deep


def thread_roots(posts: DataFrame, doublings: int = THREAD_DOUBLINGS) -> DataFrame:
    """Add ``_thread``: each post's thread root, walking ``in_reply_to`` where no ``thread_id``
    is given, and ``_thread_customer``: the thread's customer id (from its customer posts).

    Pointer doubling: every post starts at its ``thread_id``, else its parent, else itself;
    each round replaces the pointer by the pointer's pointer, so ``doublings`` rounds follow
    chains of up to ``2**doublings`` posts, whatever days they span. A pointer to a post that
    is not there (a root outside the export) stops there: such a thread's root is its earliest
    post (by ``posted_at``, then ``post_id``), unless the id is a given ``thread_id``.
    """
    ptr = posts.select("post_id", F.coalesce("thread_id", "in_reply_to", "post_id").alias("_anc"))
    for _ in range(doublings):
        step = ptr.select(F.col("post_id").alias("_anc"), F.col("_anc").alias("_next"))
        ptr = ptr.join(step, "_anc", "left").select(
            "post_id", F.coalesce("_next", "_anc").alias("_anc"))
    w = Window.partitionBy("_top")
    top = posts.join(ptr.withColumnRenamed("_anc", "_top"), "post_id", "left")
    known = F.max(F.coalesce((F.col("post_id") == F.col("_top")) | (F.col("thread_id") == F.col("_top")),
                             F.lit(False))).over(w)
    earliest = F.min(F.struct(F.col("posted_at"), F.col("post_id"))).over(w)["post_id"]
    is_customer = normalise_role(F.col("author_role")) == "customer"
    first_customer = F.min(F.when(is_customer & F.col("customer_id").isNotNull(),
                                  F.struct(F.col("posted_at"), F.col("customer_id")))).over(w)["customer_id"]
    return (top.withColumn("_thread", F.when(known, F.col("_top")).otherwise(earliest))
            .withColumn("_thread_customer", first_customer).drop("_top"))


def messages_from_social(posts: DataFrame) -> DataFrame:
    """Social posts as messages, one conversation per thread (roots derived from reply chains);
    a customer id given on the thread's customer posts is carried to all its posts."""
    posts = thread_roots(posts)
    return _message(
        posts, message_id=F.col("post_id"), conversation_id=F.col("_thread"),
        channel="social", source="social_posts",
        customer_id=F.coalesce(F.col("customer_id"), F.col("_thread_customer")),
        agent_id=F.when(normalise_role(F.col("author_role")) == "agent", F.col("author_handle")),
        author_role=F.col("author_role"), sent_at=F.col("posted_at"), text=F.col("text"),
        product=F.col("product"), product_version=F.col("product_version"), queue=_null())


def messages_from_reviews(reviews: DataFrame) -> DataFrame:
    text = F.concat_ws(". ", F.nullif(F.trim("title"), F.lit("")), F.nullif(F.trim("body"), F.lit("")))
    return _message(
        reviews.where(text != ""), message_id=F.col("review_id"),
        conversation_id=F.col("review_id"), channel="review", source="reviews",
        customer_id=F.col("customer_id"), agent_id=_null(), author_role=F.lit("customer"),
        sent_at=F.col("created_at"), text=text, product=F.col("product"),
        product_version=F.col("product_version"), queue=_null())


def messages_from_surveys(surveys: DataFrame) -> DataFrame:
    return _message(
        surveys.where(F.coalesce(F.trim("verbatim"), F.lit("")) != ""),
        message_id=F.col("response_id"), conversation_id=F.col("response_id"), channel="survey",
        source="surveys", customer_id=F.col("customer_id"), agent_id=_null(),
        author_role=F.lit("customer"), sent_at=F.col("responded_at"), text=F.col("verbatim"),
        product=F.col("product"), product_version=_null(), queue=_null())


def unify_messages(sources: Mapping[str, DataFrame]) -> DataFrame:
    """All channels' messages in one shape (raw ids, unredacted text)."""
    builders = [
        messages_from_tickets(sources["tickets"], sources["ticket_comments"]),
        messages_from_chats(sources["chat_messages"]),
        messages_from_emails(sources["emails"]),
        messages_from_calls(sources["call_utterances"]),
        messages_from_social(sources["social_posts"]),
        messages_from_reviews(sources["reviews"]),
        messages_from_surveys(sources["surveys"]),
    ]
    out = builders[0]
    for df in builders[1:]:
        out = out.unionByName(df)
    return out


def build_silver_messages(unified: DataFrame, pseudonym_key: PseudonymKey) -> DataFrame:
    """silver.messages rows: redacted text, language, pseudonymised customer/agent keys."""
    pseudonymise = pseudonymiser(pseudonym_key)
    text = F.col("text")  # redacted once, before language detection reads it
    return unified.withColumn("text", redact_pii(F.col("text"))).select(
        "message_id", "conversation_id", "channel", "source_system",
        pseudonymise(F.col("customer_id")).alias("customer_key"),
        pseudonymise(F.col("agent_id")).alias("agent_key"),
        "author_role", "sent_at", text.alias("text"), detect_language(text).alias("language"),
        "product", "product_version", F.to_date("sent_at").alias("sent_date"),
    )


def _minutes_between(start: Column, end: Column) -> Column:
    return (F.unix_timestamp(end) - F.unix_timestamp(start)) / 60.0


TIMING_FLAGS = ("response_before_opened", "resolved_before_opened", "resolved_before_first_response")


def build_silver_conversations(unified: DataFrame, tickets: DataFrame, surveys: DataFrame,
                               sla_minutes: Mapping[str, int], pseudonym_key: PseudonymKey,
                               as_of: datetime | None = None) -> DataFrame:
    """silver.conversations rows: one per ticket, chat, email thread, call, social thread,
    review and survey answer, with service metrics as of the cut-off ``as_of``.

    First response: the customer's first message (a ticket's creation) to the first human
    agent reply after it (the ticket's own first-response time when it has one); bots and
    agent messages before the customer's first message do not count. Resolution: a ticket's
    solved time only (other channels have no explicit close: NULL). A conversation without a
    reply is censored (``first_response_censored``); ``sla_breached`` is NULL while its target
    has not passed at ``as_of`` (None: the target always counts as passed), TRUE after.
    """
    is_customer = F.col("author_role") == "customer"
    is_agent = F.col("author_role") == "agent"
    first_customer = F.min(F.when(is_customer, F.col("sent_at"))).over(
        Window.partitionBy("conversation_id"))
    marked = unified.withColumn("_first_customer_at", first_customer)
    conv = marked.groupBy("conversation_id").agg(
        F.first("channel").alias("channel"),
        F.first("source_system", ignorenulls=True).alias("source_system"),
        F.first("customer_id", ignorenulls=True).alias("customer_id"),
        F.first("agent_id", ignorenulls=True).alias("agent_id"),
        F.first("product", ignorenulls=True).alias("product"),
        F.first("product_version", ignorenulls=True).alias("product_version"),
        F.first("queue", ignorenulls=True).alias("queue"),
        F.min("sent_at").alias("first_message_at"),
        F.min("_first_customer_at").alias("first_customer_at"),
        F.max("sent_at").alias("last_message_at"),
        F.min(F.when(is_agent & (F.col("sent_at") >= F.col("_first_customer_at")),
                     F.col("sent_at"))).alias("first_agent_reply_at"),
        F.count(F.lit(1)).alias("message_count"),
        F.count(F.when(is_customer, 1)).alias("customer_message_count"),
        F.count(F.when(is_agent, 1)).alias("agent_message_count"),
    )
    t = tickets.select(
        F.concat(F.lit("ticket:"), F.col("ticket_id")).alias("conversation_id"),
        F.col("created_at").alias("t_created"), F.col("first_response_at").alias("t_first"),
        F.col("resolved_at").alias("t_resolved"), F.col("status"), F.col("priority"),
        F.col("queue").alias("t_queue"), F.col("product").alias("t_product"),
        F.col("product_version").alias("t_version"), F.col("agent_id").alias("t_agent"),
        F.col("customer_id").alias("t_customer"), F.col("sla_minutes").alias("t_sla"),
        F.col("csat").alias("t_csat"))
    ticket_ids = tickets.select(F.col("ticket_id").alias("_linked_ticket")).distinct()
    linked = F.concat(F.lit("ticket:"), F.col("_linked_ticket"))
    s = surveys.join(ticket_ids, surveys["ticket_id"] == ticket_ids["_linked_ticket"], "left").select(
        F.concat(F.lit("survey:"), F.col("response_id")).alias("conversation_id"),
        F.col("responded_at").alias("s_at"), F.col("customer_id").alias("s_customer"),
        F.col("product").alias("s_product"), F.lower("survey_type").alias("survey_type"),
        F.col("score").alias("s_score"), linked.alias("linked_conversation_id"))
    # a CSAT answer linked to a known ticket counts on the ticket only, never twice
    ticket_csat = s.where((F.col("survey_type") == "csat") & F.col("linked_conversation_id").isNotNull()) \
        .groupBy(F.col("linked_conversation_id").alias("conversation_id")) \
        .agg(F.avg("s_score").alias("survey_csat"))
    # tickets and surveys without any message still are conversations
    skeleton = t.select("conversation_id", F.lit("ticket").alias("_ch")).unionByName(
        s.select("conversation_id", F.lit("survey").alias("_ch")))
    joined = (conv.join(skeleton, "conversation_id", "full")
              .join(t, "conversation_id", "left").join(s, "conversation_id", "left")
              .join(ticket_csat, "conversation_id", "left"))
    channel = F.coalesce(F.col("channel"), F.col("_ch"))
    opened = F.coalesce(F.col("t_created"), F.col("s_at"), F.col("first_message_at"))
    expects_reply = ~channel.isin("review", "survey")
    start = F.coalesce(F.col("t_created"), F.col("first_customer_at"))  # the first-response clock
    first_response = F.when(expects_reply, F.coalesce(F.col("t_first"), F.col("first_agent_reply_at")))
    closed = F.when(channel == "ticket", F.col("t_resolved"))
    default_sla = F.create_map(*[x for k, v in sla_minutes.items() for x in (F.lit(k), F.lit(v))])
    sla = F.when(expects_reply, F.coalesce(F.col("t_sla"), default_sla[channel]))
    sla_due = F.when(sla.isNotNull() & start.isNotNull(),
                     F.timestamp_seconds(F.unix_timestamp(start) + sla * 60))
    frt = _minutes_between(start, first_response)
    resolution = _minutes_between(start, closed)
    flag = (F.when(frt < 0, F.lit(TIMING_FLAGS[0])).when(resolution < 0, F.lit(TIMING_FLAGS[1]))
            .when(closed < first_response, F.lit(TIMING_FLAGS[2])))
    censored = expects_reply & start.isNotNull() & first_response.isNull()
    due_passed = F.lit(True) if as_of is None else (sla_due <= F.lit(as_of))
    pseudonymise = pseudonymiser(pseudonym_key)
    out = joined.select(
        "conversation_id", channel.alias("channel"),
        F.coalesce(F.col("source_system"), F.when(channel == "ticket", F.lit("tickets"))
                   .otherwise(F.lit("surveys"))).alias("source_system"),
        pseudonymise(F.coalesce(F.col("t_customer"), F.col("s_customer"), F.col("customer_id")))
        .alias("customer_key"),
        pseudonymise(F.coalesce(F.col("t_agent"), F.col("agent_id"))).alias("agent_key"),
        F.coalesce(F.col("t_queue"), F.col("queue")).alias("queue"),
        F.coalesce(F.col("t_product"), F.col("s_product"), F.col("product")).alias("product"),
        F.coalesce(F.col("t_version"), F.col("product_version")).alias("product_version"),
        F.col("status"), F.col("priority"),
        opened.alias("opened_at"), start.alias("first_customer_message_at"),
        first_response.alias("first_response_at"), closed.alias("closed_at"),
        F.col("last_message_at"),
        F.when(first_response.isNotNull() & (frt >= 0), frt).alias("first_response_minutes"),
        censored.alias("first_response_censored"),
        F.when(closed.isNotNull() & (resolution >= 0), resolution).alias("resolution_minutes"),
        flag.alias("timing_flag"),
        sla.cast("int").alias("sla_target_minutes"), sla_due.alias("sla_due_at"),
        F.when(sla.isNull(), F.lit(None).cast("boolean"))
        .when(first_response.isNotNull(), frt > sla)
        .when(start.isNull(), F.lit(None).cast("boolean"))
        .when(due_passed, F.lit(True)).alias("sla_breached"),
        F.coalesce(F.col("t_csat").cast("double"), F.col("survey_csat"),
                   F.when((F.col("survey_type") == "csat") & F.col("linked_conversation_id").isNull(),
                          F.col("s_score").cast("double")))
        .alias("csat"),
        F.when(F.col("survey_type") == "nps", F.col("s_score")).alias("nps_score"),
        F.col("linked_conversation_id"),
        F.coalesce(F.col("message_count"), F.lit(0)).alias("message_count"),
        F.coalesce(F.col("customer_message_count"), F.lit(0)).alias("customer_message_count"),
        F.coalesce(F.col("agent_message_count"), F.lit(0)).alias("agent_message_count"),
        F.lit(as_of).cast("timestamp").alias("as_of"),
        F.to_date(opened).alias("opened_date"),
    )
    return out
