"""Interval and shrinkage estimators as Spark column expressions, for every published rate.

Pure functions: they build columns or transform DataFrames and never read, write or collect.

- `wilson_interval`: 95% Wilson score interval of a proportion (good coverage at small n,
  never outside [0, 1]).
- `empirical_bayes_rate`: a beta-binomial posterior mean per group, shrunk toward the
  pooled rate with a prior strength estimated by the method of moments across the groups,
  so a group with three trials is neither best nor worst by chance.
- `poisson_weight`: a deterministic Poisson(1) draw from a hash of a key and a replicate
  number, the weight of one unit in one replicate of a Poisson bootstrap.
"""

from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

Z95 = 1.959963984540054


def wilson_interval(successes: Column, trials: Column, z: float = Z95) -> tuple[Column, Column]:
    """(low, high) Wilson score interval for successes / trials; NULL where trials is 0."""
    n = trials.cast("double")
    p = successes.cast("double") / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * F.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    valid = trials > 0
    # the rate itself always lies inside (at 0 or 1 rounding could put the bound a hair past it)
    return (F.when(valid, F.greatest(F.lit(0.0), F.least(p, centre - half))),
            F.when(valid, F.least(F.lit(1.0), F.greatest(p, centre + half))))


def empirical_bayes_rate(df: DataFrame, successes: str, trials: str, partition_by: list[str],
                         output: str = "shrunk_rate", min_prior_strength: float = 2.0) -> DataFrame:
    """Add ``output``: (successes + m*k) / (trials + k) within each ``partition_by`` group.

    m is the pooled rate of the groups' rows; k, the prior strength, comes from the
    method of moments on the row rates: k = m(1-m)/var - 1, floored at
    ``min_prior_strength`` (and used as is when the rates do not vary more than binomial
    noise). Rows without trials get the pooled rate.
    """
    w = Window.partitionBy(*partition_by) if partition_by else Window.partitionBy(F.lit(1))
    rate = F.try_divide(F.col(successes), F.col(trials).cast("double"))
    pooled = F.try_divide(F.sum(successes).over(w), F.sum(trials).over(w).cast("double"))  # NULL: no trials
    rated = F.when(F.col(trials) > 0, rate)
    var = F.var_samp(rated).over(w)
    mean_n = F.avg(F.when(F.col(trials) > 0, F.col(trials))).over(w)
    # observed variance of rates = between-group variance + binomial noise m(1-m)/n
    between = var - F.try_divide(pooled * (1 - pooled), mean_n)
    strength = F.when(between > 0, pooled * (1 - pooled) / between - 1)
    k = F.greatest(F.lit(min_prior_strength), F.coalesce(strength, F.lit(1e6)))
    return (df.withColumn("_m", pooled).withColumn("_k", k)
            .withColumn(output, (F.col(successes) + F.col("_m") * F.col("_k")) / (F.col(trials) + F.col("_k")))
            .drop("_m", "_k"))


def poisson_weight(key: Column, replicate: Column, seed: int = 17) -> Column:
    """A Poisson(1) draw that depends only on (key, replicate, seed): inverse CDF on a hash."""
    u = (F.abs(F.xxhash64(key, replicate, F.lit(seed))) % F.lit(1 << 30)) / float(1 << 30)
    # Poisson(1) CDF: P(X <= k) = e^-1 * sum_{i<=k} 1/i!
    cdf, term, weight = 0.0, math.exp(-1.0), F.lit(8)
    bounds = []
    for k in range(8):
        cdf += term
        bounds.append((k, cdf))
        term /= k + 1
    for k, bound in reversed(bounds):
        weight = F.when(u < bound, F.lit(k)).otherwise(weight)
    return weight
