"""Judge the voice-of-customer marts against the generator's planted truth.

The acceptance figures of docs/marts.md, computed from the published gold tables and the
``truth/`` folder beside a generated history's answer file (docs/generator.md): used by
``tests/jobs/test_voc_marts.py`` and ``bench/bench_marts.py``. Pure reads; nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from voicelake.generator.history import TRUTH_DIR

WEEKS_IGNORED_AT_EDGES = 1  # a partial first/last week has few active customers per product


def _pandas(df: DataFrame) -> pd.DataFrame:
    return cast(pd.DataFrame, df.toPandas())


def read_truth(spark: SparkSession, answers_file: Path) -> dict[str, DataFrame]:
    """The truth tables as DataFrames: customer_weeks, conversations, messages, population_nps, churn."""
    root = answers_file.parent / TRUTH_DIR
    return {name: spark.read.json(str(root / f"{name}.jsonl"))
            for name in ("customer_weeks", "conversations", "messages", "population_nps", "churn")}


@dataclass(frozen=True)
class IndexAccuracy:
    product_weeks: int
    mae: float                 # |emotion index - true NPS of active customers|, mean over product-weeks
    survey_mae: float          # the same for the respondents-only survey NPS
    coverage: float            # share of product-weeks whose 95% interval holds the true NPS
    without_index: int         # product-weeks with no index (status says why)


def index_accuracy(index: DataFrame, population: DataFrame) -> IndexAccuracy:
    """The all-channel emotion index of each product-week against the true population NPS."""
    ours = _pandas(index.where(F.col("channel") == "all").select(
        "week", "product", "emotion_index", "emotion_index_low", "emotion_index_high", "survey_nps"))
    truth = _pandas(population.select(F.to_date("week_start").alias("week"), "product", "true_nps"))
    both = ours.merge(truth, on=["week", "product"]).dropna(subset=["true_nps"])
    weeks = sorted(both["week"].unique())
    if len(weeks) > 2 * WEEKS_IGNORED_AT_EDGES:
        both = both[both["week"].isin(weeks[WEEKS_IGNORED_AT_EDGES:-WEEKS_IGNORED_AT_EDGES])]
    scored = both.dropna(subset=["emotion_index"])
    err = (scored["emotion_index"] - scored["true_nps"]).abs()
    surveyed = both.dropna(subset=["survey_nps"])
    inside = (scored["emotion_index_low"] <= scored["true_nps"]) & (scored["true_nps"] <= scored["emotion_index_high"])
    return IndexAccuracy(len(scored), float(err.mean()) if len(err) else float("nan"),
                         float((surveyed["survey_nps"] - surveyed["true_nps"]).abs().mean()),
                         float(inside.mean()) if len(inside) else float("nan"), int(len(both) - len(scored)))


@dataclass(frozen=True)
class OutcomeAgreement:
    conversations: int
    precision: float
    recall: float
    f1: float


def trust_agreement(outcomes: DataFrame, truth_conversations: DataFrame) -> OutcomeAgreement:
    """``trust_restored`` against the planted outcome, over conversations whose repeat window closed."""
    truth = truth_conversations.where(F.col("started_negative").isNotNull()).select(
        "conversation_id", F.col("trust_restored").alias("planted"))
    rows = _pandas(outcomes.where(~F.col("repeat_window_open")).join(truth, "conversation_id")
                   .select("trust_restored", "planted"))
    ours = rows["trust_restored"].astype(bool)
    planted = rows["planted"].astype("boolean").fillna(False).astype(bool)
    tp = float((ours & planted).sum())
    precision = tp / max(1.0, float(ours.sum()))
    recall = tp / max(1.0, float(planted.sum()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return OutcomeAgreement(len(rows), precision, recall, f1)


def shift_sign_agreement(outcomes: DataFrame, messages: DataFrame, truth_messages: DataFrame,
                         positive: Sequence[str], negative: Sequence[str]) -> tuple[int, float]:
    """(conversations, share) whose ``valence_shift`` has the sign of the planted one: the
    emotions the customer's turns were drawn from (+1 positive, -1 negative, 0 else),
    compared first k turns against last k as the mart does; conversations whose planted
    shift is 0 are left out."""
    planted = truth_messages.where(F.col("role") == "customer").select(
        "message_id", F.when(F.col("emotion").isin(*positive), 1.0)
        .when(F.col("emotion").isin(*negative), -1.0).otherwise(0.0).alias("v"))
    turns = _pandas(messages.select("message_id", "conversation_id", "sent_at").join(planted, "message_id"))
    turns = turns.sort_values(["conversation_id", "sent_at", "message_id"])
    expected: dict[str, float] = {}
    for conversation, group in turns.groupby("conversation_id"):
        v = group["v"].to_numpy()
        k = max(1, min(2, len(v) // 2))
        expected[str(conversation)] = float(np.sign(v[-k:].mean() - v[:k].mean()))
    ours = _pandas(outcomes.select("conversation_id", "valence_shift"))
    ours["expected"] = ours["conversation_id"].map(expected)
    judged = ours[ours["expected"].notna() & (ours["expected"] != 0)]
    agree = float((np.sign(judged["valence_shift"]) == judged["expected"]).mean()) if len(judged) else float("nan")
    return len(judged), agree


def agent_order(scorecard: DataFrame, agent_ids: Mapping[str, str]) -> list[str]:
    """Agents (generator ids) by empathy rate over the whole period, best first: hits and
    opportunities summed over weeks, shrunk like the weekly rank score."""
    totals = _pandas(scorecard.groupBy("agent_key").agg(F.sum("empathy_hits").alias("hits"),
                                                        F.sum("empathy_opportunities").alias("n")))
    totals = totals[totals["n"] > 0]
    mean = totals["hits"].sum() / totals["n"].sum()
    prior = 10.0  # pseudo-opportunities toward the team rate
    totals["score"] = (totals["hits"] + prior * mean) / (totals["n"] + prior)
    by_key = {v: k for k, v in agent_ids.items()}
    ordered = totals.sort_values(["score", "agent_key"], ascending=[False, True])["agent_key"]
    return [by_key.get(k, k) for k in ordered]


def weekly_top(frame: DataFrame, rank_column: str, columns: Sequence[str]) -> pd.DataFrame:
    """The rank-1 row of each week."""
    return _pandas(frame.where(F.col(rank_column) == 1).select("week", *columns).orderBy("week"))


def top_service_gaps(gaps: DataFrame, top: int = 3) -> pd.DataFrame:
    """Queue-level gap over the whole period: conversations-weighted gap score of each queue
    (its ``level`` 'queue' rows), largest first."""
    ranked = gaps.where(F.col("level") == "queue")
    return _pandas(ranked.groupBy("queue").agg(
        (F.sum(F.col("gap_score") * F.col("conversations")) / F.sum("conversations")).alias("gap_score"),
        F.sum("conversations").alias("conversations"))
        .orderBy(F.col("gap_score").desc()).limit(top))


def first_passive_theme(drivers: DataFrame) -> pd.DataFrame:
    """Per month x product the rank-1 theme."""
    return _pandas(drivers.where((F.col("kind") == "theme") & (F.col("rank") == 1))
                   .select("month", "product", "item", "lift", "lift_low", "passives_with", "passives")
                   .orderBy("month", "product"))


def calibration_figures(customers: pd.DataFrame, coefficients: Mapping[str, Any],
                        truth_classes: pd.DataFrame) -> dict[str, float]:
    """Calibration error of P(promoter) over active customers against their planted class.

    ``customers``: customer_windows rows (week, customer_key, answer, features...);
    ``truth_classes``: (week, customer_key, nps_class)."""
    from voicelake.models.nps_calibration import CalibrationModel, calibration_error

    model = CalibrationModel.from_coefficients(dict(coefficients))
    features = list(model.features)
    frame = customers.merge(truth_classes, on=["week", "customer_key"])
    x = frame[features].astype(float).fillna(pd.Series(model.mean, index=features))
    answered = frame["answer"].to_numpy() >= 0
    p = np.where(answered[:, None], 0.0, model.predict_proba(x, nonrespondent=True))
    p[answered, frame.loc[answered, "answer"].astype(int).to_numpy()] = 1.0
    promoter = (frame["nps_class"] == "promoter").to_numpy(dtype=float)
    heard = ~answered
    return {"customers": float(len(frame)),
            "ece_promoter_nonrespondents": calibration_error(p[heard, 2], promoter[heard]),
            "ece_promoter_all": calibration_error(p[:, 2], promoter)}


# -- topic alerts ----------------------------------------------------------------------------

def planted_alert_starts(scenarios: Mapping[str, Any]) -> dict[str, Any]:
    """Planted topic -> the day its event starts: the incident's spike, the emerging topic,
    the bad release (whose topic its upgraded customers write about)."""
    return {"outage": pd.Timestamp(scenarios["incident"]["spike_dates"][0]).date(),
            "login_loop": pd.Timestamp(scenarios["emerging_topic"]["starts_on"]).date(),
            "wifi_drops_after_update": pd.Timestamp(scenarios["bad_release"]["released_on"]).date()}


def planted_topic_daily(spark: SparkSession, truth_conversations: DataFrame, start: Any) -> DataFrame:
    """gold.topic_daily's shape from the planted truth: each support, review or social
    conversation counted on its day under its planted topic (ids in topic-name order), its
    opening emotion negative or not; what a perfect topic model and emotion model would give."""
    convs = truth_conversations.where(F.col("channel") != "survey")
    topics = sorted(r[0] for r in convs.select("topic").distinct().collect())
    ids = spark.createDataFrame([(i, t) for i, t in enumerate(topics)], "topic_id int, topic string")
    return (convs.join(F.broadcast(ids), "topic")
            .groupBy(F.date_add(F.lit(start), F.col("day").cast("int")).alias("date"), "topic_id",
                     F.col("topic").alias("topic_label"))
            .agg(F.count(F.lit(1)).alias("conversations"),
                 F.sum(F.col("started_negative").cast("int")).cast("long").alias("negative_messages"))
            .withColumn("scored_messages", F.col("conversations")))


@dataclass(frozen=True)
class AlertDetection:
    lags: dict[str, int | None]   # planted topic -> days from the planted start to its first alert
    kinds: dict[str, str | None]  # ... and that alert's kind
    false_alerts: int             # alerts on other topics, or on a planted topic before its start
    series_days: int              # topic x day pairs tested

    @property
    def false_per_1500(self) -> float:
        """False alerts per 30 days per 50 topic series."""
        return self.false_alerts / self.series_days * 1500 if self.series_days else float("nan")


def alert_detection(alerts: pd.DataFrame, scenarios: Mapping[str, Any], series_days: int) -> AlertDetection:
    """Lags of the planted incident spike, emerging topic and bad release's topic, and the
    false alerts, from gold.topic_alerts rows labelled with the planted topics' names."""
    starts = planted_alert_starts(scenarios)
    dates = pd.to_datetime(alerts["date"]).dt.date if len(alerts) else pd.Series([], dtype=object)
    lags: dict[str, int | None] = {}
    kinds: dict[str, str | None] = {}
    true = pd.Series(False, index=alerts.index)
    for topic, start in starts.items():
        mine = (alerts["topic_label"] == topic) & (dates >= start)
        true |= mine
        hits = alerts[mine].assign(_d=dates[mine]).sort_values("_d")
        lags[topic] = (hits["_d"].iloc[0] - start).days if len(hits) else None
        kinds[topic] = str(hits["kind"].iloc[0]) if len(hits) else None
    return AlertDetection(lags, kinds, int((~true).sum()), series_days)


