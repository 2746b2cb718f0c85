"""Pure transformations for gold.health_check (docs/marts.md#goldhealth_check): one row per
day, what a support leader reads first, gathered from the marts of the same build.

- `daily_negatives`: customer messages and the negative ones per day, from silver.
- `build_health_check`: per day, the negative share of customer messages against its
  trailing ``baseline_days``, the week's emotion index per product and its change from the
  week before, the day's new topic
  alerts, incidents with customer impact, unexplained complaint spikes, the releases that hurt
  whose window holds the day, the week's top service gaps, the topics forecast to grow over
  the next days (on the day a forecast was made from), and ``attention``: the reasons to look
  (empty on a quiet day).

No reads, writes or actions here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from voicelake.config import ConfigError, params_from_mapping
from voicelake.jobs.transforms.stats import wilson_interval

INDEX_TYPE = ("array<struct<product:string,emotion_index:double,low:double,high:double,change:double,"
              "active_customers:bigint,status:string>>")


@dataclass(frozen=True)
class HealthParams:
    """Baseline and thresholds of gold.health_check (conf: ``voc.health``)."""

    baseline_days: int = 7        # a day's negative share against the pooled share of this many days before
    min_baseline_days: int = 3    # fewer days with messages before it: no baseline, no rise flagged
    min_rise: float = 0.05        # a rise: the day's share at least this much above the baseline ...
    top: int = 3                  # ... and its 95% interval above it; alerts and gaps named per day

    @classmethod
    def from_config(cls, values: Mapping | None) -> HealthParams:
        params = params_from_mapping(cls, values, "voc.health")
        if params.baseline_days < 1 or params.min_baseline_days < 1 or params.top < 1:
            raise ConfigError("voc.health: baseline_days, min_baseline_days and top must be at least 1")
        return params


def daily_negatives(messages: DataFrame, emotions: DataFrame, negative_valence: float) -> DataFrame:
    """``date, customer_messages, negative_messages``: scored customer messages per day and
    those whose valence is below ``negative_valence``."""
    scored = (messages.where(F.col("author_role") == "customer").select("message_id", "sent_date")
              .join(emotions.select("message_id", "valence"), "message_id"))
    return scored.groupBy(F.col("sent_date").alias("date")).agg(
        F.count(F.lit(1)).alias("customer_messages"),
        F.count(F.when(F.col("valence") < negative_valence, 1)).alias("negative_messages"))


def _per_day(frame: DataFrame | None, value: Column, name: str, order: Column, kind: str) -> DataFrame | None:
    """``date, <name>``: the day's values of ``frame`` as an array in ``order``."""
    if frame is None:
        return None
    return (frame.groupBy("date")
            .agg(F.sort_array(F.collect_list(F.struct(order.alias("_o"), value.alias("_v")))).alias("_s"))
            .select("date", F.col("_s._v").cast(f"array<{kind}>").alias(name)))


