"""Pure transformations for incidents and releases against what customers say
(docs/marts.md#silverincidents, #goldincident_impact, #goldunexplained_spikes).

- `silver_incidents`, `silver_releases`: bronze's latest records with the product named as
  messages name it (``incidents.product_aliases``).
- `complaint_openings`: one row per conversation a customer opened (surveys excluded) with
  its product, time, customer, whether its opening message reads negative and its topic.
  A *complaint* is an opening that reads negative.
- `build_incident_impact`: per incident, the complaints about its product inside its window
  (``before_hours`` before it was declared to ``after_hours`` after it ended) against the same
  hours of the same weekday of the ``baseline_weeks`` weeks before, each scaled to the
  product's complaint level (its complaints in the 7 days before the window's day against the
  7 days before each baseline window's day), so a product whose complaints grow for weeks
  (a spreading bug, a bad release) does not make every incident on it look impactful. Lift,
  an exact Poisson rate-ratio test (the window's share of window + baseline complaints is
  binomial under no change, with the exposures' ratio), Benjamini-Hochberg across incidents,
  the customers and topics behind it, and the lead time: when the complaint rate changed
  (the maximum-likelihood change point of a Poisson process against the expected rate)
  against when the incident was declared.
- `build_unexplained_spikes`: complaint spikes per product and ``spike_bin_minutes`` bin
  (the same level-scaled baseline) that no incident's window explains (possible undeclared
  outages), and incidents customers never noticed.

No reads, writes or actions here.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from voicelake.config import ConfigError, params_from_mapping
from voicelake.jobs.transforms.stats import wilson_interval

LEVEL_DAYS = 7  # a product's complaint level: its complaints in this many days before a day
IMPACT_STATUSES = ("customer_impact", "no_customer_signal", "no_baseline")
SPIKE_KINDS = ("unexplained_spike", "unnoticed_incident")
_STATS_SCHEMA = (
    "incident_id string, expected_complaints double, lift double, lift_low double, lift_high double, "
    "p_value double, q_value double, customer_impact boolean, status string, complaints_rose_at timestamp, "
    "lead_minutes double, top_topics array<string>")
_SPIKES_SCHEMA = ("product string, started_at timestamp, ended_at timestamp, complaints long, "
                  "expected_complaints double, lift double, p_value double")


@dataclass(frozen=True)
class IncidentParams:
    """Windows and thresholds of the incident marts (conf: ``incidents.impact``)."""

    before_hours: float = 2.0       # an incident's window opens this long before it was declared
    after_hours: float = 6.0        # ... and closes this long after it ended
    baseline_weeks: int = 4         # the same hours of the same weekday of this many weeks before
    alpha: float = 0.05             # customer impact: BH q-value below this across incidents
    min_lift: float = 2.0           # ... and at least this lift
    spike_bin_minutes: int = 60     # complaint spikes: bins this long per product
    spike_alpha: float = 1e-4       # a bin is a spike below this p-value
    spike_min_lift: float = 3.0     # ... at this lift or more
    spike_min_excess: int = 6       # ... with at least this many complaints above the baseline
    top_topics: int = 3             # topics named per incident or spike

    @classmethod
    def from_config(cls, values: Mapping | None) -> IncidentParams:
        params = params_from_mapping(cls, values, "incidents.impact")
        if params.baseline_weeks < 1:
            raise ConfigError("incidents.impact.baseline_weeks must be at least 1")
        if params.spike_bin_minutes < 5 or 1440 % params.spike_bin_minutes:
            raise ConfigError("incidents.impact.spike_bin_minutes must divide a day (and be at least 5)")
        if not (0 < params.alpha < 1 and 0 < params.spike_alpha < 1):
            raise ConfigError("incidents.impact.alpha and spike_alpha must be in (0, 1)")
        return params


# -- silver ----------------------------------------------------------------------------------

def _product(aliases: Mapping[str, str]) -> Column:
    """The product as messages name it, from a bronze ``product`` through the aliases."""
    mapped = F.col("product")
    for source, target in sorted(aliases.items()):
        mapped = F.when(F.col("product") == source, F.lit(target)).otherwise(mapped)
    return mapped


def silver_incidents(incidents: DataFrame, aliases: Mapping[str, str]) -> DataFrame:
    """silver.incidents: one row per incident (bronze's latest record)."""
    ended = F.col("ended_at")
    return incidents.select(
        "incident_id", _product(aliases).alias("product"), F.col("product").alias("source_product"),
        F.upper(F.trim("severity")).alias("severity"), "started_at", ended.alias("ended_at"),
        F.when(ended >= F.col("started_at"),
               (F.unix_timestamp(ended) - F.unix_timestamp("started_at")) / 60.0).alias("duration_minutes"),
        "title", F.to_date("started_at").alias("started_date"))


def silver_releases(releases: DataFrame, aliases: Mapping[str, str]) -> DataFrame:
    """silver.releases: one row per product version released (bronze's latest record)."""
    return releases.select(
        "release_id", _product(aliases).alias("product"), F.col("product").alias("source_product"),
        "version", "released_at", F.to_date("released_at").alias("released_date"), "notes")


# -- complaints -------------------------------------------------------------------------------

def complaint_openings(messages: DataFrame, emotions: DataFrame, topics: DataFrame | None,
                       negative_valence: float) -> DataFrame:
    """One row per conversation a customer opened in ``messages`` (surveys excluded): its
    first customer message's time, product (and the version it names), customer, ``negative`` (valence below the
    threshold; NULL while unscored) and topic label (NULL without topics)."""
    first = (messages.where((F.col("author_role") == "customer") & (F.col("channel") != "survey")
                            & F.col("product").isNotNull())
             .groupBy("conversation_id")
             .agg(F.min_by(F.struct("message_id", "sent_at", "product", "product_version", "customer_key",
                                    "channel"),
                           F.struct("sent_at", "message_id")).alias("o"))
             .select("conversation_id", "o.*"))
    scored = first.join(emotions.select("message_id", "valence"), "message_id", "left")
    if topics is not None:
        scored = scored.join(topics.select("message_id", "topic_label"), "message_id", "left")
    else:
        scored = scored.withColumn("topic_label", F.lit(None).cast("string"))
    return scored.select("conversation_id", "message_id", "product", "product_version", "customer_key", "channel",
                         F.col("sent_at").alias("opened_at"),
                         F.when(F.col("valence").isNotNull(), F.col("valence") < negative_valence).alias("negative"),
                         "topic_label")


def _minus(ts: Column, minutes: float | Column) -> Column:
    m = minutes if isinstance(minutes, Column) else F.lit(int(round(minutes)))
    return F.timestamp_seconds(F.unix_timestamp(ts) - m * 60)


def incident_windows(incidents: DataFrame, params: IncidentParams) -> DataFrame:
    """Each incident's window and, as ``week`` 1..baseline_weeks, the same hours that many
    weeks before (week 0: the window itself)."""
    end = F.coalesce("ended_at", "started_at")
    weeks = F.explode(F.sequence(F.lit(0), F.lit(params.baseline_weeks))).alias("week")
    return (incidents.select(
        "incident_id", "product", "severity", "title", "started_at", "ended_at",
        _minus(F.col("started_at"), params.before_hours * 60).alias("window_start"),
        _minus(end, -params.after_hours * 60).alias("window_end"), weeks)
        .withColumn("from", _minus(F.col("window_start"), F.col("week") * 7 * 1440))
        .withColumn("to", _minus(F.col("window_end"), F.col("week") * 7 * 1440)))


def complaint_levels(openings: DataFrame) -> DataFrame:
    """product x date: ``level``, the product's complaints in the LEVEL_DAYS days before the date."""
    daily = (openings.where(F.col("negative"))
             .groupBy("product", F.to_date("opened_at").alias("day")).agg(F.count(F.lit(1)).alias("n")))
    return (daily.select("product", "n", "day", F.explode(F.sequence(F.lit(1), F.lit(LEVEL_DAYS))).alias("k"))
            .groupBy("product", F.date_add("day", F.col("k")).alias("date")).agg(F.sum("n").alias("level")))


def _level_inside(day: Column, history_start: date) -> Column:
    """Whether the level week before ``day`` lies inside the lake."""
    return F.date_sub(day, LEVEL_DAYS) >= F.lit(history_start)


def exposure_ratio(level_now: Column, level_baseline: Column, weeks: Column) -> Column:
    """Baseline exposure over the window's: the baseline weeks' levels over the window's
    level; the plain number of weeks where a level is missing or zero."""
    return F.when((level_now > 0) & (level_baseline > 0), level_baseline / level_now).otherwise(weeks.cast("double"))


# -- the statistics (pandas) -------------------------------------------------------------------

def rate_ratio_test(x: np.ndarray, y: np.ndarray, exposure: np.ndarray) -> tuple[np.ndarray, ...]:
    """One-sided exact test that the rate of x (exposure 1) exceeds that of y (``exposure``
    times as much) and the 95% Clopper-Pearson interval of the rate ratio: (p value, low,
    high); high is inf when y is 0."""
    from scipy.stats import beta, binom

    x, y, w = (np.asarray(a, dtype=float) for a in (x, y, exposure))
    p = np.where(x > 0, binom.sf(x - 1, x + y, 1.0 / (1.0 + w)), 1.0)
    lo = np.where(x > 0, beta.ppf(0.025, np.maximum(x, 1), y + 1), 0.0)
    hi = np.where(y > 0, beta.ppf(0.975, x + 1, np.maximum(y, 1)), 1.0)
    with np.errstate(divide="ignore"):
        return p, w * lo / (1 - lo), np.where(hi < 1, w * hi / np.maximum(1 - hi, 1e-300), np.inf)


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values)."""
    p = np.asarray(p, dtype=float)
    n = len(p)
    if n == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def change_point(times: Sequence[float], end: float, rate: float) -> float | None:
    """The maximum-likelihood start of a raised rate in event times (minutes) up to ``end``:
    the event t maximising n log(n / (rate (end - t))) - (n - rate (end - t)), n the events
    in [t, end], against a known background ``rate`` per minute; None without 3 events."""
    ts = np.sort(np.asarray([t for t in times if t <= end], dtype=float))
    if len(ts) < 3 or rate <= 0:
        return None
    n = len(ts) - np.arange(len(ts))
    span = np.maximum(end - ts, 1.0)
    gain = n * np.log(n / (rate * span)) - (n - rate * span)
    gain[n < 3] = -np.inf
    return float(ts[int(np.argmax(gain))])


def _top(labels: Sequence[str | None], baseline: Sequence[str | None], weeks: float, k: int) -> list[str]:
    """Labels by their excess over the baseline's per-window count, the first k above zero."""
    now = Counter(x for x in labels if x)
    before = Counter(x for x in baseline if x)
    excess = {t: n - before.get(t, 0) / max(weeks, 1.0) for t, n in now.items()}
    return [t for t, e in sorted(excess.items(), key=lambda kv: (-kv[1], kv[0])) if e > 0][:k]


