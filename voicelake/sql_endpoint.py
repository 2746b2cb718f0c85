"""The SQL endpoint: Spark's Thrift JDBC/ODBC server (HiveThriftServer2) over the lake's catalog.

`serve` starts the server class through spark-submit with the settings every voicelake
session takes (`voicelake.spark.session_conf`: Delta's extension and jars, the catalog), bound
to ``sql_endpoint.host`` (loopback by default), and waits until it accepts connections. On a
local lake it first starts Derby's network server over the metastore (voicelake.metastore), so
that the endpoint and the daily runs share one catalog. `stop` stops both.

JDBC clients list a table's columns from the catalog, where Delta keeps none (the schema lives
in the table's log): every gold table is therefore also a view ``<sql_endpoint.database>.<table>``
(``bi`` by default) whose catalog entry carries the columns. `voicelake.lake.Lake` keeps the
views in step with the tables it writes. A query reads one Delta snapshot of each table, so a
query that runs while a daily run publishes sees the old or the new version, never a mix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from voicelake.config import Config, ConfigError
from voicelake.metastore import (
    port_open,
    read_process_state,
    start_network_server,
    stop_network_server,
    terminate_process_group,
)
from voicelake.spark import session_conf, spark_environment

SERVER_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Endpoint:
    """A running SQL endpoint: its process, address and log."""

    pid: int
    host: str
    port: int
    database: str
    log: str

    @property
    def jdbc_url(self) -> str:
        host = "localhost" if self.host in LOOPBACK_HOSTS else self.host
        return f"jdbc:hive2://{host}:{self.port}/{self.database}"


def state_dir(config: Config) -> Path:
    return Path(config.home) / "sql-endpoint"


def _state_file(config: Config) -> Path:
    return state_dir(config) / "endpoint.json"


def running_endpoint(config: Config) -> Endpoint | None:
    """The endpoint this home started, if it still runs."""
    return read_process_state(_state_file(config), Endpoint)


def check_binding(host: str, authentication: str, allow_unauthenticated: bool) -> None:
    """Refuse an address other machines can reach without authentication, unless told so."""
    if host in LOOPBACK_HOSTS or authentication not in ("NONE", "NOSASL") or allow_unauthenticated:
        return
    raise ConfigError(
        f"refusing to serve SQL on {host} without authentication: anyone who reaches it could read every "
        "gold table. Set sql_endpoint.authentication (LDAP or KERBEROS, with TLS: README 'Connect your "
        "BI tool'), or pass --allow-unauthenticated if the network is closed to everyone else.")


def server_command(config: Config, host: str, port: int) -> list[str]:
    """spark-submit of the Thrift server class with every voicelake session setting."""
    endpoint = config.sql_endpoint
    command = [str(Path(sys.executable).parent / "spark-submit"), "--class", SERVER_CLASS,
               "--name", "voicelake SQL endpoint"]
    conf = session_conf(config)
    conf.pop("spark.app.name", None)
    # the server's sessions load the catalog plugin (DeltaCatalog) from the JVM's own class path,
    # not from the jars spark.jars adds at run time
    class_path = [*conf["spark.jars"].split(","), *filter(None, [conf.get("spark.driver.extraClassPath")])]
    conf["spark.driver.extraClassPath"] = os.pathsep.join(class_path)
    conf.setdefault("spark.log.level", "WARN")  # at INFO the server's log grows by megabytes a minute
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    hiveconf = {
        "hive.server2.thrift.bind.host": host,
        "hive.server2.thrift.port": str(port),
        "hive.server2.authentication": endpoint.authentication,
        **endpoint.hiveconf,
    }
    for key, value in hiveconf.items():
        command += ["--hiveconf", f"{key}={value}"]
    return command


def serve(config: Config, host: str | None = None, port: int | None = None,
          allow_unauthenticated: bool = False) -> Endpoint:
    """Start the SQL endpoint (or return the one already running) and wait until it accepts
    connections; the gold views are refreshed first."""
    endpoint_config = config.sql_endpoint
    host = host or endpoint_config.host
    port = port or endpoint_config.port
    check_binding(host, endpoint_config.authentication, allow_unauthenticated)
    running = running_endpoint(config)
    if running:
        return running
    probe = "127.0.0.1" if host in LOOPBACK_HOSTS or host == "0.0.0.0" else host
    if port_open(probe, port):
        raise RuntimeError(f"port {port} is taken by another program: pass --port or set sql_endpoint.port")
    local_metastore = not config.lake.metastore.startswith("thrift://")
    if local_metastore:
        start_network_server(config.lake.metastore, endpoint_config.metastore_port)
    try:
        refresh_gold_views(config)
        folder = state_dir(config)
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "server.log"
        with log.open("ab") as out:
            process = subprocess.Popen(server_command(config, host, port), stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=spark_environment(), start_new_session=True,
                                       cwd=folder)
        endpoint = Endpoint(process.pid, host, port, endpoint_config.database, str(log))
        deadline = time.monotonic() + endpoint_config.start_timeout_s
        while not port_open(probe, port, timeout=1.0):
            if process.poll() is not None or time.monotonic() > deadline:
                terminate_process_group(process.pid)
                raise RuntimeError(f"the SQL endpoint did not start on {host}:{port}; see {log}")
            time.sleep(1.0)
    except BaseException:
        if local_metastore:
            stop_network_server(config.lake.metastore)
        raise
    _state_file(config).write_text(json.dumps(asdict(endpoint)), encoding="utf-8")
    return endpoint


def refresh_gold_views(config: Config) -> int:
    """Create or replace the view of every gold table (one short Spark session); returns how many."""
    from voicelake.runtime import open_lake

    with open_lake(config=config) as ctx:
        try:
            return ctx.lake.expose_all()
        finally:
            ctx.spark.stop()


def stop(config: Config) -> bool:
    """Stop the endpoint and the metastore's network server; False when no endpoint ran."""
    endpoint = running_endpoint(config)
    if endpoint is not None:
        terminate_process_group(endpoint.pid, grace_s=30.0)
    _state_file(config).unlink(missing_ok=True)
    if not config.lake.metastore.startswith("thrift://"):
        stop_network_server(config.lake.metastore)
    return endpoint is not None
