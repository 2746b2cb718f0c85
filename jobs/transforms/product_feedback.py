"""gold.product_feedback: suggestions grouped into product ideas, as roadmap evidence.

Grain: product x idea (``idea_id`` from silver.suggestion_ideas, numbered per product; -1
collects the product's suggestions too unlike any idea to be grouped; messages without a
product are the product "(none)"), as of the build's last day of data. Ranked within the
product by distinct customers asking. Definitions (docs/marts.md#goldproduct_feedback):

- ``customers``: distinct customers (pseudonymous keys) with at least one customer message
  whose suggestion sentence belongs to the idea; ``suggestions`` and ``conversations`` count
  those messages and their conversations.
- ``versions``: the product versions the requesters' messages name; ``first_seen`` /
  ``last_seen``: the first and last such message.
- trend: ``customers_recent`` (distinct requesters in the last ``trend_days`` days up to the
  as-of date) against ``customers_before`` (the ``trend_days`` before those), their ratio
  with a 95% interval (log rate ratio +- 1.96 sqrt(1/a + 1/b); NULL when either window has
  none) and ``trend``: rising / falling when the interval excludes 1, steady when it does not,
  "too few" under ``min_customers`` requesters in the two windows together;
  ``weekly_customers``: distinct requesters per week (Monday) over the last ``weeks`` weeks.
- ``requester_valence``: the mean over requesters of each requester's mean valence over all
  their customer messages, with a 95% normal interval (``requester_valence_lo/hi``) and its
  count (``requesters_scored``: requesters with a scored message).
- ``requester_churn_risk``: the mean over requesters of their churn probability in the latest
  week gold.customer_health holds for them, with a 95% normal interval
  (``requester_churn_risk_lo/hi``) and its count (``requesters_with_risk``); NULL / 0 before a
  churn model has published that mart.
- ``examples``: up to ``examples`` distinct suggestion sentences closest to the idea's
  centroid (silver text: PII already redacted).
- ``enough_data``: at least ``min_customers`` customers asking; smaller ideas are listed and
  ranked, but say so.
- ``detector_version`` / ``idea_model_version``: the models the row was built from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from voicelake.config import ConfigError, params_from_mapping
from voicelake.jobs.transforms.stats import Z95

UNGROUPED_LABEL = "(suggestions not grouped into an idea)"


@dataclass(frozen=True)
class FeedbackParams:
    """gold.product_feedback settings (conf ``suggestions.feedback``)."""

    trend_days: int = 28
    weeks: int = 8
    examples: int = 3
    min_customers: int = 5

    @classmethod
    def from_config(cls, values: Mapping[str, Any] | None) -> FeedbackParams:
        params = params_from_mapping(cls, values, "suggestions.feedback")
        if params.trend_days < 1 or params.weeks < 1 or params.examples < 0 or params.min_customers < 1:
            raise ConfigError("suggestions.feedback: trend_days, weeks and min_customers must be >= 1, examples >= 0")
        return params


def product_requests(ideas: DataFrame, suggestions: DataFrame, messages: DataFrame, as_of: date) -> DataFrame:
    """One row per suggestion message up to ``as_of``: its idea, customer, product and time
    (what `build_product_feedback` reads several times: callers cache it)."""
    return (ideas.where(F.col("sent_date") <= F.lit(as_of))
            .join(suggestions.select("message_id", F.col("model_version").alias("detector_version")), "message_id")
            .join(messages.where(F.col("author_role") == "customer")
                  .select("message_id", "conversation_id", "customer_key", "product_version", "sent_at"),
                  "message_id"))


def _requester_mean(requests: DataFrame, per_customer: DataFrame, name: str, count: str) -> DataFrame:
    """(product, idea_id, ``name``, ``name``_lo, ``name``_hi, ``count``): the mean over an idea's
    requesters of ``per_customer``'s ``_value`` (one per customer_key), its 95% normal interval
    and how many requesters have one."""
    requesters = requests.select("product", "idea_id", "customer_key").distinct().join(per_customer, "customer_key")
    n = F.count("_value")
    half = F.lit(Z95) * F.stddev_samp("_value") / F.sqrt(n)
    return (requesters.groupBy("product", "idea_id")
            .agg(F.avg("_value").alias(name), (F.avg("_value") - half).alias(f"{name}_lo"),
                 (F.avg("_value") + half).alias(f"{name}_hi"), n.alias(count)))


def _requester_valence(requests: DataFrame, messages: DataFrame, emotions: DataFrame) -> DataFrame:
    """(product, idea_id, requester_valence, its interval, requesters_scored)."""
    keys = requests.select("customer_key").distinct()  # requesters only: a few percent of customers
    per_customer = (messages.where(F.col("author_role") == "customer").select("message_id", "customer_key")
                    .join(F.broadcast(keys), "customer_key", "left_semi")
                    .join(emotions.select("message_id", "valence"), "message_id")
                    .groupBy("customer_key").agg(F.avg("valence").alias("_value")))
    return _requester_mean(requests, per_customer, "requester_valence", "requesters_scored")


def _requester_churn_risk(requests: DataFrame, health: DataFrame) -> DataFrame:
    """(product, idea_id, requester_churn_risk, its interval, requesters_with_risk)."""
    per_customer = health.groupBy("customer_key").agg(F.max_by("churn_probability", "week").alias("_value"))
    return _requester_mean(requests, per_customer, "requester_churn_risk", "requesters_with_risk")


def _weekly(requests: DataFrame, as_of: date, weeks: int) -> DataFrame:
    """(product, idea_id, weekly_customers): distinct requesters per week, the last ``weeks``
    weeks up to the as-of date's week, zeros included."""
    last_week = as_of - timedelta(days=as_of.weekday())
    first_week = last_week - timedelta(weeks=weeks - 1)
    counts = (requests.withColumn("week_start", F.date_trunc("week", "sent_at").cast("date"))
              .where(F.col("week_start") >= F.lit(first_week))
              .groupBy("product", "idea_id", "week_start").agg(F.countDistinct("customer_key").alias("n"))
              .groupBy("product", "idea_id").agg(F.map_from_entries(F.collect_list(F.struct("week_start", "n")))
                                                 .alias("_by_week")))
    series = F.sequence(F.lit(first_week), F.lit(last_week), F.expr("INTERVAL 7 DAYS"))
    return (requests.select("product", "idea_id").distinct().join(counts, ["product", "idea_id"], "left")
            .select("product", "idea_id", F.transform(series, lambda w: F.struct(
                w.alias("week_start"), F.coalesce(F.element_at(F.col("_by_week"), w), F.lit(0)).cast("int")
                .alias("customers"))).alias("weekly_customers")))