def model_topic_alert_detection(alerts: pd.DataFrame, topics: DataFrame, truth_conversations: DataFrame,
                                scenarios: Mapping[str, Any], series_days: int,
                                carrier_share: float = 0.25) -> AlertDetection:
    """`alert_detection` when topics come from the topic model: a planted event's topics are
    the model topics that carry at least ``carrier_share`` of the planted topic's conversations
    in its first week; an alert on one of them from the event's start on is a detection,
    every other alert is false."""
    per_conversation = topics.select("conversation_id", "topic_id", "sent_date").dropDuplicates(["conversation_id"])
    joined = _pandas(per_conversation.join(truth_conversations.select("conversation_id", "topic"),
                                           "conversation_id"))
    joined["sent_date"] = pd.to_datetime(joined["sent_date"]).dt.date
    labelled = alerts.copy()
    labelled["topic_label"] = None
    carriers: dict[str, set[int]] = {}
    for planted, first in planted_alert_starts(scenarios).items():
        week = joined[(joined["topic"] == planted) & (joined["sent_date"] >= first)
                      & (joined["sent_date"] < first + pd.Timedelta(days=7))]
        shares = week["topic_id"].value_counts(normalize=True)
        carriers[planted] = {int(t) for t, share in shares.items() if share >= carrier_share}
    # an alert is named after the planted topic it carries (the first that matches)
    for planted, ids in carriers.items():
        hit = labelled["topic_id"].isin(ids) & labelled["topic_label"].isna()
        labelled.loc[hit, "topic_label"] = planted
    labelled["topic_label"] = labelled["topic_label"].fillna("other")
    return alert_detection(labelled, scenarios, series_days)


