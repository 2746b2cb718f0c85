"""Run leases: at most one live holder per named job on a lake (e.g. ``ingest``).

A lease is a small JSON file ``<lake.root>/_leases/<name>.json`` created with the Hadoop
FileSystem's create-if-absent, so it works on a local lake, HDFS and object stores alike.
It names its holder (run id, host, pid) and expires ``ttl`` after its last renewal. A second
run refuses to start while the lease is live; the lease of a killed run is taken over once
it has expired, or at once when its holder was a process on this host that no longer runs.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import SparkSession

DEFAULT_TTL = timedelta(minutes=30)


class LeaseHeld(RuntimeError):
    """Another live run holds the lease."""


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    host: str
    pid: int
    expires_at: str  # ISO-8601, UTC

    def stale(self, now: datetime) -> bool:
        """Expired, or held by a process of this host that no longer runs."""
        if datetime.fromisoformat(self.expires_at) <= now:
            return True
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def _now() -> datetime:
    return datetime.now(UTC)


class Leases:
    """Leases stored under ``<root>/_leases`` (the lake root from the config)."""

    def __init__(self, spark: SparkSession, root: str) -> None:
        self.spark = spark
        self.root = root.rstrip("/")
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        self._jvm = jvm

    def _path(self, name: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(f"{self.root}/_leases/{name}.json")

    def _fs(self, path: Any) -> Any:
        return path.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration())

    def read(self, name: str) -> Lease | None:
        """The current lease of ``name`` (None when free)."""
        path = self._path(name)
        fs = self._fs(path)
        if not fs.exists(path):
            return None
        stream = fs.open(path)
        try:
            data = bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()
        try:
            return Lease(**json.loads(data))
        except (ValueError, TypeError):  # a half-written lease file: its writer died
            return Lease(name, "unreadable", "", 0, _now().isoformat())

    def _write(self, lease: Lease, overwrite: bool) -> bool:
        path = self._path(lease.name)
        try:
            stream = self._fs(path).create(path, overwrite)
        except Exception as exc:  # noqa: BLE001 - FileAlreadyExistsException arrives as a Py4J error
            if "FileAlreadyExists" in str(exc) or "already exists" in str(exc):
                return False
            raise
        try:
            stream.write(json.dumps(asdict(lease)).encode())
        finally:
            stream.close()
        return True

    def acquire(self, name: str, holder: str, ttl: timedelta = DEFAULT_TTL) -> Lease:
        """Take the lease for ``holder`` or raise `LeaseHeld` naming the live holder."""
        mine = Lease(name, holder, socket.gethostname(), os.getpid(), (_now() + ttl).isoformat())
        for _ in range(3):
            if self._write(mine, overwrite=False):
                current = self.read(name)
                if current is not None and current.holder == holder:
                    return mine
            current = self.read(name)
            if current is None:
                continue
            if not current.stale(_now()):
                raise LeaseHeld(
                    f"another {name} run ({current.holder} on {current.host}, pid {current.pid}) holds "
                    f"{self.root}/_leases/{name}.json until {current.expires_at}; retry when it has "
                    f"finished (a killed run's lease is taken over when it expires)")
            path = self._path(name)
            self._fs(path).delete(path, False)  # a stale lease: its run died
        raise LeaseHeld(f"could not take the {name} lease at {self.root}/_leases: other runs keep taking it")

    def renew(self, lease: Lease, ttl: timedelta = DEFAULT_TTL) -> Lease:
        """Extend a held lease; raises `LeaseHeld` when another run took it over meanwhile."""
        current = self.read(lease.name)
        if current is None or current.holder != lease.holder:
            taken = "nobody" if current is None else current.holder
            raise LeaseHeld(f"{lease.name} run {lease.holder} lost its lease (now held by {taken}); "
                            "its unlogged writes will be rolled back by the next run")
        renewed = Lease(lease.name, lease.holder, lease.host, lease.pid, (_now() + ttl).isoformat())
        self._write(renewed, overwrite=True)
        return renewed

    def release(self, lease: Lease) -> None:
        """Give the lease back (only if it is still ours)."""
        current = self.read(lease.name)
        if current is not None and current.holder == lease.holder:
            path = self._path(lease.name)
            self._fs(path).delete(path, False)
