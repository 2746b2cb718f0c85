"""Pure transformations for releases against what customers say (docs/marts.md#goldrelease_impact).

`build_release_impact`: one row per product version in silver.releases. In the
``window_days`` after a version ships, the conversations customers open about its product
(`complaint_openings`) are split by the version their opening message names: the *new*
cohort (this version) against the *old* one (an earlier version of the product, not yet
upgraded). Two effects, each stratified by day of the window (Mantel-Haenszel) so that a
busy day, a weekend or an incident in the window weighs on both cohorts alike:

- **contact rate ratio**: contacts per customer-week on the new version over the old. A
  customer's version is only seen when they write, so the contact that reveals it is not
  counted: a customer's exposure on the old version runs from the release to their last
  contact on it (the contacts before that one count), on the new version from their first
  contact on it to the window's end (the contacts after that one count). For contacts that
  arrive as a Poisson process this is unbiased; counting the revealing contact would make
  every release look like it raises contacts.
- **negative share difference**: the share of conversations that open negative (a
  *complaint*), new minus old.

Intervals are percentile intervals of a Poisson bootstrap over customers; the one-sided
p-value of each effect (harm: more contacts, more complaints) comes from its bootstrap
standard error, a release's p-value is the smaller one doubled (Bonferroni over the two),
and q-values are Benjamini-Hochberg across the releases tested together. A release is
flagged ``hurt`` when its q-value is below ``alpha`` and an interval excludes no change in
the harmful direction. Difference-in-differences: each effect against the same effect of
the product's previous release at the same age (its first ``window_days``), where that
release was tested too. Topics that moved: log-odds ratio of each topic among the new
cohort's conversations against the old cohort's, with an informative Dirichlet prior from
both (Monroe, Colaresi & Quinn 2008), the topics with z above ``topic_min_z`` first.

No reads, writes or actions here.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from voicelake.config import ConfigError, params_from_mapping
from voicelake.jobs.transforms.incidents import bh_qvalues

RELEASE_STATUSES = ("hurt", "no_change", "too_few_customers", "before_history")
DAY_SECONDS = 86400.0
_STATS_SCHEMA = (
    "release_id string, customers_new long, customers_old long, contacts_new long, contacts_old long, "
    "complaints_new long, complaints_old long, contact_rate_new double, contact_rate_old double, "
    "contact_rate_ratio double, contact_rate_ratio_low double, contact_rate_ratio_high double, "
    "log_rate_ratio_se double, negative_share_new double, negative_share_old double, "
    "negative_share_diff double, negative_share_diff_low double, negative_share_diff_high double, "
    "negative_share_diff_se double, p_contact_rate double, p_negative_share double, "
    "top_topics array<string>, top_topic_z array<double>")
_STATS_COLUMNS = [c.split(" ")[0] for c in _STATS_SCHEMA.split(", ")]
_FLAG_SCHEMA = ("release_id string, p_value double, q_value double, did_contact_rate_ratio double, "
                "did_contact_rate_ratio_low double, did_contact_rate_ratio_high double, "
                "did_negative_share_diff double, did_negative_share_diff_low double, "
                "did_negative_share_diff_high double, previous_release_id string")
_FLAG_SCHEMA_COLUMNS = [c.split(" ")[0] for c in _FLAG_SCHEMA.split(", ")]
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class ReleaseParams:
    """Window and thresholds of gold.release_impact (conf: ``incidents.releases``)."""

    window_days: int = 14        # the days after a release its cohorts are compared over
    min_customers: int = 20      # per cohort: fewer and the release is too_few_customers
    alpha: float = 0.05          # hurt: Benjamini-Hochberg q below this across releases
    bootstrap: int = 1000        # Poisson bootstrap resamples of customers
    topic_prior: float = 20.0    # pseudo-conversations of the topics' Dirichlet prior
    topic_min_z: float = 1.96    # a topic moved at this z or more
    top_topics: int = 3          # topics named per release
    seed: int = 7                # the bootstrap's random stream

    @classmethod
    def from_config(cls, values: Mapping | None) -> ReleaseParams:
        params = params_from_mapping(cls, values, "incidents.releases")
        if params.window_days < 1 or params.min_customers < 1 or params.bootstrap < 100:
            raise ConfigError("incidents.releases: window_days and min_customers must be at least 1, "
                              "bootstrap at least 100")
        if not 0 < params.alpha < 1:
            raise ConfigError("incidents.releases.alpha must be in (0, 1)")
        return params


# -- cohorts ----------------------------------------------------------------------------------

def _plus_days(ts: Column, days: int) -> Column:
    return F.timestamp_seconds(F.unix_timestamp(ts) + int(days * DAY_SECONDS))


def _seconds(values: pd.Series) -> np.ndarray:
    return ((pd.to_datetime(values) - pd.Timestamp(0)) / pd.Timedelta(seconds=1)).to_numpy(float)


def release_contacts(openings: DataFrame, releases: DataFrame, params: ReleaseParams,
                     as_of: datetime) -> DataFrame:
    """Per release, the conversations opened about its product in its window (up to
    ``as_of``, the end of the data), each with its ``cohort``: ``new`` when the opening names
    the release's version, ``old`` when it names a version of the product released before;
    openings naming no version, or a later or unknown one, are left out."""
    window_end = F.least(_plus_days(F.col("released_at"), params.window_days), F.lit(as_of).cast("timestamp"))
    windows = releases.select("release_id", F.col("product").alias("_p"), F.col("version").alias("_v"),
                              "released_at", window_end.alias("window_end"))
    versions = releases.select(F.col("product").alias("_vp"), F.col("version").alias("_vv"),
                               F.col("released_at").alias("_vr"))
    inside = openings.join(F.broadcast(windows), (F.col("product") == F.col("_p"))
                           & (F.col("opened_at") >= F.col("released_at")) & (F.col("opened_at") < F.col("window_end")))
    dated = inside.join(F.broadcast(versions),
                        (F.col("_vp") == F.col("_p")) & (F.col("_vv") == F.col("product_version")), "left")
    cohort = (F.when(F.col("product_version") == F.col("_v"), F.lit("new"))
              .when(F.col("_vr") < F.col("released_at"), F.lit("old")))
    return (dated.select("release_id", "released_at", "window_end", "customer_key", "opened_at", "negative",
                         "topic_label", cohort.alias("cohort"))
            .where(F.col("cohort").isNotNull()))


# -- the statistics (pandas) -------------------------------------------------------------------

def _mh_rate_ratio(n_new: np.ndarray, e_new: np.ndarray, n_old: np.ndarray, e_old: np.ndarray) -> np.ndarray:
    """Mantel-Haenszel rate ratio over the last axis (days): sum N E_o / T over sum O E_n / T."""
    total = e_new + e_old
    with np.errstate(divide="ignore", invalid="ignore"):
        num = np.where(total > 0, n_new * e_old / np.where(total > 0, total, 1), 0).sum(-1)
        den = np.where(total > 0, n_old * e_new / np.where(total > 0, total, 1), 0).sum(-1)
        return np.where(den > 0, num / den, np.nan)


def _mh_risk_difference(a: np.ndarray, n1: np.ndarray, b: np.ndarray, n0: np.ndarray) -> np.ndarray:
    """Mantel-Haenszel risk difference over the last axis: new share a / n1 minus old b / n0."""
    m = n1 + n0
    safe = np.where(m > 0, m, 1)
    num = np.where(m > 0, (a * n0 - b * n1) / safe, 0).sum(-1)
    den = np.where(m > 0, n1 * n0 / safe, 0).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _overlap(start: np.ndarray, end: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Customers x days: days of [start, end) inside each day [edges[k], edges[k+1])."""
    lo = np.maximum(start[:, None], edges[None, :-1])
    hi = np.minimum(end[:, None], edges[None, 1:])
    return np.maximum(hi - lo, 0.0) / DAY_SECONDS


