"""The incident marts build_gold stages once messages are scored and silver.incidents exists
(docs/marts.md#goldincident_impact, #goldunexplained_spikes).

    gold.incident_impact      date partitions (the incident's start)   one row per incident
    gold.unexplained_spikes   date partitions (the spike's start)      complaint spikes no incident
                                                                       explains; incidents nobody noticed

An incident's window runs into the day after it started, so a dated run rebuilds its dates
and the day before each (`incident_dates`): the next daily run completes yesterday's
incidents. The complaints a date's rows compare with are the ``baseline_weeks`` weeks (and the
level week before the earliest of them) before it, read from silver; a backfill or a late
record changes the rows of the dates it touches the same way a full rebuild would.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.jobs.topic_marts import negative_valence
from voicelake.jobs.transforms.incidents import (
    LEVEL_DAYS,
    IncidentParams,
    build_incident_impact,
    build_unexplained_spikes,
    complaint_openings,
)
from voicelake.runtime import JobContext
from voicelake.schemas import (
    GOLD_INCIDENT_IMPACT,
    GOLD_UNEXPLAINED_SPIKES,
    SILVER_INCIDENTS,
    SILVER_MESSAGE_EMOTIONS,
    SILVER_MESSAGE_TOPICS,
    SILVER_MESSAGES,
)

INCIDENT_MARTS = (GOLD_INCIDENT_IMPACT, GOLD_UNEXPLAINED_SPIKES)


def incident_params(ctx: JobContext) -> IncidentParams:
    return IncidentParams.from_config(dict(ctx.config.incidents.impact))


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
    """gold.incident_impact and gold.unexplained_spikes for the dates (every date when None);
    nothing before messages are scored and incidents reach silver. The openings both marts
    read (and the impact rows the spikes mart reads) are cached and appended to ``cached``."""
    cached = [] if cached is None else cached
    if not (ctx.lake.exists(SILVER_MESSAGE_EMOTIONS) and ctx.lake.exists(SILVER_INCIDENTS)):
        return {}
    lake_start = ctx.lake.read(SILVER_MESSAGES).agg(F.min("sent_date")).first()
    if lake_start is None or lake_start[0] is None:
        return {}
    params = incident_params(ctx)
    scope = incident_dates(dates)

    def read(table: str) -> DataFrame:
        frame = ctx.lake.read(table)
        if scope is None:
            return frame
        return frame.where(F.col("sent_date").between(
            F.lit(min(scope) - timedelta(days=history_days(params))), F.lit(max(scope) + timedelta(days=2))))

    topics = read(SILVER_MESSAGE_TOPICS) if ctx.lake.exists(SILVER_MESSAGE_TOPICS) else None
    openings = complaint_openings(read(SILVER_MESSAGES), read(SILVER_MESSAGE_EMOTIONS), topics,
                                  negative_valence(ctx)).cache()
    cached.append(openings)
    incidents = ctx.lake.read(SILVER_INCIDENTS)
    mine = incidents if scope is None else incidents.where(F.col("started_date").isin(scope))
    impact = build_incident_impact(mine, openings, params, lake_start[0]).cache()  # both marts read it
    cached.append(impact)
    return {GOLD_INCIDENT_IMPACT: impact,
            GOLD_UNEXPLAINED_SPIKES: build_unexplained_spikes(openings, incidents, impact, params, scope,
                                                              lake_start[0])}
