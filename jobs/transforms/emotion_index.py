"""Pure transformations behind gold.emotion_index: an NPS-like score from every active customer.

1. `customer_windows`: per week and customer, features of the customer's own messages in
   the trailing window (survey verbatims excluded: non-respondents have none), the
   channels they used, their product, and their NPS answer if they gave one in the window.
2. `with_respondent_posteriors`: the calibration model's respondent posteriors as column
   expressions (a linear model: no UDF).
3. `build_emotion_index`: per week x product x channel (and channel ``all``), the class
   shares re-estimated for the segment by EM with the customers' own answers as known
   (`voicelake.models.nps_calibration.segment_index`), run in parallel per segment with
   ``applyInPandas``; index = 100 * (P(promoter) - P(detractor)), a 95% Poisson-bootstrap
   interval over customers, the survey NPS of the respondents beside it, coverage, and the
   silent middle (expected passives among the customers who did not answer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from voicelake.models.nps_calibration import CalibrationModel, segment_index

DISTRESS = ("anger", "frustration", "anxiety", "disappointment")
CONTACTS = "conversations"  # the feature counting a customer's contacts: each was a chance to be surveyed
ALL_CHANNELS = "all"
INDEX_SCHEMA = (
    "week date, product string, channel string, active_customers long, customers_heard long, "
    "customers_surveyed long, survey_nps double, emotion_index double, emotion_index_low double, "
    "emotion_index_high double, share_detractor double, share_passive double, share_promoter double, "
    "coverage double, never_surveyed long, silent_passives double, status string")


def feature_names(labels: Sequence[str]) -> tuple[str, ...]:
    """The model's features for a taxonomy's labels."""
    return ("messages", "conversations", "mean_valence", "min_valence", "last_valence", "max_distress",
            "mean_intensity", "negative_share", *(f"mean_p_{label}" for label in labels))


def customer_windows(messages: DataFrame, emotions: DataFrame, answers: DataFrame, windows: DataFrame,
                     labels: Sequence[str], negative_valence: float = -0.2) -> DataFrame:
    """One row per (week, customer_key) active in the week's window.

    ``windows``: (week date, window_start timestamp, window_end timestamp). ``answers``:
    (customer_key, answered_at timestamp, nps_score int, product string). Features are NULL
    for a customer who only answered a survey (not heard); ``answer`` is the class (0-2) of
    the last answer in the window, -1 when none.
    """
    intensity = F.greatest(*(F.col(f"p_{label}") for label in labels if label != "neutral"))
    distress = sum((F.col(f"p_{label}") for label in DISTRESS if label in labels), F.lit(0.0))
    scored = (messages.where((F.col("author_role") == "customer") & (F.col("channel") != "survey")
                             & F.col("customer_key").isNotNull())
              .select("message_id", "conversation_id", "customer_key", "channel", "product", "sent_at")
              .join(emotions.select("message_id", "valence", *(f"p_{label}" for label in labels),
                                    intensity.alias("_intensity"), distress.alias("_distress")), "message_id"))
    in_window = (F.col("sent_at") >= F.col("window_start")) & (F.col("sent_at") < F.col("window_end"))
    heard = scored.join(F.broadcast(windows), in_window).groupBy("week", "customer_key").agg(
        F.count(F.lit(1)).cast("double").alias("messages"),
        F.countDistinct("conversation_id").cast("double").alias("conversations"),
        F.avg("valence").alias("mean_valence"), F.min("valence").alias("min_valence"),
        F.max_by("valence", "sent_at").alias("last_valence"), F.max("_distress").alias("max_distress"),
        F.avg("_intensity").alias("mean_intensity"),
        F.avg((F.col("valence") < negative_valence).cast("double")).alias("negative_share"),
        *(F.avg(f"p_{label}").alias(f"mean_p_{label}") for label in labels),
        F.mode("product").alias("_product"), F.collect_set("channel").alias("channels"))
    answered_in = (F.col("answered_at") >= F.col("window_start")) & (F.col("answered_at") < F.col("window_end"))
    klass = F.when(F.col("nps_score") >= 9, 2).when(F.col("nps_score") >= 7, 1).otherwise(0)
    surveyed = (answers.where(F.col("customer_key").isNotNull() & F.col("nps_score").isNotNull())
                .join(F.broadcast(windows), answered_in).groupBy("week", "customer_key")
                .agg(F.max_by(klass, "answered_at").alias("answer"),
                     F.max_by("nps_score", "answered_at").alias("nps_score"),
                     F.max_by("product", "answered_at").alias("_answer_product")))
    out = heard.join(surveyed, ["week", "customer_key"], "full")
    return out.select(
        "week", "customer_key",
        F.coalesce("_product", "_answer_product", F.lit("unknown")).alias("product"),
        F.coalesce("channels", F.array()).alias("channels"),
        F.col("messages").isNotNull().alias("heard"),
        F.coalesce("answer", F.lit(-1)).alias("answer"), "nps_score",
        *feature_names(labels)[:8], *(f"mean_p_{label}" for label in labels))


def _linear(coefficients: Mapping[str, Any], k: int) -> Column:
    z: Column = F.lit(float(coefficients["intercept"][k]))
    for j, name in enumerate(coefficients["features"]):
        weight = float(coefficients["coef"][k][j]) / float(coefficients["scale"][j])
        z = z + F.lit(weight) * (F.coalesce(F.col(name), F.lit(float(coefficients["mean"][j])))
                                 - F.lit(float(coefficients["mean"][j])))
    return z


def with_respondent_posteriors(customers: DataFrame, coefficients: Mapping[str, Any]) -> DataFrame:
    """Add ``q_detractor, q_passive, q_promoter``: the model's respondent posteriors (no
    non-response correction; `build_emotion_index` re-estimates the segment's shares). A
    customer not heard has every feature at its mean: the model's base rates."""
    z = [_linear(coefficients, k) for k in range(3)]
    top = F.greatest(*z)
    e = [F.exp(zk - top) for zk in z]
    total = e[0] + e[1] + e[2]
    return customers.select("*", (e[0] / total).alias("q_detractor"), (e[1] / total).alias("q_passive"),
                            (e[2] / total).alias("q_promoter"))


