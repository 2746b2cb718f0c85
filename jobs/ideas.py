"""Suggestion sentences grouped into product ideas: silver.suggestion_embeddings,
silver.suggestion_ideas and silver.idea_models (`voicelake.models.ideas`).

Run by `voicelake topics` after the topics (it shares their encoder), once
silver.message_suggestions exists:

1. every suggestion sentence not embedded yet (a new message, or a new detector that picked
   another sentence of it) is normalised for topic and embedded with ``suggestions.encoder``
   into ``silver.suggestion_embeddings`` (MERGE on message_id);
2. each product's ideas are fitted again on a sample of its stored embeddings
   (``suggestions.ideas``: average-linkage clustering that stops at ``distance_threshold``),
   ids matched to the last fit's (kept in ``silver.idea_models``, one JSON row per product and
   fit, so an idea found again keeps its id);
3. every stored suggestion is assigned its product's nearest idea (or -1 when none is close
   enough) into ``silver.suggestion_ideas``, rewritten whole: one fit's ids across the history.
   Suggestions of messages without a product are grouped as the product "(none)".

Suggestions are a few percent of customer messages, so a fit on a few thousand sentences and
one nearest-centroid pass over all of them is cheap next to scoring.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from voicelake.jobs.topics import embed_missing, product_names
from voicelake.lake import scalar
from voicelake.models.ideas import UNASSIGNED_IDEA, IdeaParams, assign_ideas, fit_ideas
from voicelake.models.topics import TopicModel, topic_text
from voicelake.runtime import JobContext
from voicelake.schemas import (
    SILVER_IDEA_MODELS,
    SILVER_MESSAGE_SUGGESTIONS,
    SILVER_MESSAGES,
    SILVER_SUGGESTION_EMBEDDINGS,
    SILVER_SUGGESTION_IDEAS,
)

NO_PRODUCT = "(none)"


@dataclass(frozen=True)
class IdeasResult:
    version: int  # the fit's number in silver.idea_models
    embedded: int  # sentences embedded by this run
    suggestions: int  # suggestions assigned
    ideas: int  # ideas found
    kept: int  # of them, ideas the previous fit had


def idea_params(ctx: JobContext) -> IdeaParams:
    return IdeaParams.from_config(ctx.config.suggestions.ideas)


def _previous(ctx: JobContext) -> tuple[int, dict[str, TopicModel]]:
    """The last fit's number and each product's model (0, {} before the first)."""
    if not ctx.lake.exists(SILVER_IDEA_MODELS):
        return 0, {}
    fits = ctx.lake.read(SILVER_IDEA_MODELS)
    version = scalar(fits.agg(F.max("version")))
    if version is None:
        return 0, {}
    return int(version), {r["product"]: TopicModel.from_dict(json.loads(r["model_json"]))
                          for r in fits.where(F.col("version") == version).collect()}


def _sample(stored: DataFrame, params: IdeaParams, products: list[str]) -> dict[str, tuple[np.ndarray, list[str],
                                                                                          np.ndarray]]:
    """Per product: the distinct normalised sentences of a sample of up to
    ``params.fit_sample`` of its stored suggestions, their embeddings and how many sample
    suggestions each stands for."""
    counts = {r["product"]: r["n"] for r in stored.groupBy("product").agg(F.count(F.lit(1)).alias("n")).collect()}
    fractions = {p: min(1.0, params.fit_sample / n * 1.05) for p, n in counts.items()}
    rows = cast(pd.DataFrame, stored.sampleBy("product", fractions, seed=params.seed)
                .withColumn("_n", F.row_number().over(Window.partitionBy("product").orderBy(F.rand(params.seed))))
                .where(F.col("_n") <= params.fit_sample)
                .select("product", "sentence", "embedding").toPandas())
    out = {}
    for product, part in rows.groupby("product", sort=True):
        part = part.assign(text=[topic_text(t, products) for t in part["sentence"]])
        first = part.groupby("text", sort=True).agg(embedding=("embedding", "first"), weight=("sentence", "size"))
        out[str(product)] = (np.stack([np.asarray(e, dtype=np.float32) for e in first["embedding"]]),
                             list(first.index), first["weight"].to_numpy())
    return out


def _assign(models: dict[str, TopicModel], stored: DataFrame, threshold: float) -> DataFrame:
    data = {product: model.to_dict() for product, model in models.items()}

    def nearest(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        local = {product: TopicModel.from_dict(d) for product, d in data.items()}
        for batch in batches:
            ids = np.full(len(batch), UNASSIGNED_IDEA)
            distance = np.full(len(batch), np.nan)
            for product, rows in batch.groupby("product").indices.items():
                model = local.get(product)
                if model is None:
                    continue
                vectors = np.stack([np.asarray(e, dtype=np.float32) for e in batch["embedding"].iloc[rows]])
                ids[rows], distance[rows] = assign_ideas(model, vectors, threshold)
            yield pd.DataFrame({"message_id": batch["message_id"], "idea_id": ids.astype("int32"),
                                "distance": distance})

    return stored.select("message_id", "product", "embedding").mapInPandas(
        nearest, "message_id string, idea_id int, distance double")


def build_suggestion_ideas(ctx: JobContext) -> IdeasResult | None:
    """Embed new suggestion sentences, fit each product's ideas again and assign every
    suggestion; None before the suggestion detector has scored anything."""
    if not (ctx.lake.exists(SILVER_MESSAGE_SUGGESTIONS) and ctx.lake.exists(SILVER_MESSAGES)):
        return None
    cfg, params = ctx.config.suggestions, idea_params(ctx)
    messages = ctx.lake.read(SILVER_MESSAGES)
    products = product_names(messages)
    suggestions = (ctx.lake.read(SILVER_MESSAGE_SUGGESTIONS).where(F.col("is_suggestion"))
                   .select("message_id", F.col("suggestion_sentence").alias("sentence"), "sent_date")
                   .join(messages.select("message_id", F.coalesce("product", F.lit(NO_PRODUCT)).alias("product")),
                         "message_id"))
    # the sentence is part of the key: a new detector may pick another sentence of a message
    embedded = embed_missing(ctx, suggestions.withColumn("text", F.col("sentence")), SILVER_SUGGESTION_EMBEDDINGS,
                             ["message_id", "sentence"], products, cfg.encoder, cfg.max_length, cfg.batch_size)
    if not ctx.lake.exists(SILVER_SUGGESTION_EMBEDDINGS):
        return None
    # the stored embedding of each current suggestion (a message no longer a suggestion drops out)
    stored = (ctx.lake.read(SILVER_SUGGESTION_EMBEDDINGS).where(F.col("encoder") == cfg.encoder)
              .join(suggestions.select("message_id", "sentence"), ["message_id", "sentence"]).cache())
    try:
        version, previous = _previous(ctx)
        version += 1
        fitted_at = datetime.now(UTC).replace(tzinfo=None)
        models = {product: fit_ideas(embeddings, texts, params, previous.get(product), cfg.encoder, weights)
                  for product, (embeddings, texts, weights) in _sample(stored, params, products).items()}
        ctx.lake.append(ctx.spark.createDataFrame(
            [(version, product, fitted_at, len(m.topic_ids), m.to_json()) for product, m in models.items()],
            "version int, product string, fitted_at timestamp, ideas int, model_json string"), SILVER_IDEA_MODELS)
        labels = ctx.spark.createDataFrame(
            [(product, int(i), label, bool(new)) for product, m in models.items()
             for i, label, new in zip(m.topic_ids, m.labels, m.new, strict=True)],
            "product string, idea_id int, idea_label string, idea_new boolean")
        rows = (stored.select("message_id", "product", "sentence", "sent_date")
                .join(_assign(models, stored, params.distance_threshold), "message_id")
                .join(F.broadcast(labels), ["product", "idea_id"], "left")
                .select("message_id", "product", "idea_id", "idea_label", "idea_new", "distance", "sentence",
                        F.lit(version).alias("idea_model_version"),
                        F.lit(fitted_at).cast("timestamp").alias("assigned_at"), "sent_date"))
        ctx.lake.overwrite(rows, SILVER_SUGGESTION_IDEAS, partition_by=["sent_date"])
        assigned = ctx.lake.rows_written(SILVER_SUGGESTION_IDEAS)
    finally:
        stored.unpersist()
    found = sum(len(m.topic_ids) for m in models.values())
    kept = sum(not n for m in models.values() for n in m.new) if previous else 0
    return IdeasResult(version, embedded, assigned, found, kept)


def ideas_summary(result: IdeasResult | None) -> str:
    """One line on what `build_suggestion_ideas` did."""
    if result is None:
        return f"{SILVER_SUGGESTION_IDEAS}: skipped, no suggestions scored yet (train-suggestions, then score)"
    return (f"{SILVER_SUGGESTION_EMBEDDINGS}: {result.embedded} sentences embedded; {SILVER_SUGGESTION_IDEAS}: "
            f"{result.suggestions} suggestions in {result.ideas} ideas ({result.kept} kept from the last fit), "
            f"fit v{result.version}")
