"""The incident and release marts build_gold stages once messages are scored and
silver.incidents (silver.releases) exists (docs/marts.md#goldincident_impact,
#goldunexplained_spikes, #goldrelease_impact).

    gold.incident_impact      date partitions (the incident's start)   one row per incident
    gold.unexplained_spikes   date partitions (the spike's start)      complaint spikes no incident
                                                                       explains; incidents nobody noticed
    gold.release_impact       date partitions (the day it shipped)     one row per product version

An incident's window runs into the day after it started, so a dated run rebuilds its dates
and the day before each (`incident_dates`): the next daily run completes yesterday's
incidents. The complaints a date's rows compare with are the ``baseline_weeks`` weeks (and the
level week before the earliest of them) before it, read from silver; a backfill or a late
record changes the rows of the dates it touches the same way a full rebuild would.

A release's cohorts are compared over the ``window_days`` after it shipped, so a dated run
rebuilds the releases of each date and the ``window_days`` before it (`release_dates`), with
the previous release of each of their products (their difference-in-differences baseline),
reading only the messages of those releases' windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from voicelake.config import Config
from voicelake.jobs.topic_marts import negative_valence
from voicelake.jobs.transforms.incidents import (
    LEVEL_DAYS,
    IncidentParams,
    build_incident_impact,
    build_unexplained_spikes,
    complaint_openings,
)
from voicelake.jobs.transforms.releases import ReleaseParams, build_release_impact
from voicelake.runtime import JobContext
from voicelake.schemas import (
    GOLD_INCIDENT_IMPACT,
    GOLD_RELEASE_IMPACT,
    GOLD_UNEXPLAINED_SPIKES,
    SILVER_INCIDENTS,
    SILVER_MESSAGE_EMOTIONS,
    SILVER_MESSAGE_TOPICS,
    SILVER_MESSAGES,
    SILVER_RELEASES,
)

INCIDENT_MARTS = (GOLD_INCIDENT_IMPACT, GOLD_UNEXPLAINED_SPIKES)
RELEASE_MARTS = (GOLD_RELEASE_IMPACT,)


def incident_params(ctx: JobContext) -> IncidentParams:
    return IncidentParams.from_config(dict(ctx.config.incidents.impact))


def release_params(config: Config) -> ReleaseParams:
    return ReleaseParams.from_config(dict(config.incidents.releases))


def release_dates(dates: Sequence[date] | None, params: ReleaseParams) -> list[date] | None:
    """The partitions of gold.release_impact a run of ``dates`` rebuilds: releases whose
    window holds one of the dates (each date and the ``window_days`` before it)."""
    if dates is None:
        return None
    return sorted({d - timedelta(days=k) for d in dates for k in range(params.window_days + 1)})


def incident_dates(dates: Sequence[date] | None) -> list[date] | None:
    """The partitions a run of ``dates`` rebuilds: each date and the day before it."""
    if dates is None:
        return None
    return sorted(set(dates) | {d - timedelta(days=1) for d in dates})


def history_days(params: IncidentParams) -> int:
    """Days before a date its rows read: the baseline weeks, their level week, and a day for
    windows that open on the day before."""
    return 7 * params.baseline_weeks + LEVEL_DAYS + 1 + int(params.before_hours // 24 + 1)


def build_incident_marts(ctx: JobContext, dates: Sequence[date] | None,
                         cached: list[DataFrame] | None = None) -> dict[str, DataFrame]:
    """gold.incident_impact and gold.unexplained_spikes (once silver.incidents exists) and
    gold.release_impact (once silver.releases exists) for the dates (every date when None);
    nothing before messages are scored. The openings the marts read (and the impact rows the
    spikes mart reads) are cached and appended to ``cached``."""
    cached = [] if cached is None else cached
    if not ctx.lake.exists(SILVER_MESSAGE_EMOTIONS):
        return {}
    span = ctx.lake.read(SILVER_MESSAGES).agg(F.min("sent_at"), F.max("sent_at")).first()
    if span is None or span[0] is None:
        return {}
    lake_start, lake_end = span[0], span[1]
    # a full build reads every opening once for both marts; a dated one reads each mart's own span
    every = None
    if dates is None:
        every = _openings(ctx, None).cache()
        cached.append(every)
    marts: dict[str, DataFrame] = {}
    if ctx.lake.exists(SILVER_INCIDENTS):
        marts.update(_incident_marts(ctx, dates, cached, lake_start.date(), every))
    if ctx.lake.exists(SILVER_RELEASES):
        as_of = lake_end if dates is None else min(lake_end, datetime.combine(max(dates) + timedelta(days=1), time()))
        marts[GOLD_RELEASE_IMPACT] = _release_impact(ctx, dates, lake_start, as_of, every)
    return marts


def _openings(ctx: JobContext, keep: Column | None) -> DataFrame:
    """Conversation openings (`complaint_openings`) of the messages ``keep`` selects (all: None)."""
    def read(table: str) -> DataFrame:
        frame = ctx.lake.read(table)
        return frame if keep is None else frame.where(keep)

    topics = read(SILVER_MESSAGE_TOPICS) if ctx.lake.exists(SILVER_MESSAGE_TOPICS) else None
    return complaint_openings(read(SILVER_MESSAGES), read(SILVER_MESSAGE_EMOTIONS), topics, negative_valence(ctx))


def _incident_marts(ctx: JobContext, dates: Sequence[date] | None, cached: list[DataFrame],
                    lake_start: date, every: DataFrame | None) -> dict[str, DataFrame]:
    params = incident_params(ctx)
    scope = incident_dates(dates)
    if every is not None:
        openings = every
    else:
        assert scope is not None
        openings = _openings(ctx, F.col("sent_date").between(
            F.lit(min(scope) - timedelta(days=history_days(params))), F.lit(max(scope) + timedelta(days=2)))).cache()
        cached.append(openings)
    incidents = ctx.lake.read(SILVER_INCIDENTS)
    mine = incidents if scope is None else incidents.where(F.col("started_date").isin(scope))
    impact = build_incident_impact(mine, openings, params, lake_start).cache()  # both marts read it
    cached.append(impact)
    return {GOLD_INCIDENT_IMPACT: impact,
            GOLD_UNEXPLAINED_SPIKES: build_unexplained_spikes(openings, incidents, impact, params, scope, lake_start)}


def _release_impact(ctx: JobContext, dates: Sequence[date] | None, lake_start: datetime,
                    as_of: datetime, every: DataFrame | None) -> DataFrame:
    params = release_params(ctx.config)
    releases = ctx.lake.read(SILVER_RELEASES)
    scope = release_dates(dates, params)
    if scope is None:
        assert every is not None
        return build_release_impact(releases, every, params, lake_start, as_of)
    # the run's releases and the previous release of each of their products: a small table, read here
    listed = releases.select("release_id", "product", "released_date").collect()
    mine = {r["release_id"] for r in listed if r["released_date"] in set(scope)}
    wanted = set(mine)
    for r in listed:
        if r["release_id"] in mine:
            earlier = [x for x in listed if x["product"] == r["product"] and x["released_date"] is not None
                       and r["released_date"] is not None and x["released_date"] < r["released_date"]]
            if earlier:
                wanted.add(max(earlier, key=lambda x: x["released_date"])["release_id"])
    windows = [F.col("sent_date").between(F.lit(r["released_date"]),
                                          F.lit(r["released_date"] + timedelta(days=params.window_days)))
               for r in listed if r["release_id"] in wanted and r["released_date"] is not None]
    keep = F.lit(False)
    for window in windows:
        keep = keep | window
    rows = build_release_impact(releases.where(F.col("release_id").isin(sorted(wanted))), _openings(ctx, keep),
                                params, lake_start, as_of)
    return rows.where(F.col("date").isin(scope))
