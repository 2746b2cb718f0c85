"""Pure transformations for the topic marts (docs/marts.md#goldtopic_daily, #goldtopic_alerts).

- `build_topic_daily`: date x topic x product x channel: customer messages, conversations
  opened, customers, negative share (Wilson interval) and mean valence.
- `build_topic_alerts`: a topic x day whose volume (conversations opened) or negative share
  is improbable against the topic's own trailing baseline; kinds ``spike`` (the day),
  ``emerging`` (a topic with no baseline) and ``sustained_rise`` (the last days together
  against the weeks before them).
- `series_alerts`: the tests of one topic's daily series (pandas), which
  `build_topic_alerts` applies per topic with ``applyInPandas``.

The statistics are predictive tails, not plug-in ones: a baseline of S conversations gives a
Gamma(S + 1/2) posterior for the topic's volume (Jeffreys prior), and the day's count a
negative binomial with r = S + 1/2, widened by the series' own day-to-day dispersion phi
(method of moments over the trailing window, residuals clipped): 1/r = 1/(S + 1/2) + phi. The
expectation spreads the topic's trailing volume over the weekdays as the whole service's
volume was spread, so weekly seasonality is in the baseline, a small baseline widens the
distribution instead of raising alerts, and an empty one still gives a finite expectation.
A negative share is tested with the beta-binomial predictive of the trailing share.
``statistic`` is the one-sided tail probability as a standard normal z. No reads, writes or
actions here (docs/marts.md#goldtopic_alerts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.config import ConfigError, params_from_mapping
from voicelake.jobs.transforms.gold import gold_key
from voicelake.jobs.transforms.stats import wilson_interval

ALERT_KINDS = ("spike", "emerging", "sustained_rise")
ALERT_METRICS = ("volume", "negative_share")
SERIES_COLUMNS = ("date", "topic_id", "topic_label", "conversations", "scored", "negative", "service_conversations")
ALERTS_SCHEMA = (
    "date date, topic_id int, topic_label string, metric string, kind string, observed double, "
    "expected double, expected_high double, statistic double, p_value double, severity string, "
    "persistence int, conversations long, baseline_conversations long, dispersion double")
ALERTS_SCHEMA_COLUMNS = tuple(part.strip().split(" ")[0] for part in ALERTS_SCHEMA.split(","))


@dataclass(frozen=True)
class AlertParams:
    """Thresholds of gold.topic_alerts (conf: ``topics.alerts``)."""

    baseline_days: int = 28          # trailing window; the day is compared with the same weekday in it
    window_days: int = 7             # a sustained rise or an emerging topic sums this many days up to the day
    min_history_days: int = 14       # a day is tested once this many days of the lake precede it (a young lake)
    z_threshold: float = 3.5         # one-sided tail probability as a z (3.5: p = 2.3e-4)
    emerging_z: float = 3.0          # the same for a topic with no baseline (3.0: p = 1.3e-3)
    min_conversations: int = 5       # a spike needs at least this many conversations on the day
    min_ratio: float = 1.5           # ... and at least this multiple of the expected value
    emerging_max_baseline: int = 0   # a topic with at most this many conversations in the baseline has none
    emerging_min_conversations: int = 3  # an emerging topic has at least this many in its window
    min_persistence: int = 3         # a sustained rise: at least this many of its window's days above expectation
    min_share_delta: float = 0.15    # a negative-share spike is at least this far above the baseline share
    min_dispersion: float = 0.0      # floor of the day-to-day dispersion phi (var = m + phi m^2)
    residual_clip: float = 3.0       # Pearson residuals are clipped here when phi is estimated
    high_z: float = 6.0              # severity 'high' at this statistic or beyond

    @classmethod
    def from_config(cls, values: dict | None) -> AlertParams:
        params = params_from_mapping(cls, values, "topics.alerts")
        if params.baseline_days < 7 or params.baseline_days % 7:
            raise ConfigError("topics.alerts.baseline_days must be a positive multiple of 7 (same weekday)")
        if not 7 <= params.min_history_days <= params.baseline_days:
            raise ConfigError("topics.alerts.min_history_days must be between 7 and baseline_days")
        if params.window_days < 1:
            raise ConfigError("topics.alerts.window_days must be at least 1")
        return params

    @property
    def history_days(self) -> int:
        """Days of history before the first evaluated day that the tests read: a day's
        dispersion comes from a baseline window's days before the last ``window_days``, each
        against its own window."""
        return 2 * self.baseline_days + self.window_days


def build_topic_daily(topics: DataFrame, messages: DataFrame, emotions: DataFrame,
                      negative_valence: float) -> DataFrame:
    """gold.topic_daily: date x topic_id x product x channel of customer messages with a topic.

    ``conversations`` counts the conversations whose opening message (the one their topic
    was read from) was sent that day; ``negative_share`` is over the scored messages."""
    rows = (topics.select("message_id", "opening_message_id", "topic_id", "topic_label",
                          F.col("model_version").cast("int").alias("version"), F.col("sent_date").alias("date"))
            .join(messages.select("message_id", "customer_key", gold_key("product"), gold_key("channel")),
                  "message_id")
            .join(emotions.select("message_id", "valence"), "message_id", "left"))
    negative = F.sum((F.col("valence") < negative_valence).cast("int"))
    daily = rows.groupBy("date", "topic_id", "product", "channel").agg(
        F.max_by("topic_label", "version").alias("topic_label"),
        F.count(F.lit(1)).alias("messages"),
        F.count(F.when(F.col("message_id") == F.col("opening_message_id"), 1)).alias("conversations"),
        F.countDistinct("customer_key").alias("customers"),
        F.count("valence").alias("scored_messages"),
        F.coalesce(negative, F.lit(0)).cast("long").alias("negative_messages"),
        F.avg("valence").alias("mean_valence"))
    share = F.try_divide(F.col("negative_messages"), F.col("scored_messages").cast("double"))
    low, high = wilson_interval(F.col("negative_messages"), F.col("scored_messages"))
    return daily.select(
        "date", "topic_id", "topic_label", "product", "channel", "messages", "conversations", "customers",
        "scored_messages", "negative_messages", share.alias("negative_share"),
        low.alias("negative_share_low"), high.alias("negative_share_high"), "mean_valence")


# -- the tests of one series ----------------------------------------------------------------

def _nb_sf(x: np.ndarray, mean: np.ndarray, r: np.ndarray) -> np.ndarray:
    """P(X >= x) for a negative binomial with this mean and size r."""
    from scipy.stats import nbinom

    return np.where(x <= 0, 1.0, nbinom.sf(x - 1, r, r / (r + mean)))


def _nb_quantile(q: float, mean: np.ndarray, r: np.ndarray) -> np.ndarray:
    from scipy.stats import nbinom

    return nbinom.ppf(q, r, r / (r + mean))


def _z(p: np.ndarray) -> np.ndarray:
    from scipy.stats import norm

    return norm.isf(np.clip(p, 1e-300, 1.0))


def _sums(values: np.ndarray, lag: int, length: int) -> np.ndarray:
    """For each day i: the sum of values[i - lag - length + 1 .. i - lag] (0 outside the series)."""
    c = np.concatenate([[0.0], np.cumsum(values, dtype=float)])
    i = np.arange(len(values))
    hi = np.clip(i - lag + 1, 0, len(values))
    lo = np.clip(i - lag - length + 1, 0, len(values))
    return c[hi] - c[lo]


def _same_weekday_sum(values: np.ndarray, weeks: int) -> np.ndarray:
    out = np.zeros(len(values))
    for w in range(1, weeks + 1):
        out[w * 7:] += values[:-w * 7] if w * 7 < len(values) else 0.0
    return out


def rolling_dispersion(x: np.ndarray, mean: np.ndarray, r: np.ndarray, usable: np.ndarray, lag: int, days: int,
                       clip: float) -> np.ndarray:
    """Day-to-day dispersion phi of each day beyond the predictive variance, by the method of
    moments over ``days`` days ending ``lag`` days before it:
    sum(var * (min(pearson^2, clip^2) - 1)) / sum(mean^2). Residuals are clipped at ``clip`` so
    that a spike does not hide the next one, and the last ``lag`` days are left out so that a
    rise under test is not taken for noise; a day's phi depends only on earlier days, so an
    incremental run gives a full rebuild's value."""
    var = mean + mean * mean / r
    ok = usable & (mean > 0)
    pearson2 = np.divide((x - mean) ** 2, var, out=np.zeros(len(x)), where=ok)
    excess = np.where(ok, var * (np.minimum(pearson2, clip * clip) - 1.0), 0.0)
    scale = np.where(ok, mean * mean, 0.0)
    num, den = _sums(excess, lag, days), _sums(scale, lag, days)
    return np.divide(num, den, out=np.zeros(len(x)), where=den > 0).clip(min=0.0)