def _per_day(customer: np.ndarray, day: np.ndarray, customers: int, days: int,
             weight: np.ndarray | None = None) -> np.ndarray:
    out = np.zeros((customers, days))
    np.add.at(out, (customer, day), 1.0 if weight is None else weight)
    return out


def _one_sided_p(effect: float, se: float) -> float | None:
    from scipy.stats import norm
    if not (np.isfinite(effect) and np.isfinite(se)) or se <= 0:
        return None
    return float(norm.sf(effect / se))


def topic_log_odds(new: pd.Series, old: pd.Series, prior: float) -> pd.DataFrame:
    """Per topic label: log-odds ratio of new against old with an informative Dirichlet prior
    (``prior`` pseudo-conversations spread as both cohorts' topics are) and its z."""
    n_new, n_old = new.value_counts(), old.value_counts()
    topics = n_new.index.union(n_old.index)
    y1 = n_new.reindex(topics, fill_value=0).to_numpy(float)
    y0 = n_old.reindex(topics, fill_value=0).to_numpy(float)
    alpha = prior * (y1 + y0) / max((y1 + y0).sum(), 1.0)
    a0 = alpha.sum()
    d = (np.log((y1 + alpha) / (y1.sum() + a0 - y1 - alpha))
         - np.log((y0 + alpha) / (y0.sum() + a0 - y0 - alpha)))
    z = d / np.sqrt(1 / (y1 + alpha) + 1 / (y0 + alpha))
    return pd.DataFrame({"topic": topics, "log_odds": d, "z": z}).sort_values(["z", "topic"], ascending=[False, True])


