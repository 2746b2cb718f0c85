"""The local catalog's metastore: embedded Derby, or the same database behind Derby's network server.

Embedded Derby lets one JVM open the metastore at a time: a daily run's Spark session and a
long-lived SQL endpoint could not share it. `start_network_server` serves the same database
(``<lake.metastore>/metastore_db``) from Derby's own network server on loopback; while it runs,
every Spark session `voicelake.spark.get_spark` builds connects through it (the client driver),
so any number of JVMs share one catalog. `stop_network_server` stops it; sessions then open the
database embedded again. On a cluster the catalog is a Hive metastore service (``thrift://``)
and none of this applies.

Derby's server and client jars (``derbynet``, ``derbyclient``) at the version of the Derby
that ships in the pyspark wheel are resolved from Maven Central at install time
(``python -m voicelake.jars``), like the Delta jars; nothing here touches the network.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import pyspark

from voicelake.jars import find_derby_jars

STATE_FILE = "network-server.json"
LOOPBACK = "127.0.0.1"
CLIENT_DRIVER = "org.apache.derby.jdbc.ClientDriver"


class MetastoreBusy(RuntimeError):
    """The embedded metastore is open in another JVM, so the network server cannot serve it."""


@dataclass(frozen=True)
class NetworkServer:
    """A running Derby network server: its process and where it listens."""

    pid: int
    host: str
    port: int
    log: str

    def jdbc_url(self, database: Path) -> str:
        return f"jdbc:derby://{self.host}:{self.port}/{database};create=true"


def metastore_database(metastore_dir: str | Path) -> Path:
    """The Derby database folder inside the configured metastore folder."""
    return Path(metastore_dir).resolve() / "metastore_db"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


S = TypeVar("S")


def read_process_state(path: Path, kind: type[S]) -> S | None:
    """The state file of a server process this module or voicelake.sql_endpoint started (a
    dataclass with ``pid``), if that process still runs; an unreadable or dead one is removed."""
    if not path.exists():
        return None
    try:
        state = kind(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError):
        path.unlink(missing_ok=True)
        return None
    if process_alive(state.pid):  # type: ignore[attr-defined]
        return state
    path.unlink(missing_ok=True)
    return None


def running_server(metastore_dir: str | Path) -> NetworkServer | None:
    """The network server serving this metastore, if one runs and listens."""
    server = read_process_state(Path(metastore_dir) / STATE_FILE, NetworkServer)
    return server if server is not None and port_open(server.host, server.port) else None


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise FileNotFoundError("no Java runtime: set JAVA_HOME or put java on PATH (Spark needs it too)")
    return found


def server_classpath() -> list[str]:
    """Derby's engine jars from the pyspark wheel plus the network server's jars."""
    bundled = sorted(str(p) for p in (Path(pyspark.__file__).parent / "jars").glob("derby*.jar"))
    return bundled + find_derby_jars()


def start_network_server(metastore_dir: str | Path, port: int, timeout_s: float = 60.0) -> NetworkServer:
    """Serve the metastore database on ``127.0.0.1:port`` (or return the server already serving it)."""
    running = running_server(metastore_dir)
    if running:
        return running
    folder = Path(metastore_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if port_open(LOOPBACK, port):
        raise RuntimeError(f"port {port} on {LOOPBACK} is taken by another program: choose another "
                           "sql_endpoint.metastore_port")
    _refuse_if_open_elsewhere(folder / "metastore_db")
    log = folder / "network-server.log"
    command = [_java(), "-cp", os.pathsep.join(server_classpath()), f"-Dderby.system.home={folder}",
               "org.apache.derby.drda.NetworkServerControl", "start", "-h", LOOPBACK, "-p", str(port),
               "-noSecurityManager"]
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    server = NetworkServer(process.pid, LOOPBACK, port, str(log))
    deadline = time.monotonic() + timeout_s
    while not port_open(LOOPBACK, port):
        if process.poll() is not None or time.monotonic() > deadline:
            terminate_process_group(process.pid)
            raise RuntimeError(f"Derby's network server did not start on {LOOPBACK}:{port}; see {log}")
        time.sleep(0.2)
    (folder / STATE_FILE).write_text(json.dumps(asdict(server)), encoding="utf-8")
    return server


def _refuse_if_open_elsewhere(database: Path) -> None:
    """A clear error when another JVM holds the database embedded (Derby keeps ``dbex.lck`` open
    and locked while it has the database booted), instead of a server that fails on first use."""
    lock = database / "dbex.lck"
    holders = _lock_holders(lock) if lock.exists() else []
    if holders:
        raise MetastoreBusy(
            f"the metastore {database} is open in another process (pid {', '.join(map(str, holders))}: a "
            "voicelake job or notebook with its own Spark session); let it finish, then start the endpoint")


def _lock_holders(lock: Path) -> list[int]:
    """Processes that hold Derby's lock file open (Linux /proc; empty elsewhere)."""
    holders = []
    target = str(lock.resolve())
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) == target for fd in fd_dir.iterdir()):
                holders.append(int(fd_dir.parent.name))
        except OSError:
            continue
    return holders


def terminate_process_group(pid: int, grace_s: float = 20.0) -> None:
    """SIGTERM the process group, then SIGKILL what is still there after ``grace_s``."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not process_alive(pid):
            return
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_network_server(metastore_dir: str | Path) -> bool:
    """Stop the metastore's network server; False when none ran."""
    server = running_server(metastore_dir)
    state = Path(metastore_dir) / STATE_FILE
    if server is None:
        state.unlink(missing_ok=True)
        return False
    terminate_process_group(server.pid)
    state.unlink(missing_ok=True)
    return True


def connection_settings(metastore_dir: str | Path) -> dict[str, str]:
    """The Hive settings (``spark.hadoop.*``) and driver class path a Spark session needs to open
    the local metastore: through the network server when one runs, embedded otherwise."""
    folder = Path(metastore_dir).resolve()
    database = folder / "metastore_db"
    settings = {
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        "spark.hadoop.hive.metastore.schema.verification": "false",
    }
    server = running_server(folder)
    if server is None:
        settings["spark.hadoop.javax.jdo.option.ConnectionURL"] = f"jdbc:derby:;databaseName={database};create=true"
        settings["spark.driver.extraJavaOptions"] = f"-Dderby.system.home={folder}"
        return settings
    settings["spark.hadoop.javax.jdo.option.ConnectionURL"] = server.jdbc_url(database)
    settings["spark.hadoop.javax.jdo.option.ConnectionDriverName"] = CLIENT_DRIVER
    settings["spark.driver.extraClassPath"] = os.pathsep.join(j for j in find_derby_jars() if "derbyclient" in j)
    return settings
