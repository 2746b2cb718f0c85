"""The SQL endpoint's settings and the shared metastore's connection, without starting a JVM
(the endpoint itself, with beeline and impyla, and the dashboard in a browser: tests/test_bi_e2e.py)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from voicelake.config import Config, ConfigError, load_config
from voicelake.dashboard import GoldReader
from voicelake.metastore import (
    CLIENT_DRIVER,
    STATE_FILE,
    MetastoreBusy,
    connection_settings,
    running_server,
    start_network_server,
)
from voicelake.sql_endpoint import SERVER_CLASS, Endpoint, check_binding, server_command


@pytest.mark.parametrize("host, authentication, allowed", [
    ("127.0.0.1", "NONE", False), ("localhost", "NONE", False), ("0.0.0.0", "LDAP", False),
    ("10.1.2.3", "KERBEROS", False), ("0.0.0.0", "NONE", True)])
def test_loopback_or_authenticated_or_explicitly_allowed_addresses_are_served(
        host: str, authentication: str, allowed: bool) -> None:
    check_binding(host, authentication, allowed)


@pytest.mark.parametrize("host, authentication", [("0.0.0.0", "NONE"), ("10.1.2.3", "NOSASL")])
def test_an_open_address_without_authentication_is_refused(host: str, authentication: str) -> None:
    with pytest.raises(ConfigError, match="without authentication.*--allow-unauthenticated"):
        check_binding(host, authentication, False)


def test_the_server_is_spark_submitted_with_every_session_setting(config: Config) -> None:
    config = load_config(config.env, overrides={
        "home": config.home, "sql_endpoint": {"hiveconf": {"hive.server2.use.SSL": True}}})
    command = server_command(config, "127.0.0.1", 10123)
    assert command[0].endswith("spark-submit") and command[1:3] == ["--class", SERVER_CLASS]
    confs = dict(command[i + 1].split("=", 1) for i, a in enumerate(command) if a == "--conf")
    hive = dict(command[i + 1].split("=", 1) for i, a in enumerate(command) if a == "--hiveconf")
    assert confs["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert "delta-spark" in confs["spark.jars"] and confs["spark.sql.catalogImplementation"] == "hive"
    assert confs["spark.sql.session.timeZone"] == "UTC"  # the config's own spark.conf too
    assert hive == {"hive.server2.thrift.bind.host": "127.0.0.1", "hive.server2.thrift.port": "10123",
                    "hive.server2.authentication": "NONE", "hive.server2.use.SSL": "True"}


@pytest.mark.parametrize("section, message", [
    ({"authentication": "password"}, "sql_endpoint.authentication must be one of"),
    ({"database": "bi; drop"}, "sql_endpoint.database must be a plain name"),
    ({"prot": 1}, r"sql_endpoint: unknown keys \['prot'\]")])
def test_a_wrong_endpoint_setting_is_a_clear_error(config: Config, section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(config.env, overrides={"home": config.home, "sql_endpoint": section})


def test_the_jdbc_url_names_the_views_database() -> None:
    assert Endpoint(1, "127.0.0.1", 10000, "bi", "log").jdbc_url == "jdbc:hive2://localhost:10000/bi"
    assert Endpoint(1, "sql.example.com", 443, "bi", "log").jdbc_url == "jdbc:hive2://sql.example.com:443/bi"


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_sessions_open_the_metastore_embedded_or_through_its_running_network_server(
        tmp_path: Path, listening: int) -> None:
    embedded = connection_settings(tmp_path)
    assert embedded["spark.hadoop.javax.jdo.option.ConnectionURL"] == \
        f"jdbc:derby:;databaseName={tmp_path.resolve() / 'metastore_db'};create=true"
    assert "spark.driver.extraClassPath" not in embedded

    state = {"pid": os.getpid(), "host": "127.0.0.1", "port": listening, "log": "x"}
    (tmp_path / STATE_FILE).write_text(json.dumps(state))
    served = connection_settings(tmp_path)
    assert served["spark.hadoop.javax.jdo.option.ConnectionURL"] == \
        f"jdbc:derby://127.0.0.1:{listening}/{tmp_path.resolve() / 'metastore_db'};create=true"
    assert served["spark.hadoop.javax.jdo.option.ConnectionDriverName"] == CLIENT_DRIVER
    assert "derbyclient" in served["spark.driver.extraClassPath"]

    (tmp_path / STATE_FILE).write_text(json.dumps({**state, "pid": 2 ** 22 + 7}))  # a server that died
    assert running_server(tmp_path) is None and not (tmp_path / STATE_FILE).exists()
    assert "ConnectionDriverName" not in " ".join(connection_settings(tmp_path))


def test_the_network_server_refuses_a_metastore_another_process_holds_open(tmp_path: Path) -> None:
    """Derby keeps dbex.lck open while a JVM has the database booted embedded: the server is not
    started over it, and the error names the holder."""
    lock = tmp_path / "metastore_db" / "dbex.lck"
    lock.parent.mkdir()
    with lock.open("w"):  # this test process plays the embedded holder
        with pytest.raises(MetastoreBusy, match=f"pid {os.getpid()}"):
            start_network_server(tmp_path, 1)
    assert not (tmp_path / STATE_FILE).exists()


def test_the_dashboard_reader_runs_nothing_but_reads() -> None:
    reader = GoldReader("127.0.0.1", 1, "bi")  # no endpoint: a refused statement never connects
    for statement in ("DROP VIEW bi.service_daily", "INSERT INTO bi.x VALUES (1)", "  create table t (a int)"):
        with pytest.raises(ValueError, match="only reads"):
            reader.query(statement)