def release_stats(frame: pd.DataFrame, params: ReleaseParams) -> pd.DataFrame:
    """One release's contacts (rows of `release_contacts`) -> its effects and intervals."""
    t0, end = _seconds(frame["released_at"].iloc[:1])[0], _seconds(frame["window_end"].iloc[:1])[0]
    days = max(1, int(np.ceil((end - t0) / DAY_SECONDS)))
    edges = np.minimum(t0 + DAY_SECONDS * np.arange(days + 1), end)
    when = _seconds(frame["opened_at"])
    day = np.clip(((when - t0) // DAY_SECONDS).astype(int), 0, days - 1)
    codes, keys = pd.factorize(frame["customer_key"])
    c = len(keys)
    new = (frame["cohort"] == "new").to_numpy()
    order = pd.DataFrame({"c": codes, "t": when, "new": new}).sort_values(["c", "t"], kind="stable")
    # the revealing contacts: each customer's last on the old version, first on the new one
    last_old = order[~order["new"]].groupby("c")["t"].idxmax()
    first_new = order[order["new"]].groupby("c")["t"].idxmin()
    revealing = np.zeros(len(frame), bool)
    revealing[last_old.to_numpy()] = True
    revealing[first_new.to_numpy()] = True
    old_until = np.full(c, t0)
    old_until[last_old.index.to_numpy()] = when[last_old.to_numpy()]
    new_from = np.full(c, end)
    new_from[first_new.index.to_numpy()] = when[first_new.to_numpy()]
    e_old, e_new = _overlap(np.full(c, t0), old_until, edges), _overlap(new_from, np.full(c, end), edges)
    counted = ~revealing
    n_old = _per_day(codes[counted & ~new], day[counted & ~new], c, days)
    n_new = _per_day(codes[counted & new], day[counted & new], c, days)
    negative = frame["negative"]
    scored = negative.notna().to_numpy()
    neg = negative.fillna(False).astype(bool).to_numpy()
    s_new = _per_day(codes[scored & new], day[scored & new], c, days)
    s_old = _per_day(codes[scored & ~new], day[scored & ~new], c, days)
    a_new = _per_day(codes[neg & new], day[neg & new], c, days)
    a_old = _per_day(codes[neg & ~new], day[neg & ~new], c, days)

    def effects(w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        def tot(m: np.ndarray) -> np.ndarray:
            return m.sum(0) if w is None else w @ m
        return (_mh_rate_ratio(tot(n_new), tot(e_new), tot(n_old), tot(e_old)),
                _mh_risk_difference(tot(a_new), tot(s_new), tot(a_old), tot(s_old)))

    rr, rd = (float(x) for x in effects(None))
    rng = np.random.default_rng([params.seed, zlib.crc32(str(frame["release_id"].iloc[0]).encode())])
    draws_rr, draws_rd = [], []
    for start in range(0, params.bootstrap, 100):  # resamples in blocks: memory stays small
        w = rng.poisson(1.0, size=(min(100, params.bootstrap - start), c)).astype(float)
        brr, brd = effects(w)
        draws_rr.append(brr)
        draws_rd.append(brd)
    log_rr = np.log(np.concatenate(draws_rr))
    log_rr = log_rr[np.isfinite(log_rr)]
    boot_rd = np.concatenate(draws_rd)
    boot_rd = boot_rd[np.isfinite(boot_rd)]
    rr_ok, rd_ok = np.isfinite(rr) and rr > 0 and len(log_rr) > 10, np.isfinite(rd) and len(boot_rd) > 10
    se_rr = float(np.std(log_rr, ddof=1)) if rr_ok else float("nan")
    se_rd = float(np.std(boot_rd, ddof=1)) if rd_ok else float("nan")
    moved = topic_log_odds(frame.loc[new, "topic_label"].dropna(), frame.loc[~new, "topic_label"].dropna(),
                           params.topic_prior)
    moved = moved[moved["z"] >= params.topic_min_z].head(params.top_topics)
    exposure_new, exposure_old = e_new.sum(), e_old.sum()

    def maybe(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    row = {
        "release_id": frame["release_id"].iloc[0],
        "customers_new": int(len(np.unique(codes[new]))), "customers_old": int(len(np.unique(codes[~new]))),
        "contacts_new": int(new.sum()), "contacts_old": int((~new).sum()),
        "complaints_new": int((neg & new).sum()), "complaints_old": int((neg & ~new).sum()),
        "contact_rate_new": 7 * n_new.sum() / exposure_new if exposure_new > 0 else None,
        "contact_rate_old": 7 * n_old.sum() / exposure_old if exposure_old > 0 else None,
        "contact_rate_ratio": maybe(rr) if rr_ok else None,
        "contact_rate_ratio_low": float(np.exp(np.quantile(log_rr, 0.025))) if rr_ok else None,
        "contact_rate_ratio_high": float(np.exp(np.quantile(log_rr, 0.975))) if rr_ok else None,
        "log_rate_ratio_se": maybe(se_rr),
        "negative_share_new": float(a_new.sum() / s_new.sum()) if s_new.sum() else None,
        "negative_share_old": float(a_old.sum() / s_old.sum()) if s_old.sum() else None,
        "negative_share_diff": maybe(rd) if rd_ok else None,
        "negative_share_diff_low": float(np.quantile(boot_rd, 0.025)) if rd_ok else None,
        "negative_share_diff_high": float(np.quantile(boot_rd, 0.975)) if rd_ok else None,
        "negative_share_diff_se": maybe(se_rd),
        "p_contact_rate": _one_sided_p(float(np.log(rr)), se_rr) if rr_ok else None,
        "p_negative_share": _one_sided_p(rd, se_rd) if rd_ok else None,
        "top_topics": [str(t) for t in moved["topic"]], "top_topic_z": [float(z) for z in moved["z"]]}
    return pd.DataFrame([row], columns=_STATS_COLUMNS)


def flag_releases(frame: pd.DataFrame, params: ReleaseParams) -> pd.DataFrame:
    """All tested releases at once: p-value, BH q-value, and the difference-in-differences
    against the product's previous release (``previous_release_id``, when it was tested)."""
    frame = frame.sort_values(["product", "released_at", "release_id"]).reset_index(drop=True)
    p = frame[["p_contact_rate", "p_negative_share"]].astype(float).min(axis=1, skipna=True)
    p = np.minimum(1.0, 2 * p.to_numpy(float))
    tested = frame["tested"].to_numpy(bool) & np.isfinite(p)
    q = np.full(len(frame), np.nan)
    q[tested] = bh_qvalues(p[tested])
    rows = []
    for i, r in frame.iterrows():
        prev = frame.iloc[i - 1] if i > 0 and frame.at[i - 1, "product"] == r["product"] else None
        did: dict[str, float | str | None] = dict.fromkeys(_FLAG_SCHEMA_COLUMNS[3:], None)
        if prev is not None:
            did["previous_release_id"] = prev["release_id"]
        if prev is not None and prev["tested"] and r["tested"]:
            for key, log in (("contact_rate_ratio", True), ("negative_share_diff", False)):
                a, b = r[key], prev[key]
                se = np.hypot(r["log_rate_ratio_se" if log else "negative_share_diff_se"],
                              prev["log_rate_ratio_se" if log else "negative_share_diff_se"])
                if pd.isna(a) or pd.isna(b) or not np.isfinite(se):
                    continue
                est = np.log(a) - np.log(b) if log else a - b
                lo, hi = est - _Z95 * se, est + _Z95 * se
                back = np.exp if log else (lambda x: x)
                did[f"did_{key}"], did[f"did_{key}_low"], did[f"did_{key}_high"] = (
                    float(back(est)), float(back(lo)), float(back(hi)))
        rows.append({"release_id": r["release_id"], "p_value": float(p[i]) if tested[i] else None,
                     "q_value": float(q[i]) if tested[i] else None, **did})
    return pd.DataFrame(rows, columns=_FLAG_SCHEMA_COLUMNS)


# -- the mart ----------------------------------------------------------------------------------

def build_release_impact(releases: DataFrame, openings: DataFrame, params: ReleaseParams,
                         history_start: datetime, as_of: datetime) -> DataFrame:
    """gold.release_impact: one row per release in ``releases`` (see the module docstring).
    ``history_start``: when the lake's messages begin (a release before it is
    ``before_history``); ``as_of``: when they end (a window still open is cut there and its
    row says ``window_complete = false``)."""
    contacts = release_contacts(openings, releases, params, as_of)
    stats = contacts.groupBy("release_id").applyInPandas(lambda pdf: release_stats(pdf, params), _STATS_SCHEMA)
    window_end = _plus_days(F.col("released_at"), params.window_days)
    before = F.col("released_at") < F.lit(history_start).cast("timestamp")
    enough = (F.coalesce("customers_new", F.lit(0)) >= params.min_customers) & (
        F.coalesce("customers_old", F.lit(0)) >= params.min_customers)
    rows = (releases.select("release_id", "product", "version", "released_at", window_end.alias("window_end"), "notes")
            .join(stats, "release_id", "left")
            .withColumn("window_complete", window_end <= F.lit(as_of).cast("timestamp"))
            .withColumn("tested", ~before & enough))
    flags = (rows.select("release_id", "product", "released_at", "tested", "contact_rate_ratio", "log_rate_ratio_se",
                         "negative_share_diff", "negative_share_diff_se", "p_contact_rate", "p_negative_share")
             .withColumn("_all", F.lit(0)).groupBy("_all")
             .applyInPandas(lambda pdf: flag_releases(pdf, params), _FLAG_SCHEMA))
    harm = ((F.col("q_value") < params.alpha)
            & ((F.col("contact_rate_ratio_low") > 1) | (F.col("negative_share_diff_low") > 0)))
    status = (F.when(before, F.lit("before_history")).when(~F.col("tested"), F.lit("too_few_customers"))
              .when(harm, F.lit("hurt")).otherwise(F.lit("no_change")))
    counts = ["customers_new", "customers_old", "contacts_new", "contacts_old", "complaints_new", "complaints_old"]
    return (rows.join(flags, "release_id", "left").fillna(0, counts)
            .withColumn("top_topics", F.coalesce("top_topics", F.array().cast("array<string>")))
            .withColumn("top_topic_z", F.coalesce("top_topic_z", F.array().cast("array<double>")))
            .select(F.to_date("released_at").alias("date"), "release_id", "product", "version", "released_at",
                    "window_end", "window_complete", "previous_release_id", *counts,
                    "contact_rate_new", "contact_rate_old", "contact_rate_ratio", "contact_rate_ratio_low",
                    "contact_rate_ratio_high", "negative_share_new", "negative_share_old", "negative_share_diff",
                    "negative_share_diff_low", "negative_share_diff_high", "did_contact_rate_ratio",
                    "did_contact_rate_ratio_low", "did_contact_rate_ratio_high", "did_negative_share_diff",
                    "did_negative_share_diff_low", "did_negative_share_diff_high", "p_value", "q_value",
                    (status == "hurt").alias("hurt"), status.alias("status"), "top_topics", "top_topic_z", "notes"))
