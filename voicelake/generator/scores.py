"""Synthetic emotion scores in silver.message_emotions' shape, computed in Spark.

For benchmarks and tests of what comes after scoring (validation, gold marts) at volumes
the real model cannot score on a laptop. The label is a hash of the message id (or a given
column expression); the label gets probability 0.6 and every other label shares the rest,
so probabilities sum to 1 and valence follows the taxonomy's groups. Marked with the model
name ``synthetic`` so such rows are never mistaken for model output.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

TOP_PROBABILITY = 0.6


def synthetic_scores(messages: DataFrame, labels: Sequence[str], positive: Sequence[str],
                     negative: Sequence[str], label: Column | None = None) -> DataFrame:
    """One score row per message (message_id, label, p_*, valence, confidence,
    input_status, model_name, model_version, scored_at, sent_date)."""
    if label is None:
        label = F.element_at(F.array(*[F.lit(x) for x in labels]),
                             (F.abs(F.hash("message_id")) % len(labels) + 1).cast("int"))
    rest = (1.0 - TOP_PROBABILITY) / (len(labels) - 1)
    framed = messages.select("message_id", "sent_date", label.alias("label"))
    probs = {x: F.when(F.col("label") == x, TOP_PROBABILITY).otherwise(rest) for x in labels}

    def group(names: Sequence[str]) -> Column:
        return sum((probs[x] for x in names), F.lit(0.0))

    return framed.select(
        "message_id", "label", *[probs[x].alias(f"p_{x}") for x in labels],
        (group(positive) - group(negative)).alias("valence"),
        F.lit(TOP_PROBABILITY).alias("confidence"), F.lit("ok").alias("input_status"),
        F.lit("synthetic").alias("model_name"), F.lit("0").alias("model_version"),
        F.lit(datetime(2026, 1, 1)).alias("scored_at"), "sent_date")


def planted_scores(messages: DataFrame, truth_messages: DataFrame, labels: Sequence[str],
                   positive: Sequence[str], negative: Sequence[str]) -> DataFrame:
    """Synthetic scores whose label is the emotion the generator drew each text from (its
    ``truth/messages.jsonl``: customers' ``emotion``, agents' ``agent_tone`` 'empathy' as the
    label ``empathy``, everything else ``neutral``): a perfect model, for judging the marts'
    statistics on planted truth apart from the model's errors."""
    planted = F.when(F.col("_tone") == "empathy", F.lit("empathy")).otherwise(F.col("_emotion"))
    known = F.when(planted.isin(*labels), planted).otherwise(F.lit("neutral"))
    truth = truth_messages.select("message_id", F.col("emotion").alias("_emotion"),
                                  F.col("agent_tone").alias("_tone"))
    return synthetic_scores(messages.join(truth, "message_id", "left"), labels, positive, negative,
                            label=F.coalesce(known, F.lit("neutral")))