def series_alerts(series: pd.DataFrame, params: AlertParams, first_evaluated: date) -> pd.DataFrame:
    """Alerts of one topic's daily series: ``series`` has one row per consecutive day
    (SERIES_COLUMNS, days without messages at 0); days before ``first_evaluated`` are only
    history. At most one volume and one negative-share alert per day."""
    s = series.sort_values("date").reset_index(drop=True)
    x = s["conversations"].to_numpy(dtype=float)
    scored = s["scored"].to_numpy(dtype=float)
    neg = s["negative"].to_numpy(dtype=float)
    days = pd.to_datetime(s["date"]).dt.date.to_numpy()
    B, W = params.baseline_days, params.window_days
    weeks = B // 7
    position = np.arange(len(s))
    available = np.minimum(position, B)  # days of the baseline window inside the series
    has_history = available >= params.min_history_days
    # the day against the topic's trailing window, spread over the weekdays as the whole
    # service's trailing volume was (weekly seasonality is in the baseline)
    service = s["service_conversations"].to_numpy(dtype=float)
    s_all = _sums(x, 1, B)
    service_all = _sums(service, 1, B)
    same_weekdays = available // 7
    weekday_share = np.divide(_same_weekday_sum(service, weeks), service_all * same_weekdays,
                              out=np.full(len(s), 1.0 / B), where=(service_all > 0) & (same_weekdays > 0))
    r_day0 = s_all + 0.5
    m_day = r_day0 * weekday_share
    phi = np.maximum(params.min_dispersion,
                     rolling_dispersion(x, m_day, r_day0, has_history, W, B, params.residual_clip))
    r_day = 1.0 / (1.0 / r_day0 + phi)
    p_day = _nb_sf(x, m_day, r_day)
    expected_day = s_all * weekday_share
    # the last W days against the B days before them
    x_win = _sums(x, 0, W)
    s_prev = _sums(x, W, B)
    r_win0 = s_prev + 0.5
    available_prev = np.clip(position - W + 1, 0, B)  # days of the window before the last W days
    per_day_prev = W / np.maximum(available_prev, 1)
    m_win = r_win0 * per_day_prev
    expected_win = s_prev * per_day_prev
    r_win = 1.0 / (1.0 / r_win0 + phi / W)
    p_win = _nb_sf(x_win, m_win, r_win)
    window_history = available_prev >= params.min_history_days
    # persistence: days of the last W (this one included) above their expectation
    persistence = _sums((x > expected_day).astype(float), 0, W).astype(int)
    alpha = float(_z_to_p(params.z_threshold))
    rows = []
    evaluated = np.array([d >= first_evaluated for d in days]) & has_history
    emerging = (window_history & (s_prev <= params.emerging_max_baseline) & (p_win <= _z_to_p(params.emerging_z))
                & (x_win >= params.emerging_min_conversations))
    spike = (~emerging & (p_day <= alpha) & (x >= params.min_conversations)
             & (x >= params.min_ratio * np.maximum(expected_day, 1e-9)))
    rising = (~emerging & ~spike & window_history & (p_win <= alpha) & (persistence >= params.min_persistence)
              & (x_win >= params.min_ratio * np.maximum(expected_win, 1e-9)))
    for kind, hit, p, observed, expected, mean, r in (
            ("emerging", emerging, p_win, x_win, expected_win, m_win, r_win),
            ("spike", spike, p_day, x, expected_day, m_day, r_day),
            ("sustained_rise", rising, p_win, x_win, expected_win, m_win, r_win)):
        for i in np.flatnonzero(hit & evaluated):
            z = float(_z(np.array([p[i]]))[0])
            rows.append({"date": days[i], "metric": "volume", "kind": kind, "observed": float(observed[i]),
                         "expected": float(expected[i]),
                         "expected_high": float(_nb_quantile(0.975, np.array([mean[i]]), np.array([r[i]]))[0]),
                         "statistic": z, "p_value": float(p[i]), "persistence": int(persistence[i]),
                         "conversations": int(x[i]), "baseline_conversations": int(s_all[i]),
                         "dispersion": float(phi[i])})
    rows += _share_alerts(days, x, s_all, scored, neg, evaluated, params, alpha, phi)
    out = pd.DataFrame(rows, columns=[c for c in ALERTS_SCHEMA_COLUMNS if c not in ("topic_id", "topic_label",
                                                                                   "severity")])
    out["topic_id"] = s["topic_id"].iloc[0] if len(s) else None
    out["topic_label"] = s["topic_label"].iloc[-1] if len(s) else None
    out["severity"] = np.where(out["statistic"] >= params.high_z, "high", "medium")
    return out[list(ALERTS_SCHEMA_COLUMNS)]


