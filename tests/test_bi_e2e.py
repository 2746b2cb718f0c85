"""BI for real: `voicelake serve-sql` over a copy of the run's gold lake, queried by beeline
(the Hive JDBC client that ships in the pyspark wheel) and impyla (a DB-API client); the
dashboard over it, driven in headless Chromium (screenshots under ``build/dashboard/``);
while the test process publishes new versions (snapshot isolation) and a `voicelake validate`
process runs beside it on the shared metastore. Transcripts are written under the test's
folder (``transcripts/``) and echoed for the closing note.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyspark
import pytest
import yaml
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tests.conftest import SHARED_LAKE_START, GoldLake
from tests.jobs.gates import gold_lake_copy
from voicelake.dashboard import PAGES, Filters, GoldReader, Page, headline_value, make_server
from voicelake.dashboard_browser import browser_page, choose, load, missing_browser_reason
from voicelake.runtime import JobContext
from voicelake.schemas import VALIDATION_RESULTS

pytestmark = pytest.mark.e2e

VOICELAKE = str(Path(sys.executable).parent / "voicelake")
BEELINE = str(Path(pyspark.__file__).parent / "bin" / "beeline")
TABLE = "service_daily"
SCREENSHOTS = Path(__file__).parents[1] / "build" / "dashboard"  # kept after the run: test artifacts


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    ctx: JobContext
    env: dict[str, str]
    port: int
    started: str        # what `voicelake serve-sql` printed
    transcripts: Path

    def voicelake(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([VOICELAKE, *args], env=self.env, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
        return done

    def connect(self) -> Any:
        from impala.dbapi import connect

        return connect(host="127.0.0.1", port=self.port, auth_mechanism="PLAIN", user="analyst",
                       password="unused", database="bi", timeout=120)


@pytest.fixture(scope="module")
def served(gold_lake: GoldLake, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("sql-endpoint")
    ctx = gold_lake_copy(spark, gold_lake, tmp)
    overlay = tmp / "endpoint.yaml"
    overlay.write_text(yaml.safe_dump({"extends": "local", "sql_endpoint": {"metastore_port": free_port()}}))
    env = {**os.environ, "VOICELAKE_HOME": ctx.config.home, "VOICELAKE_ENV": str(overlay)}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    served = Served(ctx, env, free_port(), "", tmp / "transcripts")
    served.transcripts.mkdir()
    served.started = served.voicelake("serve-sql", "--port", str(served.port)).stdout
    try:
        yield served
    finally:
        stopped = subprocess.run([VOICELAKE, "stop-sql"], env=env, capture_output=True, text=True, timeout=300)
        assert "SQL endpoint stopped" in stopped.stdout, stopped


def transcript(served: Served, name: str, text: str) -> None:
    path = served.transcripts / name
    path.write_text(text)
    print(f"\n--- {path}\n{text}")


def test_serve_sql_prints_the_jdbc_url_and_refuses_a_second_server_on_the_port(served: Served) -> None:
    assert f"JDBC URL: jdbc:hive2://localhost:{served.port}/bi" in served.started
    again = served.voicelake("serve-sql", "--port", str(served.port))  # the same home: the running one
    assert f"JDBC URL: jdbc:hive2://localhost:{served.port}/bi" in again.stdout


def test_beeline_lists_columns_and_runs_a_query_on_a_gold_table(served: Served) -> None:
    url = f"jdbc:hive2://localhost:{served.port}/bi"
    script = served.transcripts / "beeline.sql"
    script.write_text(f"!tables\n!columns {TABLE}\nSELECT count(*) AS days, sum(messages) AS messages FROM {TABLE};\n")
    done = subprocess.run([BEELINE, "-u", url, "-n", "analyst", "--outputformat=csv2", "--silent=false",
                           "-f", str(script)], env=served.env, capture_output=True, text=True, timeout=600)
    transcript(served, "beeline.txt", done.stdout + done.stderr[-2000:])
    assert done.returncode == 0
    expected = served.ctx.lake.read(f"gold.{TABLE}").agg(F.count("*").alias("d"), F.sum("messages").alias("m")).first()
    assert f"{expected['d']},{expected['m']}" in done.stdout
    for column, kind in served.ctx.lake.read(f"gold.{TABLE}").dtypes[:4]:  # !columns: JDBC metadata
        assert any(column in line and TABLE in line for line in done.stdout.splitlines()), (column, kind)


def test_impyla_sees_columns_with_their_types_and_the_lakes_numbers(served: Served) -> None:
    frame = served.ctx.lake.read(f"gold.{TABLE}")
    with served.connect() as connection:
        cursor = connection.cursor()
        schema = cursor.get_table_schema(TABLE, "bi")
        cursor.execute(f"SELECT product, sum(messages) AS messages FROM {TABLE} GROUP BY product ORDER BY product")
        rows = cursor.fetchall()
        described = [(d[0], d[1]) for d in cursor.description]
    hive_types = {"string": "STRING", "date": "DATE", "bigint": "BIGINT", "int": "INT", "double": "DOUBLE",
                  "boolean": "BOOLEAN", "timestamp": "TIMESTAMP"}
    assert [name for name, _ in schema] == frame.columns
    assert all(kind == hive_types[spark_type] for (_, kind), (_, spark_type) in zip(schema, frame.dtypes, strict=True)
               if spark_type in hive_types)
    expected = [(r["product"], r["messages"]) for r in
                frame.groupBy("product").agg(F.sum("messages").alias("messages")).orderBy("product").collect()]
    assert rows == expected and described == [("product", "STRING"), ("messages", "BIGINT")]
    transcript(served, "impyla.txt", f"get_table_schema({TABLE!r}, 'bi') -> {schema}\n"
                                     f"description -> {described}\nrows -> {rows}\n")


@pytest.fixture(scope="module")
def dashboard_url(served: Served) -> Iterator[str]:
    reason = missing_browser_reason()
    if reason:
        pytest.skip(f"the dashboard's browser tests need a browser: {reason}")
    server = make_server(GoldReader("127.0.0.1", served.port, "bi"), "127.0.0.1", free_port())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def headline_of(served: Served, page: Page, filters: Filters) -> str:
    """The page's headline from the same SELECT, run by this test over its own connection."""
    return headline_value(GoldReader("127.0.0.1", served.port, "bi", user="test"), page, filters)