def _examples(ideas_of_requests: DataFrame, k: int) -> DataFrame:
    """(product, idea_id, examples): the ``k`` distinct sentences nearest the idea's centroid."""
    best = (ideas_of_requests.groupBy("product", "idea_id", "sentence").agg(F.min("distance").alias("_d"))
            .withColumn("_rank", F.row_number().over(Window.partitionBy("product", "idea_id")
                                                     .orderBy(F.col("_d").asc_nulls_last(), "sentence"))))
    return (best.where(F.col("_rank") <= k).groupBy("product", "idea_id")
            .agg(F.transform(F.array_sort(F.collect_list(F.struct("_rank", "sentence"))),
                             lambda x: x["sentence"]).alias("examples")))


def _trend(recent: Column, before: Column, min_customers: int) -> tuple[Column, Column, Column, Column]:
    ratio = recent / before
    half = F.lit(Z95) * F.sqrt(F.lit(1.0) / recent + F.lit(1.0) / before)
    both = (recent > 0) & (before > 0)
    lo = F.when(both, F.exp(F.log(ratio) - half))
    hi = F.when(both, F.exp(F.log(ratio) + half))
    label = (F.when(recent + before < min_customers, "too few")
             .when(before == 0, "new")
             .when(recent == 0, "falling")
             .when(lo > 1, "rising").when(hi < 1, "falling").otherwise("steady"))
    return F.when(both, ratio), lo, hi, label


def build_product_feedback(requests: DataFrame, messages: DataFrame, emotions: DataFrame, as_of: date,
                           params: FeedbackParams, health: DataFrame | None = None) -> DataFrame:
    """gold.product_feedback (see the module docstring) from `product_requests`,
    silver.messages, silver.message_emotions and gold.customer_health (``health``: its rows up
    to the as-of date; None before it exists)."""
    if health is None:
        health = requests.sparkSession.createDataFrame([], "customer_key string, week date, churn_probability double")
    recent_from = as_of - timedelta(days=params.trend_days - 1)
    before_from = recent_from - timedelta(days=params.trend_days)
    day = F.col("sent_at").cast("date")
    aggregated = requests.groupBy("product", "idea_id").agg(
        F.first("idea_label", ignorenulls=True).alias("idea_label"),
        F.countDistinct("customer_key").alias("customers"),
        F.count(F.lit(1)).alias("suggestions"),
        F.countDistinct("conversation_id").alias("conversations"),
        F.array_sort(F.collect_set("product_version")).alias("versions"),
        F.min("sent_at").alias("first_seen"), F.max("sent_at").alias("last_seen"),
        F.countDistinct(F.when(day >= F.lit(recent_from), F.col("customer_key"))).alias("customers_recent"),
        F.countDistinct(F.when((day >= F.lit(before_from)) & (day < F.lit(recent_from)),
                               F.col("customer_key"))).alias("customers_before"),
        F.max("detector_version").alias("detector_version"),
        F.max("idea_model_version").alias("idea_model_version"))
    ratio, lo, hi, label = _trend(F.col("customers_recent"), F.col("customers_before"), params.min_customers)
    grouped = F.col("idea_id") >= 0
    rank = F.when(grouped, F.row_number().over(
        Window.partitionBy("product", grouped).orderBy(F.col("customers").desc(), F.col("suggestions").desc(),
                                                       "idea_id")))
    out = (aggregated
           .join(_weekly(requests, as_of, params.weeks), ["product", "idea_id"], "left")
           .join(_requester_valence(requests, messages, emotions), ["product", "idea_id"], "left")
           .join(_requester_churn_risk(requests, health), ["product", "idea_id"], "left")
           .join(_examples(requests, params.examples), ["product", "idea_id"], "left")
           .select(F.lit(as_of).alias("as_of"), "product", "idea_id",
                   F.when(grouped, F.col("idea_label")).otherwise(F.lit(UNGROUPED_LABEL)).alias("idea_label"),
                   rank.alias("rank"), "customers", "suggestions", "conversations", "versions",
                   "first_seen", "last_seen", "customers_recent", "customers_before",
                   ratio.alias("trend_ratio"), lo.alias("trend_ratio_lo"), hi.alias("trend_ratio_hi"),
                   label.alias("trend"), "weekly_customers",
                   "requester_valence", "requester_valence_lo", "requester_valence_hi",
                   F.coalesce("requesters_scored", F.lit(0)).alias("requesters_scored"),
                   "requester_churn_risk", "requester_churn_risk_lo", "requester_churn_risk_hi",
                   F.coalesce("requesters_with_risk", F.lit(0)).alias("requesters_with_risk"),
                   F.coalesce("examples", F.array().cast("array<string>")).alias("examples"),
                   (F.col("customers") >= params.min_customers).alias("enough_data"),
                   "detector_version", F.col("idea_model_version").cast("int").alias("idea_model_version")))
    return out