def _share_alerts(days: np.ndarray, x: np.ndarray, baseline: np.ndarray, scored: np.ndarray, neg: np.ndarray,
                  evaluated: np.ndarray,
                  params: AlertParams, alpha: float, phi: np.ndarray) -> list[dict]:
    """Negative-share spikes: the day's negative messages against the beta-binomial predictive
    of the trailing window's share."""
    from scipy.stats import betabinom

    B = params.baseline_days
    n_base, k_base = _sums(scored, 1, B), _sums(neg, 1, B)
    rows = []
    for i in np.flatnonzero(evaluated & (scored >= params.min_conversations) & (n_base > 0)):
        a, b = k_base[i] + 0.5, n_base[i] - k_base[i] + 0.5
        base, share = a / (a + b), neg[i] / scored[i]
        if share - base < params.min_share_delta:
            continue
        p = float(betabinom.sf(neg[i] - 1, int(scored[i]), a, b))
        if p > alpha:
            continue
        rows.append({"date": days[i], "metric": "negative_share", "kind": "spike", "observed": float(share),
                     "expected": float(base),
                     "expected_high": float(betabinom.ppf(0.975, int(scored[i]), a, b) / scored[i]),
                     "statistic": float(_z(np.array([p]))[0]), "p_value": p, "persistence": 1,
                     "conversations": int(x[i]), "baseline_conversations": int(baseline[i]),
                     "dispersion": float(phi[i])})
    return rows