# -- incidents ---------------------------------------------------------------------------------

def planted_openings(truth_conversations: DataFrame) -> DataFrame:
    """complaint_openings' shape from the planted truth: every conversation but survey answers
    at the time it opened, negative when it opened with a negative emotion, under its planted
    topic; what a perfect emotion and topic model would give."""
    return truth_conversations.where(F.col("channel") != "survey").select(
        "conversation_id", F.col("conversation_id").alias("message_id"), "product", "product_version",
        F.col("customer_id").alias("customer_key"), "channel", F.to_timestamp("opened_at").alias("opened_at"),
        F.col("started_negative").alias("negative"), F.col("topic").alias("topic_label"))


def landed_incidents(spark: SparkSession, landing: Path) -> DataFrame:
    """The incident records the generator landed, typed as bronze types them."""
    raw = spark.read.csv(str(landing / "incidents"), header=True)
    return raw.select("incident_id", "product", "severity", F.to_timestamp("started_at").alias("started_at"),
                      F.to_timestamp("ended_at").alias("ended_at"), "title")


@dataclass(frozen=True)
class IncidentDetection:
    sev1_lift: float | None          # the planted SEV1's lift
    sev1_impact: bool                # ... flagged with customer impact
    lead_minutes: float | None       # ... measured lead time (complaints rose before it was declared)
    planted_lead_minutes: float
    decoys_flagged: int              # SEV3 decoys flagged with customer impact
    decoys: int
    dark_outage_found: bool          # an unexplained spike on the dark outage's product overlaps it
    other_spikes: int                # unexplained spikes elsewhere
    silent_unnoticed: bool           # the incident without customer signal is listed as unnoticed

    @property
    def lead_error_minutes(self) -> float | None:
        return None if self.lead_minutes is None else abs(self.lead_minutes - self.planted_lead_minutes)