def _impact_stats(frame: pd.DataFrame, params: IncidentParams) -> pd.DataFrame:
    weeks = frame["baseline_weeks"].to_numpy(dtype=float)
    x = frame["complaints"].to_numpy(dtype=float)
    y = frame["baseline_complaints"].to_numpy(dtype=float)
    has = weeks > 0
    safe = np.where(has, frame["exposure"].to_numpy(dtype=float), 1.0)
    expected = (y + 0.5) / safe
    p, lo, hi = rate_ratio_test(x, y, safe)
    q = np.full(len(frame), np.nan)
    q[has] = bh_qvalues(p[has])
    lift = x / expected
    impact = has & (q < params.alpha) & (lift >= params.min_lift)
    rows = []
    for i, r in enumerate(frame.itertuples(index=False)):
        rose = lead = None
        if impact[i]:
            start = pd.Timestamp(r.window_start)
            minutes = [(pd.Timestamp(t) - start).total_seconds() / 60 for t in r.complaint_times]
            end = pd.Timestamp(r.ended_at if r.ended_at is not None and not pd.isna(r.ended_at) else r.window_end)
            window_minutes = (pd.Timestamp(r.window_end) - start).total_seconds() / 60
            tau = change_point(minutes, (end - start).total_seconds() / 60, expected[i] / max(window_minutes, 1.0))
            if tau is not None:
                rose = (start + pd.Timedelta(minutes=tau)).round("s")
                lead = (pd.Timestamp(r.started_at) - rose).total_seconds() / 60
        status = ("no_baseline" if not has[i] else "customer_impact" if impact[i] else "no_customer_signal")
        rows.append({
            "incident_id": r.incident_id,
            "expected_complaints": float(expected[i]) if has[i] else None,
            "lift": float(lift[i]) if has[i] else None,
            "lift_low": float(lo[i]) if has[i] else None,
            "lift_high": float(hi[i]) if has[i] and math.isfinite(hi[i]) else None,
            "p_value": float(p[i]) if has[i] else None,
            "q_value": float(q[i]) if has[i] else None,
            "customer_impact": bool(impact[i]) if has[i] else None,
            "status": status, "complaints_rose_at": rose, "lead_minutes": lead,
            "top_topics": _top(list(r.topics), list(r.baseline_topics), weeks[i], params.top_topics)})
    return pd.DataFrame(rows, columns=[c.split(" ")[0] for c in _STATS_SCHEMA.split(", ")])


