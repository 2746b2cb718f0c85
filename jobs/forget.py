"""Right to erasure: remove one customer's records from every layer of the lake.

Deletes, for customer ID (raw id in bronze, its pseudonym ``customer_key`` in silver):
- bronze sources: rows whose ``customer_id`` is ID or whose raw record names ID or the
  customer's e-mail address, and the comments / e-mails / surveys of their tickets;
- bronze.quarantine rows whose raw record names ID, the e-mail or the pseudonym;
- silver.messages and silver.conversations of the customer's conversations, their
  silver.message_emotions rows, their suggestion rows (silver.message_suggestions,
  suggestion_embeddings, suggestion_ideas), silver.label_feedback rows linked to those conversations
  (``group_id``) or naming ID, and gold.validation_results rows whose observed value names
  ID or the pseudonym;
- gold.conversation_outcomes rows of the customer (the only gold mart with one row per
  conversation; the rebuild below would drop them too, but only from its weeks);
then rebuilds the gold dates the customer's messages and conversations touched (the other
marts hold aggregates; gold.product_feedback, whose examples quote suggestion sentences, is
rebuilt whole by any build) and purges history: VACUUM with retention 0 (Delta's retention check is
switched off for that call only), then each changed table is rewritten without its Delta
log, whose earlier commits keep column statistics (min/max values) of the deleted rows.
Time travel to versions before the erasure is gone for those tables; that is the point.

Landing files are the source system's export: they are listed, not changed. Erase the
customer there; voicelake never re-ingests a landing file it has logged.
Run it when no other pipeline job writes to the lake.

    voicelake forget --customer C0000042 [--no-gold]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from voicelake.pii import hmac_pseudonym
from voicelake.runtime import JobContext, job_parser, open_lake, run_job
from voicelake.schemas import (
    GOLD_CONVERSATION_OUTCOMES,
    GOLD_SERVICE_DAILY,
    QUARANTINE,
    SILVER_CONVERSATIONS,
    SILVER_LABEL_FEEDBACK,
    SILVER_MESSAGE_EMBEDDINGS,
    SILVER_MESSAGE_EMOTIONS,
    SILVER_MESSAGE_SUGGESTIONS,
    SILVER_MESSAGE_TOPICS,
    SILVER_MESSAGES,
    SILVER_SUGGESTION_EMBEDDINGS,
    SILVER_SUGGESTION_IDEAS,
    SOURCES,
    VALIDATION_RESULTS,
    bronze_table,
)
from voicelake.secrets import pseudonym_key_ref, read_pseudonym_key

RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"


@dataclass
class ForgetResult:
    customer_id: str
    deleted: dict[str, int] = field(default_factory=dict)  # table -> rows removed
    gold_dates: list[date] = field(default_factory=list)
    gold_rebuilt: bool = False
    landing_files: list[str] = field(default_factory=list)


def mentions(col: Column, values: Sequence[str]) -> Column:
    """True where ``col`` holds one of ``values`` as a whole token (not inside a longer id)."""
    tokens = "|".join(re.escape(v) for v in values if v)
    if not tokens:
        return F.lit(False)
    return F.coalesce(col.rlike(rf"(?<![A-Za-z0-9_.+-])(?:{tokens})(?![A-Za-z0-9_-])"), F.lit(False))


def _distinct(df: DataFrame, column: str) -> list[str]:
    return sorted({r[0] for r in df.select(column).distinct().collect() if r[0] is not None})


def _delete(ctx: JobContext, table: str, condition: Column, result: ForgetResult) -> None:
    if not ctx.lake.exists(table):
        return
    target = DeltaTable.forPath(ctx.spark, ctx.lake.location(table))
    n = ctx.lake.read(table).where(condition).count()
    if n:
        target.delete(condition)
        result.deleted[table] = n


def purge_history(ctx: JobContext, table: str) -> None:
    """VACUUM ``table`` with retention 0, then rewrite it as a new table at the same location
    (one commit, no older log entries or checkpoints holding statistics of deleted rows)."""
    spark, location = ctx.spark, ctx.lake.location(table)
    previous = spark.conf.get(RETENTION_CHECK, "true")
    spark.conf.set(RETENTION_CHECK, "false")
    try:
        DeltaTable.forPath(spark, location).vacuum(0.0)
    finally:
        spark.conf.set(RETENTION_CHECK, previous or "true")
    detail = DeltaTable.forPath(spark, location).detail().first()
    partition_by = list(detail["partitionColumns"] or []) if detail else []
    properties = dict(detail["properties"] or {}) if detail else {}
    fresh = location.rstrip("/") + "__forget_rewrite"
    writer = ctx.lake.read(table).write.format("delta").mode("overwrite")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(fresh)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    old_path, new_path = jvm.org.apache.hadoop.fs.Path(location), jvm.org.apache.hadoop.fs.Path(fresh)
    fs = old_path.getFileSystem(hadoop_conf)
    fs.delete(old_path, True)
    if not fs.rename(new_path, old_path):
        raise RuntimeError(f"forget: could not move the rewritten {table} from {fresh} to {location}")
    jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()
    if properties:
        props = ", ".join(f"'{k}' = '{v}'" for k, v in properties.items())
        spark.sql(f"ALTER TABLE delta.`{location}` SET TBLPROPERTIES ({props})")


def forget(ctx: JobContext, customer_id: str, rebuild_gold: bool = True) -> ForgetResult:
    """Delete ``customer_id``'s records everywhere, rebuild touched gold dates, purge files."""
    if not customer_id.strip():
        raise ValueError("forget: --customer must be a customer id")
    result = ForgetResult(customer_id)
    pseudonym = hmac_pseudonym(customer_id, read_pseudonym_key(pseudonym_key_ref(ctx.config))) or ""

    # bronze: find the customer's tickets and e-mail addresses first, then delete
    tickets: list[str] = []
    addresses: list[str] = []
    if ctx.lake.exists(bronze_table("tickets")):
        own = ctx.lake.read(bronze_table("tickets")).where(F.col("customer_id") == customer_id)
        tickets, addresses = _distinct(own, "ticket_id"), _distinct(own, "customer_email")
    if ctx.lake.exists(bronze_table("emails")):
        own = ctx.lake.read(bronze_table("emails")).where(
            (F.col("customer_id") == customer_id) & (F.col("from_role") == "customer"))
        addresses = sorted(set(addresses) | set(_distinct(own, "from_address")))
    raw_tokens = [customer_id, *addresses]
    landing: set[str] = set()
    for source, schema in SOURCES.items():
        table = bronze_table(source)
        if not ctx.lake.exists(table):
            continue
        columns = set(ctx.lake.read(table).columns)
        condition = mentions(F.col("_raw"), raw_tokens)
        if "customer_id" in schema.field_names:
            condition = condition | F.coalesce(F.col("customer_id") == customer_id, F.lit(False))
        if "ticket_id" in columns and source != "tickets" and tickets:
            condition = condition | F.col("ticket_id").isin(tickets)
        landing |= set(_distinct(ctx.lake.read(table).where(condition), "_source_file"))
        _delete(ctx, table, condition, result)
    _delete(ctx, QUARANTINE, mentions(F.col("raw_record"), [*raw_tokens, pseudonym]), result)

    # silver: the customer's conversations (agents' and bots' messages in them too)
    conversations: list[str] = []
    message_ids: list[str] = []
    dates: set[date] = set()
    if ctx.lake.exists(SILVER_MESSAGES):
        own = ctx.lake.read(SILVER_MESSAGES).where(F.col("customer_key") == pseudonym)
        conversations = _distinct(own, "conversation_id")
        theirs = ctx.lake.read(SILVER_MESSAGES).where(
            (F.col("customer_key") == pseudonym) | F.col("conversation_id").isin(conversations))
        message_ids = _distinct(theirs, "message_id")
        dates |= {r[0] for r in theirs.select("sent_date").distinct().collect()}
        _delete(ctx, SILVER_MESSAGES, (F.col("customer_key") == pseudonym)
                | F.col("conversation_id").isin(conversations), result)
    if ctx.lake.exists(SILVER_CONVERSATIONS):
        condition = (F.col("customer_key") == pseudonym) | F.col("conversation_id").isin(conversations)
        dates |= {r[0] for r in ctx.lake.read(SILVER_CONVERSATIONS).where(condition)
                  .select("opened_date").distinct().collect()}
        _delete(ctx, SILVER_CONVERSATIONS, condition, result)
    _delete(ctx, SILVER_MESSAGE_EMOTIONS, F.col("message_id").isin(message_ids), result)
    # the embedding of an opening is derived from its text; topic rows name the conversation
    _delete(ctx, SILVER_MESSAGE_EMBEDDINGS, F.col("conversation_id").isin(conversations), result)
    _delete(ctx, SILVER_MESSAGE_TOPICS, F.col("conversation_id").isin(conversations), result)
    # the suggestion detector's rows, and the suggestion sentences with their embeddings and ideas
    for table in (SILVER_MESSAGE_SUGGESTIONS, SILVER_SUGGESTION_EMBEDDINGS, SILVER_SUGGESTION_IDEAS):
        _delete(ctx, table, F.col("message_id").isin(message_ids), result)
    _delete(ctx, SILVER_LABEL_FEEDBACK, F.col("group_id").isin(conversations)
            | mentions(F.col("text"), raw_tokens), result)
    _delete(ctx, VALIDATION_RESULTS, mentions(F.col("observed_value"), [*raw_tokens, pseudonym]), result)
    _delete(ctx, GOLD_CONVERSATION_OUTCOMES, (F.col("customer_key") == pseudonym)
            | F.col("conversation_id").isin(conversations), result)
    result.gold_dates = sorted(d for d in dates if d is not None)
    result.landing_files = sorted(landing)

    if rebuild_gold and result.gold_dates and ctx.lake.exists(GOLD_SERVICE_DAILY):
        from voicelake.jobs.build_gold import new_run_id, publish_gold, stage_gold

        run_id = new_run_id()
        publish_gold(ctx, stage_gold(ctx, result.gold_dates, run_id), result.gold_dates)
        ctx.lake.drop_staging(run_id)
        result.gold_rebuilt = True
    for table in result.deleted:
        purge_history(ctx, table)
    return result


def _main(argv: Sequence[str] | None) -> int:
    parser = job_parser("voicelake forget", "Erase one customer's records from every layer of the lake.")
    parser.add_argument("--customer", required=True, help="the customer id as the source systems write it")
    parser.add_argument("--no-gold", action="store_true", help="do not rebuild the touched gold dates (print them)")
    args = parser.parse_args(argv)
    with open_lake(args.env) as ctx:
        result = forget(ctx, args.customer, rebuild_gold=not args.no_gold)
    for table, n in sorted(result.deleted.items()):
        print(f"{table}: deleted {n} rows, history purged (VACUUM 0, log rewritten)")
    if not result.deleted:
        print(f"no records of customer {args.customer} in the lake")
    days = ", ".join(str(d) for d in result.gold_dates) or "none"
    print(f"gold dates {'rebuilt' if result.gold_rebuilt else 'to rebuild (voicelake build-gold --date D)'}: {days}")
    for path in result.landing_files:
        print(f"landing file with the customer's records (erase it in the source system): {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
