"""The table contract: every raw source's canonical schema and every silver/gold table's name.

A source field has a canonical name, a type (``string``, ``timestamp``, ``int``,
``double``), whether it is required (a record without it is quarantined) and whether it is
free text (checked against ``ingest.max_text_chars``). ``docs/sources.md`` documents the
same fields for people; `tests/test_schemas.py` keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.types import (
    DataType,
    DoubleType,
    IntegerType,
    StringType,
    TimestampType,
)

SPARK_TYPES: dict[str, DataType] = {
    "string": StringType(),
    "timestamp": TimestampType(),
    "int": IntegerType(),
    "double": DoubleType(),
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "string"
    required: bool = False
    text: bool = False


@dataclass(frozen=True)
class SourceSchema:
    name: str
    key: str
    event_time: str
    fields: tuple[Field, ...]

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


def _f(name: str, type_: str = "string", *, req: bool = False, text: bool = False) -> Field:
    return Field(name, type_, req, text)


SOURCES: dict[str, SourceSchema] = {
    s.name: s
    for s in (
        SourceSchema("tickets", "ticket_id", "created_at", (
            _f("ticket_id", req=True), _f("customer_id", req=True), _f("customer_email"),
            _f("subject", text=True), _f("description", text=True), _f("status"),
            _f("priority"), _f("queue"), _f("product"), _f("product_version"),
            _f("agent_id"), _f("created_at", "timestamp", req=True),
            _f("first_response_at", "timestamp"), _f("resolved_at", "timestamp"),
            _f("sla_minutes", "int"), _f("csat", "int"),
        )),
        SourceSchema("ticket_comments", "comment_id", "created_at", (
            _f("comment_id", req=True), _f("ticket_id", req=True),
            _f("author_role", req=True), _f("author_id"),
            _f("created_at", "timestamp", req=True), _f("body", req=True, text=True),
        )),
        SourceSchema("chat_messages", "message_id", "sent_at", (
            _f("message_id", req=True), _f("chat_id", req=True), _f("customer_id"),
            _f("agent_id"), _f("author_role", req=True), _f("sent_at", "timestamp", req=True),
            _f("text", req=True, text=True), _f("queue"), _f("product"), _f("product_version"),
        )),
        SourceSchema("emails", "email_id", "sent_at", (
            _f("email_id", req=True), _f("thread_id", req=True), _f("ticket_id"),
            _f("from_role", req=True), _f("from_address"), _f("customer_id"), _f("agent_id"),
            _f("sent_at", "timestamp", req=True), _f("subject", text=True),
            _f("body", req=True, text=True), _f("queue"), _f("product"), _f("product_version"),
        )),
        SourceSchema("call_utterances", "utterance_id", "call_started_at", (
            _f("utterance_id", req=True), _f("call_id", req=True), _f("customer_id"),
            _f("agent_id"), _f("speaker", req=True), _f("call_started_at", "timestamp", req=True),
            _f("start_offset_s", "double", req=True), _f("end_offset_s", "double"),
            _f("text", req=True, text=True), _f("queue"), _f("product"), _f("product_version"),
        )),
        SourceSchema("social_posts", "post_id", "posted_at", (
            _f("post_id", req=True), _f("thread_id"), _f("in_reply_to"), _f("platform"),
            _f("author_handle"), _f("author_role", req=True), _f("customer_id"),
            _f("posted_at", "timestamp", req=True), _f("text", req=True, text=True),
            _f("product"), _f("product_version"),
        )),
        SourceSchema("reviews", "review_id", "created_at", (
            _f("review_id", req=True), _f("customer_id"), _f("product", req=True),
            _f("product_version"), _f("rating", "int", req=True), _f("title", text=True),
            _f("body", text=True), _f("created_at", "timestamp", req=True),
        )),
        SourceSchema("surveys", "response_id", "responded_at", (
            _f("response_id", req=True), _f("customer_id", req=True),
            _f("survey_type", req=True), _f("score", "int", req=True),
            _f("verbatim", text=True), _f("ticket_id"), _f("channel"), _f("product"),
            _f("responded_at", "timestamp", req=True),
        )),
        SourceSchema("incidents", "incident_id", "started_at", (
            _f("incident_id", req=True), _f("product", req=True), _f("severity", req=True),
            _f("started_at", "timestamp", req=True), _f("ended_at", "timestamp"),
            _f("title", text=True),
        )),
        SourceSchema("releases", "release_id", "released_at", (
            _f("release_id", req=True), _f("product", req=True), _f("version", req=True),
            _f("released_at", "timestamp", req=True), _f("notes", text=True),
        )),
    )
}

# Columns bronze adds to every source's canonical fields.
INGEST_COLUMNS = ("_raw", "_source_file", "_source_version", "_batch_id", "_ingested_at")

AUTHOR_ROLES = ("customer", "agent", "bot")
CHANNELS = ("ticket", "chat", "email", "call", "social", "review", "survey")

QUARANTINE = "bronze.quarantine"
INGEST_LOG = "bronze.ingest_log"
SILVER_MESSAGES = "silver.messages"
SILVER_CONVERSATIONS = "silver.conversations"
SILVER_MESSAGE_EMOTIONS = "silver.message_emotions"
SILVER_LABEL_FEEDBACK = "silver.label_feedback"
SILVER_MESSAGE_EMBEDDINGS = "silver.message_embeddings"  # conversation openings, once per encoder
SILVER_MESSAGE_TOPICS = "silver.message_topics"
SILVER_MESSAGE_SUGGESTIONS = "silver.message_suggestions"  # customer messages read by the suggestion detector
SILVER_SUGGESTION_EMBEDDINGS = "silver.suggestion_embeddings"  # suggestion sentences, normalised, once per encoder
SILVER_SUGGESTION_IDEAS = "silver.suggestion_ideas"  # each suggestion's idea, rewritten by every fit
SILVER_IDEA_MODELS = "silver.idea_models"  # one row per idea fit: the model as JSON (ids survive refits)
SILVER_INCIDENTS = "silver.incidents"  # reference tables, rebuilt whole by every silver build
SILVER_RELEASES = "silver.releases"
GOLD_SERVICE_DAILY = "gold.service_daily"
GOLD_EMOTION_DAILY = "gold.emotion_daily"
# voice-of-customer marts (docs/marts.md): partitioned by week, passive drivers by month
GOLD_EMOTION_INDEX = "gold.emotion_index"
GOLD_CONVERSATION_OUTCOMES = "gold.conversation_outcomes"
GOLD_AGENT_SCORECARD = "gold.agent_scorecard"
GOLD_SERVICE_GAPS = "gold.service_gaps"
GOLD_PASSIVE_DRIVERS = "gold.passive_drivers"
# topic marts (docs/marts.md): partitioned by date
GOLD_TOPIC_DAILY = "gold.topic_daily"
GOLD_TOPIC_ALERTS = "gold.topic_alerts"
GOLD_TOPIC_FORECAST = "gold.topic_forecast"  # partitioned by the forecast's origin (its last day of data)
# incident marts (docs/marts.md): partitioned by the incident's or spike's start date
GOLD_INCIDENT_IMPACT = "gold.incident_impact"
GOLD_UNEXPLAINED_SPIKES = "gold.unexplained_spikes"
GOLD_RELEASE_IMPACT = "gold.release_impact"  # partitioned by the day the version shipped
GOLD_PRODUCT_FEEDBACK = "gold.product_feedback"  # partitioned by the day it describes the ideas as of
GOLD_CUSTOMER_HEALTH = "gold.customer_health"  # partitioned by week: customers' contacts, emotion and churn risk
GOLD_SLA_RISK = "gold.sla_risk"  # partitioned by the day whose end it describes: waiting conversations
GOLD_HEALTH_CHECK = "gold.health_check"  # one row per day, from the other marts of the same build
VALIDATION_RESULTS = "gold.validation_results"


def bronze_table(source: str) -> str:
    """Catalog name of a source's bronze table."""
    if source not in SOURCES:
        raise KeyError(f"unknown source {source!r}; known: {sorted(SOURCES)}")
    return f"bronze.{source}"