# -- the marts ---------------------------------------------------------------------------------

def build_incident_impact(incidents: DataFrame, openings: DataFrame, params: IncidentParams,
                          history_start: date) -> DataFrame:
    """gold.incident_impact: one row per incident (see the module docstring). Baseline weeks
    before ``history_start`` (the lake's first day) are not used; an incident with none has
    status ``no_baseline``."""
    levels = complaint_levels(openings)
    windows = (incident_windows(incidents, params)
               .withColumn("level_day", F.to_date("from"))
               .where((F.col("week") == 0) | _level_inside(F.col("level_day"), history_start))
               .join(levels.select(F.col("product").alias("_lp"), F.col("date").alias("_ld"), "level"),
                     (F.col("product") == F.col("_lp")) & (F.col("level_day") == F.col("_ld")), "left")
               .drop("_lp", "_ld")
               .withColumn("level", F.when(_level_inside(F.col("level_day"), history_start),
                                           F.coalesce("level", F.lit(0)))))
    joined = openings.join(
        F.broadcast(windows.select("incident_id", "week", F.col("product").alias("_p"), "from", "to")),
        (openings["product"] == F.col("_p")) & openings["opened_at"].between(F.col("from"), F.col("to")))
    now, base = F.col("week") == 0, F.col("week") > 0
    complaint = F.coalesce(F.col("negative"), F.lit(False))
    counts = joined.groupBy("incident_id").agg(
        F.count(F.when(now, 1)).alias("contacts"),
        F.count(F.when(now & F.col("negative").isNotNull(), 1)).alias("scored_contacts"),
        F.count(F.when(now & complaint, 1)).alias("complaints"),
        F.countDistinct(F.when(now & complaint, F.col("customer_key"))).alias("customers"),
        F.count(F.when(base & complaint, 1)).alias("baseline_complaints"),
        F.collect_list(F.when(now & complaint, F.col("opened_at"))).alias("complaint_times"),
        F.collect_list(F.when(now & complaint, F.col("topic_label"))).alias("topics"),
        F.collect_list(F.when(base & complaint, F.col("topic_label"))).alias("baseline_topics"))
    weeks = windows.groupBy("incident_id").agg(
        F.count(F.when(base, 1)).alias("baseline_weeks"),
        F.max(F.when(now, F.col("level"))).alias("_level_now"),
        F.sum(F.when(base, F.col("level"))).alias("_level_base"))
    weeks = weeks.select("incident_id", "baseline_weeks", exposure_ratio(
        F.coalesce("_level_now", F.lit(0)), F.coalesce("_level_base", F.lit(0)), F.col("baseline_weeks")
    ).alias("exposure"))
    rows = (windows.where(now).drop("week", "from", "to", "level_day", "level")
            .join(weeks, "incident_id").join(counts, "incident_id", "left")
            .fillna(0, ["contacts", "scored_contacts", "complaints", "customers", "baseline_complaints"])
            .withColumn("complaint_times", F.coalesce("complaint_times", F.array().cast("array<timestamp>")))
            .withColumn("topics", F.coalesce("topics", F.array().cast("array<string>")))
            .withColumn("baseline_topics", F.coalesce("baseline_topics", F.array().cast("array<string>"))))
    stats = (rows.withColumn("_all", F.lit(0)).groupBy("_all")
             .applyInPandas(lambda pdf: _impact_stats(pdf, params), _STATS_SCHEMA))
    share = F.try_divide(F.col("complaints"), F.col("scored_contacts").cast("double"))
    low, high = wilson_interval(F.col("complaints"), F.col("scored_contacts"))
    return rows.join(stats, "incident_id").select(
        F.to_date("started_at").alias("date"), "incident_id", "product", "severity", "title",
        "started_at", "ended_at", "window_start", "window_end", "contacts", "scored_contacts",
        "complaints", "customers", share.alias("negative_share"), low.alias("negative_share_low"),
        high.alias("negative_share_high"), "baseline_weeks", "exposure", "baseline_complaints",
        "expected_complaints",
        "lift", "lift_low", "lift_high", "p_value", "q_value", "customer_impact", "status",
        "complaints_rose_at", "lead_minutes", "top_topics")