def incident_detection(impact: pd.DataFrame, spikes: pd.DataFrame, scenarios: Mapping[str, Any]) -> IncidentDetection:
    """The planted incidents against gold.incident_impact and gold.unexplained_spikes rows."""
    inc, dark, silent = scenarios["incident"], scenarios["dark_outage"], scenarios["silent_incident"]
    by_id = impact.set_index("incident_id")
    sev1 = by_id.loc[inc["incident_id"]] if inc["incident_id"] in by_id.index else None
    decoy_ids = [d["incident_id"] for d in scenarios["decoys"]["incidents"]]
    decoys = by_id.loc[by_id.index.isin(decoy_ids)]
    unexplained = spikes[spikes["kind"] == "unexplained_spike"]
    d0, d1 = pd.Timestamp(dark["started_at"]).tz_localize(None), pd.Timestamp(dark["ended_at"]).tz_localize(None)
    on_dark = ((unexplained["product"] == dark["product"]) & (pd.to_datetime(unexplained["started_at"]) < d1)
               & (pd.to_datetime(unexplained["ended_at"]) > d0))
    unnoticed = spikes[spikes["kind"] == "unnoticed_incident"]
    return IncidentDetection(
        sev1_lift=None if sev1 is None or pd.isna(sev1["lift"]) else float(sev1["lift"]),
        sev1_impact=bool(sev1 is not None and sev1["customer_impact"] is True),
        lead_minutes=None if sev1 is None or pd.isna(sev1["lead_minutes"]) else float(sev1["lead_minutes"]),
        planted_lead_minutes=float(inc["lead_minutes"]),
        decoys_flagged=int((decoys["customer_impact"] == True).sum()),  # noqa: E712 (nullable)
        decoys=len(decoys),
        dark_outage_found=bool(on_dark.any()), other_spikes=int((~on_dark).sum()),
        silent_unnoticed=bool((unnoticed["incident_id"] == silent["incident_id"]).any()))


