"""The one place a SparkSession is built.

`get_spark(config)` returns a session with Delta Lake (extension + catalog), the Delta jars
cached at install time on ``spark.jars`` (no network), a persistent catalog (embedded Derby
metastore locally, a Hive metastore URI on a cluster) and the databases bronze, silver and
gold. Under spark-submit the master and resources given on the command line win; the
config's master only applies when none was given.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from voicelake.config import Config
from voicelake.jars import find_delta_jars


def spark_environment() -> dict[str, str]:
    """Environment for Spark processes: this interpreter for workers, pyspark's SPARK_HOME."""
    import pyspark

    env = dict(os.environ)
    env.setdefault("SPARK_HOME", str(Path(pyspark.__file__).parent))
    env["PYSPARK_PYTHON"] = env.get("PYSPARK_PYTHON", sys.executable)
    env["PYSPARK_DRIVER_PYTHON"] = env.get("PYSPARK_DRIVER_PYTHON", sys.executable)
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return env


def get_spark(config: Config) -> SparkSession:
    """Build (or return the active) SparkSession configured from ``config``."""
    environment = spark_environment()
    for key in ("SPARK_HOME", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"):
        os.environ.setdefault(key, environment[key])

    submitted = _submitted_conf()
    builder = SparkSession.builder.appName(config.spark.app_name)
    if config.spark.master and "spark.master" not in submitted:
        builder = builder.master(config.spark.master)

    builder = (
        builder.config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.warehouse.dir", config.lake.warehouse)
        .config("spark.sql.catalogImplementation", "hive")
    )
    if "spark.jars" not in submitted:
        builder = builder.config("spark.jars", ",".join(find_delta_jars(config.spark.jars_dir)))

    metastore = config.lake.metastore
    if metastore.startswith("thrift://"):
        builder = builder.config("spark.hadoop.hive.metastore.uris", metastore)
    else:
        Path(metastore).mkdir(parents=True, exist_ok=True)
        db = Path(metastore) / "metastore_db"
        builder = (
            builder.config(
                "spark.hadoop.javax.jdo.option.ConnectionURL",
                f"jdbc:derby:;databaseName={db};create=true",
            )
            .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={metastore}")
            .config("spark.hadoop.datanucleus.schema.autoCreateAll", "true")
            .config("spark.hadoop.hive.metastore.schema.verification", "false")
        )
    for key, value in config.spark.conf.items():
        if key not in submitted:
            builder = builder.config(key, value)

    spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    for layer in config.lake.layers:
        location = f"{config.lake.root.rstrip('/')}/{layer}"
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {layer} LOCATION '{location}'")
    return spark


def _submitted_conf() -> dict[str, str]:
    """Settings spark-submit handed this driver; empty when run as plain Python."""
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        return {}
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()
    return dict(SparkConf().getAll())
