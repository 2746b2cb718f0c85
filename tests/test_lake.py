"""Lake staging: each run stages into a folder of its own and removes only that folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicelake.runtime import JobContext

TABLE = "gold.service_daily"


def test_concurrent_runs_stage_apart_and_drop_only_their_own(ctx: JobContext) -> None:
    first = ctx.spark.createDataFrame([(1,)], "n int")
    second = ctx.spark.createDataFrame([(2,), (3,)], "n int")
    ctx.lake.stage(first, TABLE, "run-a")
    ctx.lake.stage(second, TABLE, "run-b")  # a second build meanwhile: run-a's copy is untouched
    assert ctx.lake.staging_location(TABLE, "run-a") != ctx.lake.staging_location(TABLE, "run-b")
    assert [r["n"] for r in ctx.lake.read_staged(TABLE, "run-a").collect()] == [1]
    ctx.lake.drop_staging("run-a")
    staging = Path(ctx.config.lake.root) / "_staging"
    assert [p.name for p in staging.iterdir()] == ["run-b"]
    assert ctx.lake.read_staged(TABLE, "run-b").count() == 2
    with pytest.raises(LookupError, match="nothing staged for gold.service_daily"):
        ctx.lake.read_staged(TABLE, "run-a")


def test_a_run_id_that_is_not_a_path_segment_is_refused(ctx: JobContext) -> None:
    with pytest.raises(ValueError, match="staging run id"):
        ctx.lake.staging_location(TABLE, "../gold")