def test_every_dashboard_page_draws_its_charts_with_the_gold_tables_numbers(served: Served,
                                                                            dashboard_url: str) -> None:
    loads = []
    with browser_page() as page:
        for spec in PAGES:
            name = spec.path.strip("/") or "health"
            loaded = load(page, dashboard_url + spec.path, SCREENSHOTS / f"{name}.png")
            loads.append(loaded)
            assert loaded.title == spec.title
            assert "could not be drawn" not in page.inner_text("#page")
            if spec.table in {"topic_daily", "product_feedback"}:  # this lake has no topics or ideas
                assert loaded.headline is None and "No data yet: gold." in page.inner_text("#page")
                continue
            assert loaded.headline == headline_of(served, spec, Filters()), spec.path
            assert loaded.charts >= 1, spec.path
        page.click("text=definition and formula")  # the passives page's link to its definition
        page.wait_for_selector("#definition")
        assert "gold.passive_drivers" in page.inner_text("#definition")
    transcript(served, "dashboard-pages.txt", "\n".join(
        f"{p.path}: {p.title}, drawn in {p.seconds:.2f}s, headline {p.headline}, {p.charts} charts, {p.screenshot}"
        for p in loads) + "\n")


def test_a_product_filter_changes_the_numbers_to_the_products_own(served: Served, dashboard_url: str) -> None:
    product = served.ctx.lake.read(f"gold.{TABLE}").agg(F.min("product")).first()[0]
    health = PAGES[0]
    with browser_page() as page:
        load(page, dashboard_url + health.path, SCREENSHOTS / "health-all-products.png")
        everyone = page.inner_text("#kpi")
        choose(page, "product", product)
        page.screenshot(path=str(SCREENSHOTS / "health-one-product.png"), full_page=True)
        one = page.inner_text("#kpi")
    assert everyone == headline_of(served, health, Filters())
    assert one == headline_of(served, health, Filters(product=product)) != everyone


def test_a_query_sees_one_published_version_never_a_mix(served: Served) -> None:
    """Queries run in a loop while the test process publishes three new versions, each
    multiplying every day's messages: a query that read files of two versions would see a
    total that no version has."""
    lake, table = served.ctx.lake, f"gold.{TABLE}"
    before = lake.version(table)
    assert before is not None
    base = lake.read(table).cache()
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def query() -> None:
        try:
            with served.connect() as connection:
                cursor = connection.cursor()
                while not done.is_set() or not seen:
                    cursor.execute(f"SELECT count(*), sum(messages) FROM {TABLE}")
                    seen.append(tuple(cursor.fetchall()[0]))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    reader = threading.Thread(target=query)
    reader.start()
    for factor in (2, 3, 4):
        lake.overwrite(base.withColumn("messages", F.col("messages") * factor), table, partition_by=["date"])
        time.sleep(1.0)
    done.set()
    reader.join(timeout=300)
    base.unpersist()
    after = lake.version(table)
    assert not errors and after is not None and after == before + 3
    published = {tuple(lake.read(table, v).agg(F.count("*"), F.sum("messages")).first())  # type: ignore[arg-type]
                 for v in range(before, after + 1)}
    assert set(seen) <= published, (set(seen) - published, published)
    assert len(seen) >= 4
    DeltaTable.forPath(served.ctx.spark, lake.location(table)).restoreToVersion(before)  # the next test's gold
    transcript(served, "snapshot-isolation.txt",
               f"{len(seen)} queries while versions {before}..{after} were published; distinct results "
               f"{sorted(set(seen))}; every one is a published version's {sorted(published)}\n")


def test_a_job_writes_through_the_shared_metastore_while_the_endpoint_serves(served: Served) -> None:
    """Another JVM opens the catalog while the endpoint holds it (embedded Derby would refuse):
    `voicelake validate` reads gold through the catalog and appends gold.validation_results."""
    day = (SHARED_LAKE_START + timedelta(days=3)).isoformat()
    recorded = served.ctx.lake.version(VALIDATION_RESULTS)
    answers: list[int] = []
    stop = threading.Event()

    def query() -> None:
        with served.connect() as connection:
            cursor = connection.cursor()
            while not stop.is_set():
                cursor.execute(f"SELECT count(*) FROM {TABLE}")
                answers.append(cursor.fetchall()[0][0])
                time.sleep(2.0)

    reader = threading.Thread(target=query)
    reader.start()
    try:
        run = served.voicelake("validate", "--date", day, "--layer", "gold", "--suite", "gold_service_daily")
    finally:
        stop.set()
        reader.join(timeout=300)
    assert "PASS  gold_service_daily" in run.stdout
    assert (served.ctx.lake.version(VALIDATION_RESULTS) or 0) > (recorded or 0)
    assert answers and all(n > 0 for n in answers)
    transcript(served, "concurrent-job.txt", f"validate --date {day} while the endpoint served "
                                             f"({len(answers)} queries answered meanwhile):\n{run.stdout[-1500:]}")