def _bin(ts: Column, minutes: int) -> Column:
    return F.timestamp_seconds(F.floor(F.unix_timestamp(ts) / (minutes * 60)) * (minutes * 60))


def _merge_bins(frame: pd.DataFrame, params: IncidentParams) -> pd.DataFrame:
    """Test one product's bins and merge consecutive spike bins into spikes."""
    frame = frame.sort_values("bin")
    x, y, w = (frame[c].to_numpy(dtype=float) for c in ("complaints", "baseline_complaints", "exposure"))
    p, _lo, _hi = rate_ratio_test(x, y, w)
    expected = (y + 0.5) / w
    hit = (p < params.spike_alpha) & (x / expected >= params.spike_min_lift) & (x - y / w >= params.spike_min_excess)
    step = pd.Timedelta(minutes=params.spike_bin_minutes)
    spikes: list[dict] = []
    for b, xi, ei, pi in zip(frame["bin"][hit], x[hit], expected[hit], p[hit], strict=True):
        b = pd.Timestamp(b)
        if spikes and spikes[-1]["ended_at"] == b:
            s = spikes[-1]
            s.update(ended_at=b + step, complaints=s["complaints"] + int(xi),
                     expected_complaints=s["expected_complaints"] + float(ei), p_value=min(s["p_value"], float(pi)))
        else:
            spikes.append({"product": frame["product"].iloc[0], "started_at": b, "ended_at": b + step,
                           "complaints": int(xi), "expected_complaints": float(ei), "p_value": float(pi)})
    for s in spikes:
        s["lift"] = s["complaints"] / s["expected_complaints"]
    return pd.DataFrame(spikes, columns=[c.split(" ")[0] for c in _SPIKES_SCHEMA.split(", ")])


