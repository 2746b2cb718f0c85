"""The one place voicelake reads and writes Delta tables.

A table is named ``<layer>.<name>`` (``bronze.tickets``, ``gold.service_daily``); its data
lives at ``<lake.root>/<layer>/<name>`` and the catalog entry of the same name points there
(external tables), so SQL users, BI tools and later processes all see the same tables.
Writes are idempotent: partition-scoped ``replaceWhere`` overwrites or MERGE on keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from voicelake.config import Config

_RUN_ID = re.compile(r"[A-Za-z0-9_.-]+")
EXPOSED_LAYER = "gold"  # the layer BI tools read: its tables get SQL-endpoint views (Lake.expose)


@dataclass(frozen=True)
class TableInfo:
    name: str
    location: str
    rows: int
    version: int


def scalar(df: DataFrame) -> Any:
    """The first column of the first row (None for no rows): for one-value aggregates."""
    row = df.first()
    return None if row is None else row[0]


def _sql_literal(value: object) -> str:
    if isinstance(value, datetime):
        return f"TIMESTAMP'{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE'{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value)


def _normalise_location(location: str) -> str:
    if location.startswith("file:"):
        location = location[len("file:"):]
        while location.startswith("//"):
            location = location[1:]
    return location.rstrip("/")


def _overwrite(df: DataFrame, location: str, partition_by: Sequence[str]) -> None:
    if partition_by:
        df = df.repartition(*partition_by)  # one file per partition value
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(location)


class Lake:
    """Delta Lake I/O for one configured lake root and catalog."""

    def __init__(self, spark: SparkSession, config: Config) -> None:
        self.spark = spark
        self.config = config
        self._registered: set[str] = set()
        self._exposed: dict[str, list[str]] = {}  # gold table -> the columns its view was given

    # -- names and locations -------------------------------------------------------------
    def location(self, table: str) -> str:
        """Storage location of ``layer.name``."""
        layer, _, name = table.partition(".")
        if not name or layer not in self.config.lake.layers:
            raise ValueError(f"table names are <layer>.<name> with layer in "
                             f"{self.config.lake.layers}, not {table!r}")
        return f"{self.config.lake.root.rstrip('/')}/{layer}/{name}"

    def staging_root(self, run_id: str) -> str:
        """One run's staging folder, ``<root>/_staging/<run_id>`` (concurrent runs never share one)."""
        if not run_id or not _RUN_ID.fullmatch(run_id):
            raise ValueError(f"a staging run id is letters, digits, '.', '_' or '-', not {run_id!r}")
        return f"{self.config.lake.root.rstrip('/')}/_staging/{run_id}"

    def staging_location(self, table: str, run_id: str) -> str:
        """Where a run stages a table's next content before it is validated and published
        (``<root>/_staging/<run_id>/<layer>/<name>``; not in the catalog, so readers never see it)."""
        layer, _, name = table.partition(".")
        self.location(table)  # checks the name
        return f"{self.staging_root(run_id)}/{layer}/{name}"

    def stage(self, df: DataFrame, table: str, run_id: str, partition_by: Sequence[str] = ()) -> DataFrame:
        """Write ``df`` to the run's staging location of the table (replacing what it staged) and
        return it read back: what is validated is exactly what `publish` will copy."""
        _overwrite(df, self.staging_location(table, run_id), partition_by)
        return self.read_staged(table, run_id)

    def has_staged(self, table: str, run_id: str) -> bool:
        """True when run ``run_id`` staged ``table``."""
        return bool(DeltaTable.isDeltaTable(self.spark, self.staging_location(table, run_id)))

    def read_staged(self, table: str, run_id: str) -> DataFrame:
        """What run ``run_id`` staged for ``table``."""
        location = self.staging_location(table, run_id)
        if not DeltaTable.isDeltaTable(self.spark, location):
            raise LookupError(f"nothing staged for {table} at {location}: run its build step first")
        return self.spark.read.format("delta").load(location)

    def drop_staging(self, run_id: str) -> None:
        """Delete a run's staging folder (after its tables were published)."""
        jvm = self.spark.sparkContext._jvm
        assert jvm is not None
        path = jvm.org.apache.hadoop.fs.Path(self.staging_root(run_id))
        fs = path.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration())
        if fs.exists(path):
            fs.delete(path, True)

    def exists(self, table: str) -> bool:
        return DeltaTable.isDeltaTable(self.spark, self.location(table))

    def read(self, table: str, version: int | None = None) -> DataFrame:
        """The table as a DataFrame (optionally at an earlier Delta version)."""
        if not self.exists(table):
            raise LookupError(f"table {table} does not exist yet at {self.location(table)}")
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(self.location(table))

    def version(self, table: str) -> int | None:
        """Current Delta version, or None when the table does not exist."""
        if not self.exists(table):
            return None
        return int(scalar(DeltaTable.forPath(self.spark, self.location(table)).history(1).select("version")))

    # -- writes ------------------------------------------------------------------------------
    def append(self, df: DataFrame, table: str, partition_by: Sequence[str] = (),
               commit_tag: str | None = None) -> None:
        """Append rows (bronze is append-only); ``commit_tag`` is stored in the Delta commit's
        userMetadata so a batch's commits can be found again (see `commit_tags`)."""
        if partition_by:
            df = df.repartition(*partition_by)  # one file per partition value, not per task
        writer = df.write.format("delta").mode("append")
        if commit_tag:
            writer = writer.option("userMetadata", commit_tag)
        if partition_by and not self.exists(table):
            writer = writer.partitionBy(*partition_by)
        writer.save(self.location(table))
        self.register(table)

    def overwrite(self, df: DataFrame, table: str, partition_by: Sequence[str] = ()) -> None:
        """Replace the whole table's content (a new Delta version; history is kept)."""
        _overwrite(df, self.location(table), partition_by)
        self.register(table)

    def replace_partitions(
        self, df: DataFrame, table: str, column: str, values: Iterable[object]
    ) -> None:
        """Replace the rows whose ``column`` is in ``values`` with ``df`` (idempotent)."""
        values = sorted(set(values), key=str)
        if not self.exists(table):
            self.append(df, table, partition_by=[column])
            return
        if not values:
            return
        condition = f"`{column}` IN ({', '.join(_sql_literal(v) for v in values)})"
        # mergeSchema: a table written before a release that added columns takes them on its
        # next dated write (older rows read NULL) instead of failing
        (df.repartition(column).write.format("delta").mode("overwrite").option("replaceWhere", condition)
         .option("mergeSchema", "true").save(self.location(table)))
        self.register(table)

    def merge(self, df: DataFrame, table: str, keys: Sequence[str], partition_by: Sequence[str] = ()) -> None:
        """Upsert ``df`` on ``keys``: matching rows are updated, new rows inserted."""
        if not self.exists(table):
            self.append(df, table, partition_by=partition_by)
            return
        condition = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
        (DeltaTable.forPath(self.spark, self.location(table)).alias("t")
         .merge(df.alias("s"), condition)
         .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())
        self.register(table)

    def rows_written(self, table: str, since_version: int | None = None) -> int:
        """Rows the table's latest commit wrote (from Delta's commit metrics, no scan); 0 when
        the table is still at ``since_version`` (the write committed nothing)."""
        if since_version is not None and self.version(table) == since_version:
            return 0
        last = DeltaTable.forPath(self.spark, self.location(table)).history(1).first()
        metrics = (last["operationMetrics"] or {}) if last else {}
        return int(metrics.get("numOutputRows", 0))

    def commit_tags(self, table: str, last: int = 50) -> set[str]:
        """The commit tags (userMetadata) of the table's last ``last`` commits."""
        if not self.exists(table):
            return set()
        history = DeltaTable.forPath(self.spark, self.location(table)).history(last)
        return {r[0] for r in history.select("userMetadata").collect() if r[0]}

    def delete(self, table: str, condition: str) -> None:
        """Delete rows matching a SQL condition (no-op when the table does not exist)."""
        if self.exists(table):
            DeltaTable.forPath(self.spark, self.location(table)).delete(condition)

    # -- catalog ----------------------------------------------------------------------------
    def register(self, table: str) -> None:
        """Point the catalog entry ``table`` at its storage location (external table); a gold
        table's SQL-endpoint view follows its columns (`expose`)."""
        if table not in self._registered:
            location = self.location(table)
            registered = self.spark.catalog.tableExists(table)
            if registered:
                rows = self.spark.sql(f"DESCRIBE TABLE EXTENDED {table}").where(
                    F.col("col_name") == "Location").collect()
                if not rows or _normalise_location(rows[0]["data_type"]) != _normalise_location(location):
                    self.spark.sql(f"DROP TABLE {table}")  # external: the data stays where it is
                    registered = False
            if not registered:
                self.spark.sql(f"CREATE TABLE {table} USING DELTA LOCATION '{location}'")
            self._registered.add(table)
        self.expose(table)

    def expose(self, table: str) -> bool:
        """Create or replace the view ``<sql_endpoint.database>.<name>`` of a gold table when its
        columns changed: JDBC clients list columns from the catalog, where Delta keeps none.
        Returns True when the view was (re)written."""
        database = self.config.sql_endpoint.database
        layer, _, name = table.partition(".")
        if layer != EXPOSED_LAYER or not database:
            return False
        columns = self.read(table).columns
        if self._exposed.get(table) == columns:
            return False
        view = f"{database}.{name}"
        if table not in self._exposed:  # first sight in this session: what does the catalog hold?
            if not self._exposed:
                self._create_database(database)
            if self.spark.catalog.tableExists(view) and \
                    [c.name for c in self.spark.catalog.listColumns(view)] == columns:
                self._exposed[table] = columns
                return False
        self.spark.sql(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {table}")
        self._exposed[table] = columns
        return True

    def _create_database(self, database: str) -> None:
        if not self.spark.catalog.databaseExists(database):
            self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")

    def tables_in_storage(self, layer: str) -> list[str]:
        """Names of the Delta tables under ``<root>/<layer>`` (folders with a ``_delta_log``),
        whether or not the catalog knows them."""
        jvm = self.spark.sparkContext._jvm
        assert jvm is not None
        folder = jvm.org.apache.hadoop.fs.Path(f"{self.config.lake.root.rstrip('/')}/{layer}")
        fs = folder.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration())
        if not fs.exists(folder):
            return []
        hadoop_path = jvm.org.apache.hadoop.fs.Path
        return sorted(str(entry.getPath().getName()) for entry in fs.listStatus(folder)
                      if entry.isDirectory() and fs.exists(hadoop_path(entry.getPath(), "_delta_log")))

    def expose_all(self) -> int:
        """Register every gold table found in storage (a fresh or lost catalog sees the lake's
        tables again), bring each one's view up to date and drop views whose table is gone;
        returns the number of views."""
        database = self.config.sql_endpoint.database
        if not database:
            return 0
        names = self.tables_in_storage(EXPOSED_LAYER)
        for name in names:
            self.register(f"{EXPOSED_LAYER}.{name}")
        self._create_database(database)
        for entry in self.spark.catalog.listTables(database):
            if entry.name not in names and entry.tableType == "VIEW":
                self.spark.sql(f"DROP VIEW IF EXISTS {database}.{entry.name}")
        return len(names)

    def tables(self) -> list[TableInfo]:
        """Every Delta table of every layer, with row count and version."""
        out: list[TableInfo] = []
        for layer in self.config.lake.layers:
            for entry in sorted(self.spark.catalog.listTables(layer), key=lambda t: t.name):
                name = f"{layer}.{entry.name}"
                if not self.exists(name):
                    continue
                version = self.version(name)
                rows = self.read(name).count()
                out.append(TableInfo(name, self.location(name), rows, version or 0))
        return out
