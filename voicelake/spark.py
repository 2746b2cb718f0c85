"""The one place a SparkSession is built.

`get_spark(config)` returns a session with Delta Lake (extension + catalog), the Delta jars
cached at install time on ``spark.jars`` (no network), a persistent catalog (Derby locally:
embedded, or through its network server while one serves the metastore, see
voicelake.metastore; a Hive metastore URI on a cluster) and the databases bronze, silver and
gold. Under spark-submit the master and resources given on the command line win; the
config's master only applies when none was given.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import SparkSession

from voicelake.config import Config
from voicelake.jars import find_delta_jars
from voicelake.metastore import connection_settings


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


def session_conf(config: Config, submitted: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every Spark setting a voicelake session takes from ``config`` (Delta, catalog, metastore,
    the config's own ``spark.conf``), less those spark-submit already set (``submitted``).
    `get_spark` builds its session from it; the SQL endpoint passes it to spark-submit."""
    submitted = submitted or {}
    conf = {
        "spark.app.name": config.spark.app_name,
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.warehouse.dir": config.lake.warehouse,
        "spark.sql.catalogImplementation": "hive",
        "spark.jars": ",".join(find_delta_jars(config.spark.jars_dir)),
    }
    if config.spark.master:
        conf["spark.master"] = config.spark.master
    metastore = config.lake.metastore
    if metastore.startswith("thrift://"):
        conf["spark.hadoop.hive.metastore.uris"] = metastore
    else:  # local: embedded Derby, or its network server when one serves the metastore
        conf.update(connection_settings(metastore))
    conf.update(config.spark.conf)
    return {k: v for k, v in conf.items() if k not in submitted}


def get_spark(config: Config) -> SparkSession:
    """Build (or return the active) SparkSession configured from ``config``."""
    environment = spark_environment()
    for key in ("SPARK_HOME", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"):
        os.environ.setdefault(key, environment[key])

    builder = SparkSession.builder
    for key, value in session_conf(config, _submitted_conf()).items():
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