# -- releases ----------------------------------------------------------------------------------

def landed_releases(spark: SparkSession, landing: Path) -> DataFrame:
    """The release records the generator landed, typed as bronze types them."""
    raw = spark.read.csv(str(landing / "releases"), header=True)
    return raw.select("release_id", "product", "version", F.to_timestamp("released_at").alias("released_at"), "notes")


@dataclass(frozen=True)
class ReleaseDetection:
    bad_status: str | None           # the planted bad release's status (hurt when flagged)
    bad_rate_ratio: tuple[float | None, float | None, float | None]    # contact rate ratio, low, high
    bad_negative_diff: tuple[float | None, float | None, float | None]  # negative share difference, low, high
    bad_interval_excludes_zero: bool  # an effect's interval excludes no change in the harmful direction
    bad_topic_rank: int | None        # rank of its planted topic among the topics that moved (1 = first)
    decoys_flagged: int               # decoy releases flagged hurt
    decoys: int                       # decoy releases tested


def _opt(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def release_detection(impact: pd.DataFrame, scenarios: Mapping[str, Any]) -> ReleaseDetection:
    """The planted bad release and the decoy releases against gold.release_impact rows."""
    bad = scenarios["bad_release"]
    by_id = impact.set_index("release_id")
    row = by_id.loc[bad["release_id"]] if bad["release_id"] in by_id.index else None
    decoy_ids = [d["release_id"] for d in scenarios["decoys"]["releases"]]
    decoys = by_id.loc[by_id.index.isin(decoy_ids) & (by_id["status"] != "too_few_customers")]
    topics = [] if row is None else list(row["top_topics"])
    rate = (None, None, None) if row is None else tuple(_opt(row[c]) for c in (
        "contact_rate_ratio", "contact_rate_ratio_low", "contact_rate_ratio_high"))
    neg = (None, None, None) if row is None else tuple(_opt(row[c]) for c in (
        "negative_share_diff", "negative_share_diff_low", "negative_share_diff_high"))
    return ReleaseDetection(
        bad_status=None if row is None else str(row["status"]),
        bad_rate_ratio=rate, bad_negative_diff=neg,  # type: ignore[arg-type]
        bad_interval_excludes_zero=bool((rate[1] is not None and rate[1] > 1) or (neg[1] is not None and neg[1] > 0)),
        bad_topic_rank=topics.index(bad["topic"]) + 1 if bad["topic"] in topics else None,
        decoys_flagged=int((decoys["status"] == "hurt").sum()), decoys=len(decoys))


# -- suggestions and product ideas -----------------------------------------------------------

@dataclass(frozen=True)
class SuggestionAgreement:
    predicted: int  # customer messages the detector calls suggestions
    planted: int  # customer messages planted with an idea
    true_positive: int

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else float("nan")

    @property
    def recall(self) -> float:
        return self.true_positive / self.planted if self.planted else float("nan")


def suggestion_agreement(suggestions: DataFrame, truth_messages: DataFrame) -> SuggestionAgreement:
    """silver.message_suggestions' decisions against the planted ideas (``messages.suggestion``)."""
    planted = (truth_messages.where(F.col("role") == "customer")
               .select("message_id", (F.col("suggestion").isNotNull() if "suggestion" in truth_messages.columns
                                      else F.lit(False)).alias("planted")))
    row = (suggestions.select("message_id", "is_suggestion").join(planted, "message_id")
           .agg(F.sum(F.col("is_suggestion").cast("int")).alias("predicted"),
                F.sum(F.col("planted").cast("int")).alias("planted"),
                F.sum((F.col("is_suggestion") & F.col("planted")).cast("int")).alias("tp")).first())
    if row is None:
        return SuggestionAgreement(0, 0, 0)
    return SuggestionAgreement(int(row["predicted"] or 0), int(row["planted"] or 0), int(row["tp"] or 0))


@dataclass(frozen=True)
class IdeaRecovery:
    """Per planted (product, idea): the true distinct customers asking, the mart's idea that
    holds most of its messages, that idea's customers, the relative error and both ranks."""

    ideas: pd.DataFrame

    @property
    def max_relative_error(self) -> float:
        return float(self.ideas["relative_error"].abs().max())

    @property
    def ranked_in_order(self) -> bool:
        """Within every product, the mart's ideas come in the planted order by customers."""
        return bool((self.ideas["rank"] == self.ideas["true_rank"]).all())


def idea_recovery(feedback: DataFrame, suggestion_ideas: DataFrame, messages: DataFrame,
                  truth_messages: DataFrame, truth_conversations: DataFrame) -> IdeaRecovery:
    """gold.product_feedback against the planted ideas: each planted idea is matched to the
    mart's idea (same product) that holds most of its planted messages."""
    truth = (truth_conversations.where(F.col("idea").isNotNull())
             .groupBy("product", "idea").agg(F.countDistinct("customer_id").alias("true_customers")))
    held = _pandas(suggestion_ideas.select("message_id", "idea_id")
                   .join(messages.select("message_id", "product"), "message_id")
                   .join(truth_messages.where(F.col("suggestion").isNotNull())
                         .select("message_id", F.col("suggestion").alias("idea")), "message_id")
                   .groupBy("product", "idea", "idea_id").agg(F.count(F.lit(1)).alias("n")))
    held = held[held["idea_id"] >= 0].sort_values(["product", "idea", "n"], ascending=[True, True, False])
    matched = held.drop_duplicates(["product", "idea"])[["product", "idea", "idea_id"]]
    ours = _pandas(feedback.select("product", "idea_id", "customers", "rank"))
    out = _pandas(truth).merge(matched, on=["product", "idea"], how="left").merge(
        ours, on=["product", "idea_id"], how="left")
    out["customers"] = out["customers"].fillna(0)
    out["relative_error"] = (out["customers"] - out["true_customers"]) / out["true_customers"]
    out["true_rank"] = out.groupby("product")["true_customers"].rank(ascending=False, method="first").astype(int)
    out["rank"] = out.groupby("product")["customers"].rank(ascending=False, method="first").astype(int)
    return IdeaRecovery(out.sort_values(["product", "true_rank"]).reset_index(drop=True))
