"""What each silver and gold build rebuilt, so that later runs know what is new.

``silver.build_log``: one row per build-silver run: the ingest batches it consumed and the
dates it rebuilt. ``gold.build_log``: one row per published build-gold run: the dates it
published and the silver builds it consumed. A dated build-silver rebuilds every date touched
by ingest batches no silver build consumed yet; a dated build-gold also rebuilds the dates of
silver builds no gold build consumed yet. Both tables are append-only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime

from voicelake.runtime import JobContext
from voicelake.schemas import INGEST_LOG

SILVER_BUILD_LOG = "silver.build_log"
GOLD_BUILD_LOG = "gold.build_log"
BUILD_LOG_SCHEMA = ("build_id string, built_at timestamp, as_of timestamp, run_dates array<date>, "
                    "rebuilt_dates array<date>, consumed array<string>")


def new_build_id() -> str:
    """A fresh build id."""
    return uuid.uuid4().hex[:12]


def consumed(ctx: JobContext, log: str) -> set[str]:
    """Everything the builds logged in ``log`` consumed (ingest batches or silver builds)."""
    if not ctx.lake.exists(log):
        return set()
    rows = ctx.lake.read(log).selectExpr("explode(consumed)").distinct().collect()
    return {r[0] for r in rows}


def unconsumed_batches(ctx: JobContext) -> list[str]:
    """Ingest batches that no silver build has consumed yet."""
    if not ctx.lake.exists(INGEST_LOG):
        return []
    batches = {r[0] for r in ctx.lake.read(INGEST_LOG).select("batch_id").distinct().collect()}
    return sorted(batches - consumed(ctx, SILVER_BUILD_LOG))


def unconsumed_silver_builds(ctx: JobContext) -> dict[str, list[date]]:
    """Silver builds no gold build has consumed yet, with the dates each rebuilt."""
    if not ctx.lake.exists(SILVER_BUILD_LOG):
        return {}
    done = consumed(ctx, GOLD_BUILD_LOG)
    rows = ctx.lake.read(SILVER_BUILD_LOG).select("build_id", "rebuilt_dates").collect()
    return {r["build_id"]: list(r["rebuilt_dates"] or []) for r in rows if r["build_id"] not in done}


def record_build(ctx: JobContext, log: str, build_id: str, as_of: datetime | None,
                 run_dates: Iterable[date] | None, rebuilt_dates: Iterable[date],
                 consumed_ids: Iterable[str]) -> None:
    """Append one build's row to ``log``."""
    row = (build_id, datetime.now(UTC).replace(tzinfo=None), as_of,
           sorted(run_dates) if run_dates is not None else None, sorted(set(rebuilt_dates)),
           sorted(set(consumed_ids)))
    ctx.lake.append(ctx.spark.createDataFrame([row], BUILD_LOG_SCHEMA), log)