def complaint_spikes(openings: DataFrame, params: IncidentParams, dates: Sequence[date] | None,
                     history_start: date) -> DataFrame:
    """Runs of consecutive ``spike_bin_minutes`` bins (on ``dates``; every date when None)
    whose complaints about a product are improbable against the same bin of the same weekday
    in the ``baseline_weeks`` weeks before (those whose level week lies inside the lake),
    scaled to the product's complaint level."""
    minutes = params.spike_bin_minutes
    counts = (openings.where(F.col("negative"))
              .groupBy("product", _bin(F.col("opened_at"), minutes).alias("bin")).agg(F.count(F.lit(1)).alias("n")))
    levels = complaint_levels(openings)
    current = counts.where(F.col("n") >= params.spike_min_excess).withColumn("day", F.to_date("bin"))
    if dates is not None:
        current = current.where(F.col("day").isin(list(dates)))
    usable = F.least(F.lit(params.baseline_weeks),
                     F.floor((F.datediff("day", F.lit(history_start)) - LEVEL_DAYS) / 7)).cast("int")
    base = (current.select("product", "bin", "day", F.explode(F.sequence(F.lit(1), F.lit(params.baseline_weeks)))
                           .alias("k"), usable.alias("weeks"))
            .where(F.col("k") <= F.col("weeks"))
            .select("product", "bin", "weeks", _minus(F.col("bin"), F.col("k") * 7 * 1440).alias("_b"),
                    F.date_sub("day", F.col("k") * 7).alias("_d")))
    base = (base.join(counts.select("product", F.col("bin").alias("_b"), F.col("n").alias("_y")),
                      ["product", "_b"], "left")
            .join(levels.select("product", F.col("date").alias("_d"), F.col("level").alias("_l")),
                  ["product", "_d"], "left")
            .groupBy("product", "bin", "weeks")
            .agg(F.sum(F.coalesce("_y", F.lit(0))).alias("baseline_complaints"),
                 F.sum(F.coalesce("_l", F.lit(0))).alias("_level_base")))
    tested = (current.join(base, ["product", "bin"])
              .join(levels.select("product", F.col("date").alias("day"), F.col("level").alias("_level_now")),
                    ["product", "day"], "left")
              .select("product", "bin", F.col("n").alias("complaints"), "baseline_complaints",
                      exposure_ratio(F.coalesce("_level_now", F.lit(0)), F.col("_level_base"), F.col("weeks"))
                      .alias("exposure")))
    return tested.groupBy("product").applyInPandas(lambda pdf: _merge_bins(pdf, params), _SPIKES_SCHEMA)


