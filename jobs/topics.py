"""Topics of customer messages: silver.message_embeddings and silver.message_topics (and,
with the same encoder, the suggestions' product ideas: ``jobs/ideas.py``).

A conversation's topic is read from its opening customer message (`voicelake.models.topics`);
every customer message of the conversation carries it. The job

1. finds the dates' conversations and their openings (which may lie on an earlier date),
2. embeds the openings not embedded yet with the configured encoder, once per message, into
   ``silver.message_embeddings`` (MERGE on message_id; a refit reuses them; `embed_missing`),
3. loads ``topics.model_name@champion``, or fits one when there is none, when ``--refit``
   asks, or when the champion was fitted on a young lake whose stored openings have since
   doubled (k-means on a sample of the stored embeddings, fewer clusters while there are
   fewer than 3 openings per cluster; registered as challenger, promoted when it describes
   the sample at least as closely; ids matched to the champion's), and
4. assigns each customer message its conversation's topic into ``silver.message_topics``
   (MERGE on message_id, partitioned by sent_date): ``topic_id``, ``topic_label``,
   ``distance`` (cosine distance of the opening to its topic's centroid), ``topic_new`` and
   the model version. Messages the champion already assigned are skipped; when a refit
   brings a new champion, every stored message is re-assigned with it (one model's ids
   across the history the topic marts' baselines read).

    voicelake topics [--date D | --since D [--until D]] [--refit]
    spark-submit jobs/topics.py --since 2026-01-05 --until 2026-01-05
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.lake import scalar
from voicelake.models.topics import SentenceEncoder, TopicModel, fit_topics, topic_text
from voicelake.models.train import resolve_encoder
from voicelake.runtime import JobContext, add_date_arguments, covered_dates, job_parser, open_lake, run_job
from voicelake.schemas import SILVER_MESSAGE_EMBEDDINGS, SILVER_MESSAGE_TOPICS, SILVER_MESSAGES

EMBEDDING_SCHEMA = "message_id string, embedding array<float>"
MIN_OPENINGS_PER_CLUSTER = 3  # a fit on fewer openings than clusters x this uses fewer clusters
_WORKER_ENCODERS: dict[tuple[str, int, int, int], SentenceEncoder] = {}  # one per Python worker


@dataclass(frozen=True)
class TopicsResult:
    version: str
    embedded: int
    assigned: int
    refit: str | None  # what a refit decided, None without one


def _encoder(path: str, max_length: int, batch_size: int, threads: int) -> SentenceEncoder:
    key = (path, max_length, batch_size, threads)
    encoder = _WORKER_ENCODERS.get(key)
    if encoder is None:
        import torch

        torch.set_num_threads(max(1, threads))
        encoder = _WORKER_ENCODERS[key] = SentenceEncoder(path, max_length, batch_size)
    return encoder


def customer_messages(messages: DataFrame) -> DataFrame:
    return messages.where(F.col("author_role") == "customer")


def openings(customer: DataFrame, conversations: DataFrame) -> DataFrame:
    """(conversation_id, opening_message_id): each conversation's first customer message
    (earliest sent_at, then message_id), wherever its date."""
    return (customer.join(conversations, "conversation_id")
            .groupBy("conversation_id")
            .agg(F.min_by("message_id", F.struct("sent_at", "message_id")).alias("opening_message_id")))


def embed_texts(ctx: JobContext, todo: DataFrame, products: Sequence[str], encoder: str, max_length: int,
                batch_size: int) -> DataFrame:
    """(message_id, embedding) of ``todo``'s (message_id, text) rows, each text normalised for
    topic (`topic_text`) and embedded with ``encoder`` on the executors."""
    path = resolve_encoder(encoder)
    threads = int(ctx.spark.conf.get("spark.task.cpus", "1") or 1)
    names = tuple(products)

    def embed(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        local = _encoder(path, max_length, batch_size, threads)
        for batch in batches:
            vectors = local.encode([topic_text(t, names) for t in batch["text"]])
            yield pd.DataFrame({"message_id": batch["message_id"], "embedding": list(vectors)})

    parallelism = max(2, ctx.spark.sparkContext.defaultParallelism)
    return todo.select("message_id", "text").repartition(parallelism).mapInPandas(embed, EMBEDDING_SCHEMA)


def embed_missing(ctx: JobContext, todo: DataFrame, table: str, keys: Sequence[str], products: Sequence[str],
                  encoder: str, max_length: int, batch_size: int) -> int:
    """Embed ``todo``'s rows (message_id, text, other columns, sent_date) whose ``keys`` the
    ``table`` does not hold for ``encoder`` yet and MERGE them into it on message_id, as
    (todo's columns but text, encoder, embedding); returns how many were embedded."""
    if ctx.lake.exists(table):
        done = ctx.lake.read(table).where(F.col("encoder") == encoder).select(*keys)
        todo = todo.join(done, list(keys), "left_anti")
    todo = todo.cache()
    try:
        n = todo.count()
        if n:
            stored = [c for c in todo.columns if c not in ("text", "sent_date")]
            rows = (todo.join(embed_texts(ctx, todo, products, encoder, max_length, batch_size), "message_id")
                    .select(*stored, F.lit(encoder).alias("encoder"), "embedding", "sent_date").cache())
            rows.count()
            ctx.lake.merge(rows, table, ["message_id"], partition_by=["sent_date"])
            rows.unpersist()
        return n
    finally:
        todo.unpersist()


def product_names(messages: DataFrame) -> list[str]:
    """The products silver.messages names (what `topic_text` replaces with "the product")."""
    return sorted(r[0] for r in messages.select("product").where(F.col("product").isNotNull()).distinct().collect())


def _sample(ctx: JobContext, products: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Up to ``topics.fit_sample`` stored embeddings of the configured encoder with their
    normalised texts (for the labels)."""
    cfg = ctx.config.topics
    stored = ctx.lake.read(SILVER_MESSAGE_EMBEDDINGS).where(F.col("encoder") == cfg.encoder)
    total = stored.count()
    if total > cfg.fit_sample:
        stored = stored.sample(cfg.fit_sample / total * 1.05, seed=13).limit(cfg.fit_sample)
    rows: pd.DataFrame = (stored.join(ctx.lake.read(SILVER_MESSAGES).select("message_id", "text"), "message_id")
                          .select("embedding", "text").toPandas())
    if rows.empty:
        return np.zeros((0, 0), dtype=np.float32), []
    return (np.stack([np.asarray(e, dtype=np.float32) for e in rows["embedding"]]),
            [topic_text(t, products) for t in rows["text"]])


def refit(ctx: JobContext, products: Sequence[str]) -> tuple[TopicModel, str, str]:
    """Fit on a sample, register, promote when at least as close (`register_refit`)."""
    from voicelake.models.topic_registry import load_topics, register_refit

    cfg = ctx.config.topics
    champion = load_topics(ctx.config)
    embeddings, texts = _sample(ctx, products)
    # a young lake gets fewer clusters: k-means needs several openings per cluster to mean anything
    clusters = max(1, min(cfg.clusters, len(embeddings) // MIN_OPENINGS_PER_CLUSTER))
    model = fit_topics(embeddings, texts, clusters, champion.model if champion else None,
                       cfg.min_similarity, encoder=cfg.encoder)
    decision = register_refit(ctx.config, model, embeddings, champion,
                              {"clusters": clusters, "encoder": cfg.encoder, "fit_sample": cfg.fit_sample,
                               "min_similarity": cfg.min_similarity})
    verdict = (f"refit v{decision.version}: mean distance {decision.distance:.3f}"
               + (f" vs champion {decision.champion_distance:.3f}" if decision.champion_distance is not None else "")
               + f", {decision.kept} clusters kept, {decision.new} new; "
               + ("promoted to champion" if decision.promoted else "stays challenger"))
    if decision.promoted or champion is None:
        return model, decision.version, verdict
    return champion.model, champion.version, verdict


def _outgrown(model: TopicModel, stored: int, fit_sample: int) -> bool:
    """A model fitted on a young lake refits itself once the stored openings have doubled,
    until a fit can use the full ``topics.fit_sample`` (ids stay matched across refits)."""
    fitted_on = sum(model.sizes)
    return fitted_on < fit_sample and stored >= 2 * fitted_on


def assign(model: TopicModel, embedded: DataFrame) -> DataFrame:
    """(message_id, topic_id, distance) of embedded openings, the centroids in the closure."""
    data = model.to_dict()

    def nearest(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        local = TopicModel.from_dict(data)
        for batch in batches:
            vectors = np.stack([np.asarray(e, dtype=np.float32) for e in batch["embedding"]]) if len(batch) \
                else np.zeros((0, local.centroids.shape[1]), dtype=np.float32)
            ids, distance = local.assign(vectors)
            yield pd.DataFrame({"message_id": batch["message_id"], "topic_id": ids.astype("int32"),
                                "distance": distance})

    return embedded.select("message_id", "embedding").mapInPandas(
        nearest, "message_id string, topic_id int, distance double")


def build_topics(ctx: JobContext, day: date | None = None, since: date | None = None, until: date | None = None,
                 force_refit: bool = False) -> TopicsResult:
    from voicelake.models.topic_registry import load_topics

    cfg = ctx.config.topics
    if not ctx.lake.exists(SILVER_MESSAGES):
        return TopicsResult("none", 0, 0, "no silver.messages yet: nothing to embed or fit")
    messages = ctx.lake.read(SILVER_MESSAGES)
    customer = customer_messages(messages)
    dates = covered_dates(day, since, until, lambda: scalar(messages.agg(F.max("sent_date"))))
    in_dates = customer if dates is None else customer.where(F.col("sent_date").isin(dates))
    products = product_names(messages)
    opening_of = openings(customer, in_dates.select("conversation_id").distinct()).cache()
    try:
        todo = (customer.join(opening_of.select(F.col("opening_message_id").alias("message_id")), "message_id")
                .select("message_id", "conversation_id", "text", "sent_date"))
        embedded_n = embed_missing(ctx, todo, SILVER_MESSAGE_EMBEDDINGS, ["message_id"], products, cfg.encoder,
                                   cfg.max_length, cfg.batch_size)

        champion = load_topics(ctx.config)
        stored = (ctx.lake.read(SILVER_MESSAGE_EMBEDDINGS).where(F.col("encoder") == cfg.encoder).count()
                  if ctx.lake.exists(SILVER_MESSAGE_EMBEDDINGS) else 0)
        verdict = None
        if stored == 0:
            return TopicsResult("none", 0, 0, "no conversation openings to fit topics on yet")
        if champion is None or force_refit or _outgrown(champion.model, stored, cfg.fit_sample):
            model, version, verdict = refit(ctx, products)
        else:
            model, version = champion.model, champion.version
        print(f"topics: {cfg.model_name} v{version}" + (f" ({verdict})" if verdict else ""))
        if champion is not None and version != champion.version and dates is not None:
            # a new champion re-assigns the whole history, not only the run's dates: a topic's
            # daily series (gold.topic_daily, the alerts' baselines) then uses one model's ids
            opening_of.unpersist()
            in_dates = customer
            opening_of = openings(customer, customer.select("conversation_id").distinct()).cache()

        openings_embedded = (ctx.lake.read(SILVER_MESSAGE_EMBEDDINGS).where(F.col("encoder") == cfg.encoder)
                             .join(opening_of.select(F.col("opening_message_id").alias("message_id")),
                                   "message_id"))
        topics = assign(model, openings_embedded)
        labels = ctx.spark.createDataFrame(
            [(int(i), label, bool(new)) for i, label, new in zip(model.topic_ids, model.labels, model.new,
                                                                  strict=True)],
            "topic_id int, topic_label string, topic_new boolean")
        per_conversation = (opening_of.join(topics.withColumnRenamed("message_id", "opening_message_id"),
                                            "opening_message_id")
                            .join(F.broadcast(labels), "topic_id"))
        assigned_at = datetime.now(UTC).replace(tzinfo=None)
        rows = (in_dates.select("message_id", "conversation_id", "sent_date")
                .join(per_conversation, "conversation_id")
                .select("message_id", "conversation_id", "opening_message_id", "topic_id", "topic_label",
                        "distance", "topic_new", F.lit(cfg.model_name).alias("model_name"),
                        F.lit(version).alias("model_version"),
                        F.lit(assigned_at).cast("timestamp").alias("assigned_at"), "sent_date"))
        if ctx.lake.exists(SILVER_MESSAGE_TOPICS) and verdict is None:
            done = (ctx.lake.read(SILVER_MESSAGE_TOPICS)
                    .where((F.col("model_name") == cfg.model_name) & (F.col("model_version") == version))
                    .select("message_id"))
            rows = rows.join(done, "message_id", "left_anti")
        rows = rows.cache()
        assigned_n = rows.count()
        if assigned_n:
            ctx.lake.merge(rows, SILVER_MESSAGE_TOPICS, ["message_id"], partition_by=["sent_date"])
        rows.unpersist()
    finally:
        opening_of.unpersist()
    return TopicsResult(version, embedded_n, assigned_n, verdict)


def _main(argv: Sequence[str] | None) -> int:
    parser = job_parser("voicelake topics", "Embed conversation openings and assign every customer message "
                                            "its conversation's topic.")
    add_date_arguments(parser)
    parser.add_argument("--refit", action="store_true",
                        help="fit the topic model again on a sample of stored embeddings (challenger; "
                             "promoted when at least as close as the champion)")
    args = parser.parse_args(argv)
    from voicelake.jobs.ideas import build_suggestion_ideas, ideas_summary

    with open_lake(args.env) as ctx:
        r = build_topics(ctx, args.date, args.since, args.until, args.refit)
        ideas = build_suggestion_ideas(ctx)
    if r.version == "none":
        print(f"topics: {r.refit}")
    else:
        print(f"{SILVER_MESSAGE_EMBEDDINGS}: {r.embedded} openings embedded; {SILVER_MESSAGE_TOPICS}: "
              f"{r.assigned} messages assigned by {ctx.config.topics.model_name} v{r.version}")
    print(ideas_summary(ideas))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