def build_health_check(daily: DataFrame, dates: Sequence[date] | None, params: HealthParams, *,
                       emotion_index: DataFrame | None = None, topic_alerts: DataFrame | None = None,
                       incident_impact: DataFrame | None = None, unexplained_spikes: DataFrame | None = None,
                       release_impact: DataFrame | None = None, service_gaps: DataFrame | None = None,
                       forecast_risks: DataFrame | None = None) -> DataFrame:
    """gold.health_check for ``dates`` (every date of ``daily`` when None). ``daily``:
    `daily_negatives` over the dates and the ``baseline_days`` before them; the marts are
    those of the same build (a mart that is not built leaves its columns empty);
    ``forecast_risks``: `topic_forecast.forecast_risks` of the build's forecast."""
    days = daily.withColumn("_epoch", F.datediff("date", F.lit(date(1970, 1, 1))))
    order = Window.orderBy("_epoch").rangeBetween(-params.baseline_days, -1)
    base = (days.withColumn("_base_n", F.sum("customer_messages").over(order))
            .withColumn("_base_neg", F.sum("negative_messages").over(order))
            .withColumn("baseline_days", F.count(F.lit(1)).over(order)))
    if dates is not None:
        base = base.where(F.col("date").isin(list(dates)))
    share = F.try_divide(F.col("negative_messages"), F.col("customer_messages").cast("double"))
    low, high = wilson_interval(F.col("negative_messages"), F.col("customer_messages"))
    enough = F.col("baseline_days") >= params.min_baseline_days
    baseline = F.when(enough, F.try_divide(F.col("_base_neg"), F.col("_base_n").cast("double")))
    rows = base.select(
        "date", "customer_messages", "negative_messages", share.alias("negative_share"),
        low.alias("negative_share_low"), high.alias("negative_share_high"),
        F.coalesce("baseline_days", F.lit(0)).cast("int").alias("baseline_days"),
        baseline.alias("baseline_negative_share"))
    rows = rows.withColumn("negative_share_change", F.col("negative_share") - F.col("baseline_negative_share"))
    rows = rows.withColumn("negative_rise", F.coalesce(
        (F.col("negative_share_change") >= params.min_rise)
        & (F.col("negative_share_low") > F.col("baseline_negative_share")), F.lit(False)))

    week = F.date_trunc("week", F.col("date")).cast("date")
    rows = rows.withColumn("_week", week)
    if emotion_index is not None:
        weekly = Window.partitionBy("product").orderBy("week")
        previous = F.lag("emotion_index").over(weekly)
        change = F.when(F.lag("week").over(weekly) == F.date_sub("week", 7), F.col("emotion_index") - previous)
        index = (emotion_index.where(F.col("channel") == "all").withColumn("change", change)
                 .groupBy(F.col("week").alias("_week"))
                 .agg(F.sort_array(F.collect_list(F.struct(
                     "product", "emotion_index", F.col("emotion_index_low").alias("low"),
                     F.col("emotion_index_high").alias("high"), "change", "active_customers", "status")))
                     .cast(INDEX_TYPE).alias("emotion_index_by_product")))
        rows = rows.join(index, "_week", "left")
    else:
        rows = rows.withColumn("emotion_index_by_product", F.lit(None).cast(INDEX_TYPE))
    if service_gaps is not None:
        gaps = (service_gaps.where((F.col("level") == "segment") & (F.col("gap_rank") <= params.top))
                .groupBy(F.col("week").alias("_week"))
                .agg(F.sort_array(F.collect_list(F.struct("gap_rank", F.concat_ws(
                    " / ", "queue", "channel", "product", "hour_band").alias("_g")))).alias("_gaps"))
                .select("_week", F.col("_gaps._g").alias("top_gaps")))
        rows = rows.join(gaps, "_week", "left")
    else:
        rows = rows.withColumn("top_gaps", F.lit(None).cast("array<string>"))

    def joined(frame: DataFrame | None, name: str, kind: str) -> None:
        nonlocal rows
        if frame is None:
            rows = rows.withColumn(name, F.lit(None).cast(f"array<{kind}>"))
        else:
            rows = rows.join(frame, "date", "left")

    alerts = None if topic_alerts is None else topic_alerts.select(
        "date", (-F.col("statistic")).alias("_o"), F.concat(
            F.col("kind"), F.lit(" "), F.col("severity"), F.lit(": "), F.coalesce("topic_label", F.lit("?")),
            F.lit(" ("), F.col("metric"), F.lit(")")).alias("_v"), "severity")
    if alerts is not None:
        counts = alerts.groupBy("date").agg(F.count(F.lit(1)).alias("new_alerts"),
                                            F.count(F.when(F.col("severity") == "high", 1)).alias("high_alerts"))
        rows = rows.join(counts, "date", "left")
        named = (alerts.withColumn("_r", F.row_number().over(Window.partitionBy("date").orderBy("_o", "_v")))
                 .where(F.col("_r") <= params.top))
        joined(_per_day(named, F.col("_v"), "top_alerts", F.col("_o"), "string"), "top_alerts", "string")
    else:
        rows = rows.withColumn("new_alerts", F.lit(None).cast("long")).withColumn(
            "high_alerts", F.lit(None).cast("long")).withColumn("top_alerts", F.lit(None).cast("array<string>"))
    impact = None if incident_impact is None else incident_impact.where(F.col("customer_impact"))
    joined(_per_day(impact, F.col("incident_id"), "incidents_with_impact", F.col("started_at"), "string"),
           "incidents_with_impact", "string")
    spikes = None if unexplained_spikes is None else unexplained_spikes.where(F.col("kind") == "unexplained_spike")
    joined(_per_day(spikes, F.concat_ws(" ", "product", F.date_format("started_at", "HH:mm")),
                    "unexplained_spikes", F.col("started_at"), "string"), "unexplained_spikes", "string")
    if release_impact is not None:
        hurt = (release_impact.where(F.col("hurt"))
                .select("release_id", "released_at", "window_end",
                        F.explode(F.sequence(F.to_date("released_at"),
                                             F.date_sub(F.to_date("window_end"), 1))).alias("date")))
        joined(_per_day(hurt, F.col("release_id"), "releases_hurt", F.col("released_at"), "string"),
               "releases_hurt", "string")
    else:
        joined(None, "releases_hurt", "string")
    risks = None if forecast_risks is None else forecast_risks.select(
        "date", (-F.col("expected")).alias("_o"), F.format_string(
            "%s: %.0f expected in the next days (%.0f at the last 7 days' rate)", F.coalesce("topic_label", F.lit("?")),
            "expected", "recent").alias("_v"))
    if risks is not None:
        risks = risks.withColumn("_r", F.row_number().over(Window.partitionBy("date").orderBy("_o", "_v"))).where(
            F.col("_r") <= params.top)
    joined(_per_day(risks, F.col("_v"), "forecast_risks", F.col("_o"), "string"), "forecast_risks", "string")

    def listed(name: str) -> Column:
        return F.coalesce(F.col(name), F.array().cast("array<string>"))

    reasons = F.filter(F.array(
        F.when(F.col("negative_rise"), F.lit("negative share rose")),
        F.when(F.size(listed("incidents_with_impact")) > 0, F.lit("incident with customer impact")),
        F.when(F.size(listed("unexplained_spikes")) > 0, F.lit("complaint spike no incident explains")),
        F.when(F.size(listed("releases_hurt")) > 0, F.lit("a release hurt")),
        F.when(F.coalesce(F.col("high_alerts"), F.lit(0)) > 0, F.lit("high topic alert")),
        F.when(F.size(listed("forecast_risks")) > 0, F.lit("a topic is forecast to grow"))), lambda x: x.isNotNull())
    return rows.select(
        "date", "customer_messages", "negative_messages", "negative_share", "negative_share_low",
        "negative_share_high", "baseline_days", "baseline_negative_share", "negative_share_change", "negative_rise",
        "emotion_index_by_product", F.coalesce("new_alerts", F.lit(0)).cast("long").alias("new_alerts"),
        F.coalesce("high_alerts", F.lit(0)).cast("long").alias("high_alerts"), listed("top_alerts").alias("top_alerts"),
        listed("incidents_with_impact").alias("incidents_with_impact"),
        listed("unexplained_spikes").alias("unexplained_spikes"), listed("releases_hurt").alias("releases_hurt"),
        listed("top_gaps").alias("top_gaps"), listed("forecast_risks").alias("forecast_risks"),
        reasons.alias("attention"),
        F.when(F.size(reasons) > 0, F.lit("attention")).otherwise(F.lit("ok")).alias("status"))