def _z_to_p(z: float) -> float:
    from scipy.stats import norm

    return float(norm.sf(z))


# -- Spark ----------------------------------------------------------------------------------

def topic_series(daily: DataFrame, start: date, end: date) -> DataFrame:
    """gold.topic_daily summed over products and channels into one row per topic and day
    from ``start`` to ``end`` (inclusive), days without messages at 0, with the whole
    service's conversations of the day (the weekly profile of the baseline)."""
    span = daily.where((F.col("date") >= F.lit(start)) & (F.col("date") <= F.lit(end)))
    totals = span.groupBy("date", "topic_id").agg(
        F.sum("conversations").alias("conversations"), F.sum("scored_messages").alias("scored"),
        F.sum("negative_messages").alias("negative"))
    labels = span.groupBy("topic_id").agg(F.max_by("topic_label", "date").alias("topic_label"))
    service = totals.groupBy("date").agg(F.sum("conversations").alias("service_conversations"))
    spine = daily.sparkSession.range(1).select(F.explode(F.sequence(F.lit(start), F.lit(end))).alias("date"))
    zero = F.lit(0).cast("long")
    return (spine.crossJoin(labels).join(totals, ["date", "topic_id"], "left").join(service, "date", "left")
            .select("date", "topic_id", "topic_label",
                    F.coalesce("conversations", zero).alias("conversations"),
                    F.coalesce("scored", zero).alias("scored"), F.coalesce("negative", zero).alias("negative"),
                    F.coalesce("service_conversations", zero).alias("service_conversations")))


def build_topic_alerts(daily: DataFrame, dates: Sequence[date] | None, params: AlertParams,
                       lake_start: date, lake_end: date) -> DataFrame:
    """gold.topic_alerts for ``dates`` (every day of the lake when None) from gold.topic_daily
    rows covering at least ``params.history_days`` before them. ``lake_start`` is the lake's
    first day: a day needs a full baseline window after it to be tested."""
    first = min(dates) if dates else lake_start
    last = max(dates) if dates else lake_end
    start = max(lake_start, first - timedelta(days=params.history_days))
    series = topic_series(daily, start, last)

    def apply(pdf: pd.DataFrame) -> pd.DataFrame:
        return series_alerts(pdf, params, first)

    alerts = series.groupBy("topic_id").applyInPandas(apply, ALERTS_SCHEMA)
    return alerts if dates is None else alerts.where(F.col("date").isin(list(dates)))