def _segments(customers: DataFrame) -> DataFrame:
    channel = F.explode(F.array_union(F.array(F.lit(ALL_CHANNELS)),
                                      F.when(F.col("answer") >= 0, F.array_union(F.col("channels"),
                                                                                  F.array(F.lit("survey"))))
                                      .otherwise(F.col("channels"))))
    return customers.select("week", "product", channel.alias("channel"), "customer_key", "heard", "answer",
                            "nps_score", CONTACTS, "q_detractor", "q_passive", "q_promoter")


def build_emotion_index(customers: DataFrame, coefficients: Mapping[str, Any] | None, replicates: int = 200,
                        min_customers: int = 30, seed: int = 0, prior_strength: float = 0.0,
                        missing_model: str = "no calibration model: too few survey answers to fit one") -> DataFrame:
    """gold.emotion_index rows (without the model version column, added by the job);
    ``missing_model`` is the status of every row when ``coefficients`` is None."""
    if coefficients is None:
        segments = _segments(customers.select(
            "*", *(F.lit(None).cast("double").alias(c) for c in ("q_detractor", "q_passive", "q_promoter"))))
    else:
        segments = _segments(with_respondent_posteriors(customers, coefficients))
    model = CalibrationModel.from_coefficients(dict(coefficients)) if coefficients is not None else None

    def one_segment(frame: pd.DataFrame) -> pd.DataFrame:
        answers = frame["answer"].to_numpy(dtype=int)
        surveyed = answers >= 0
        scores = frame.loc[surveyed, "nps_score"].to_numpy(dtype=float)
        survey_nps = (100.0 * (np.mean(scores >= 9) - np.mean(scores <= 6))) if len(scores) else None
        row: dict[str, Any] = {
            "week": frame["week"].iloc[0], "product": frame["product"].iloc[0], "channel": frame["channel"].iloc[0],
            "active_customers": len(frame), "customers_heard": int(frame["heard"].sum()),
            "customers_surveyed": int(surveyed.sum()), "survey_nps": survey_nps,
            "emotion_index": None, "emotion_index_low": None, "emotion_index_high": None,
            "share_detractor": None, "share_passive": None, "share_promoter": None,
            "coverage": float(frame["heard"].mean()), "never_surveyed": int((~surveyed).sum()),
            "silent_passives": None, "status": "ok"}
        if model is None:
            row["status"] = missing_model
        elif len(frame) < min_customers:
            row["status"] = f"too few active customers (n={len(frame)} < {min_customers})"
        else:
            base = frame[["q_detractor", "q_passive", "q_promoter"]].to_numpy(dtype=float)
            result = segment_index(model, base, answers, frame[CONTACTS].to_numpy(dtype=float),
                                   replicates=replicates, seed=seed, prior_strength=prior_strength)
            row.update(emotion_index=result.index, emotion_index_low=result.low, emotion_index_high=result.high,
                       share_detractor=result.shares[0], share_passive=result.shares[1],
                       share_promoter=result.shares[2],
                       # the silent middle: expected passives among those who never answered
                       silent_passives=max(0.0, result.shares[1] * len(frame) - float((answers == 1).sum())))
        return pd.DataFrame([row])

    return segments.groupBy("week", "product", "channel").applyInPandas(one_segment, INDEX_SCHEMA)
