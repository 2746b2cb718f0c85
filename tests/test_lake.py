"""Lake: each run stages into a folder of its own; gold tables get views with their columns."""

from __future__ import annotations

import shutil
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


def test_a_gold_table_has_a_view_with_its_columns_for_jdbc_clients(ctx: JobContext) -> None:
    """Delta keeps a table's columns in its log, not in the catalog JDBC clients read: each gold
    table gets a view in `sql_endpoint.database` whose catalog entry carries them, kept in step."""
    spark, lake = ctx.spark, ctx.lake
    first = spark.createDataFrame([("p1", 3)], "product string, messages int")
    lake.overwrite(first, "gold.view_probe")
    columns = spark.catalog.listColumns("bi.view_probe")
    assert [(c.name, c.dataType) for c in columns] == [("product", "string"), ("messages", "int")]
    lake.overwrite(first.selectExpr("*", "0.5 AS negative_share"), "gold.view_probe")  # a release adds a column
    assert [c.name for c in spark.catalog.listColumns("bi.view_probe")] == ["product", "messages", "negative_share"]
    assert spark.table("bi.view_probe").collect()[0]["negative_share"] == 0.5
    lake.overwrite(first, "silver.view_probe_silver")  # silver is not for BI tools
    assert not spark.catalog.tableExists("bi.view_probe_silver")

    spark.sql("DROP TABLE gold.view_probe")  # a lost catalog entry: the data is still in the lake
    spark.sql("DROP VIEW bi.view_probe")
    fresh = type(lake)(spark, ctx.config)  # a new session's Lake, e.g. `voicelake serve-sql`'s
    assert "view_probe" in lake.tables_in_storage("gold") and fresh.expose_all() >= 1
    assert spark.table("bi.view_probe").count() == 1 and spark.catalog.tableExists("gold.view_probe")
    lake.overwrite(first, "gold.view_probe_gone")
    shutil.rmtree(Path(lake.location("gold.view_probe_gone")))  # a table removed from the lake
    type(lake)(spark, ctx.config).expose_all()
    assert not spark.catalog.tableExists("bi.view_probe_gone")