def build_unexplained_spikes(openings: DataFrame, incidents: DataFrame, impact: DataFrame,
                             params: IncidentParams, dates: Sequence[date] | None,
                             history_start: date) -> DataFrame:
    """gold.unexplained_spikes: complaint spikes no incident window of their product overlaps
    (``unexplained_spike``) and incidents whose window shows no customer signal
    (``unnoticed_incident``, from ``impact``)."""
    spikes = complaint_spikes(openings, params, dates, history_start)
    windows = incident_windows(incidents, params).where(F.col("week") == 0).select(
        F.col("product").alias("_p"), F.col("window_start").alias("_ws"), F.col("window_end").alias("_we"))
    unexplained = spikes.join(F.broadcast(windows), (spikes["product"] == F.col("_p"))
                              & (spikes["started_at"] < F.col("_we")) & (spikes["ended_at"] > F.col("_ws")),
                              "left_anti")
    inside = openings.where(F.col("negative")).join(
        F.broadcast(unexplained.select(F.col("product").alias("_p"), F.col("started_at").alias("_s"),
                                       F.col("ended_at").alias("_e"))),
        (F.col("product") == F.col("_p")) & (F.col("opened_at") >= F.col("_s")) & (F.col("opened_at") < F.col("_e")))
    ranked = (inside.where(F.col("topic_label").isNotNull()).groupBy("_p", "_s", "topic_label").count()
              .withColumn("_r", F.row_number().over(Window.partitionBy("_p", "_s")
                                                    .orderBy(F.desc("count"), "topic_label")))
              .where(F.col("_r") <= params.top_topics)
              .groupBy("_p", "_s").agg(F.sort_array(F.collect_list(F.struct("_r", "topic_label"))).alias("_t")))
    per_spike = (inside.groupBy("_p", "_s").agg(F.countDistinct("customer_key").alias("customers"))
                 .join(ranked, ["_p", "_s"], "left"))
    spike_rows = (unexplained.join(per_spike, (F.col("product") == F.col("_p")) & (F.col("started_at") == F.col("_s")),
                                   "left")
                  .select(F.lit("unexplained_spike").alias("kind"), "product", "started_at", "ended_at",
                          "complaints", F.coalesce("customers", F.lit(0)).cast("long").alias("customers"),
                          "expected_complaints", "lift", "p_value",
                          F.lit(None).cast("string").alias("incident_id"), F.lit(None).cast("string").alias("severity"),
                          F.coalesce(F.col("_t.topic_label"), F.array().cast("array<string>")).alias("top_topics")))
    unnoticed = impact.where(F.col("status") == "no_customer_signal").select(
        F.lit("unnoticed_incident").alias("kind"), "product", "started_at", "ended_at", "complaints",
        F.col("customers").cast("long"), "expected_complaints", "lift", "p_value", "incident_id", "severity",
        "top_topics")
    rows = spike_rows.unionByName(unnoticed)
    return rows.select(F.to_date("started_at").alias("date"), *rows.columns)
