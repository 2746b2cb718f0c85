"""End to end with late data: day-by-day runs as the scheduler makes them equal a rebuild."""

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from tests.conftest import make_config
from voicelake.generator import GeneratorSettings, generate_history
from voicelake.jobs.build_gold import build_gold
from voicelake.jobs.build_silver import build_silver
from voicelake.jobs.ingest import ingest
from voicelake.lake import Lake
from voicelake.runtime import JobContext
from voicelake.schemas import GOLD_SERVICE_DAILY

START, DAYS = date(2026, 2, 2), 2


def land(generated: Path, landing: Path, day: date | None) -> int:
    """Copy the generated files that land on ``day`` (all when None) into the landing zone."""
    n = 0
    for path in sorted(generated.rglob("*.*")):
        if day is None or path.name[:10] == str(day):
            target = landing / path.relative_to(generated)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
            n += 1
    return n


@pytest.mark.scenario  # eight daily runs and a rebuild: many minutes
def test_day_by_day_with_late_data_equals_a_rebuild(spark: SparkSession, tmp_path: Path) -> None:
    generated = tmp_path / "generated"
    generate_history(GeneratorSettings(
        days=DAYS, customers=30, seed=5, start=START, landing=generated, answers=tmp_path / "answers.json",
        workers=1, late_rate=0.15, update_rate=0.5))
    assert any(".late-from-" in p.name for p in generated.rglob("*"))
    last = START + timedelta(days=DAYS)  # the day the last late files land

    daily = make_config(tmp_path / "daily")
    ctx = JobContext(daily, spark, Lake(spark, daily))
    late_days = []
    for i in range(DAYS + 1):
        day = START + timedelta(days=i)
        assert land(generated, Path(daily.lake.landing), day)
        ingest(ctx)
        late_days += build_silver(ctx, day=day).late_dates
        build_gold(ctx, day=day)
    assert any(d < last for d in late_days)  # late records made earlier days rebuild

    scratch = make_config(tmp_path / "scratch")
    ctx2 = JobContext(scratch, spark, Lake(spark, scratch))
    land(generated, Path(scratch.lake.landing), None)
    ingest(ctx2)
    build_silver(ctx2, since=START, until=last)
    build_gold(ctx2, since=START, until=last)

    expected = ctx2.lake.read(GOLD_SERVICE_DAILY)
    assert expected.count() > 5
    assertDataFrameEqual(ctx.lake.read(GOLD_SERVICE_DAILY), expected, checkRowOrder=False)
