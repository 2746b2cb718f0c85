"""Jars that the wheels lack (Delta Lake, Derby's network server): resolved at install, used offline.

The delta-spark wheel holds Python only; Spark needs ``io.delta:delta-spark_2.13`` and
``io.delta:delta-storage`` at the version of the installed wheel. ``python -m
voicelake.jars`` (run by ``make``) resolves them from Maven Central with Spark's own Ivy
into ``<venv>/share/voicelake/jars/<delta-version>``; the Spark session factory then puts
those files on ``spark.jars``, so no Spark session ever needs the network. The same command
resolves Derby's network server and client (``derbynet``, ``derbyclient``) at the version of
the Derby engine in the pyspark wheel into ``<venv>/share/voicelake/derby/<derby-version>``:
the local metastore's network server (voicelake.metastore) needs them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path

SCALA_BINARY = "2.13"


def delta_version() -> str:
    """Version of the installed delta-spark wheel."""
    return version("delta-spark")


def delta_coordinates() -> list[str]:
    """Maven coordinates of the jars that match the installed delta-spark."""
    v = delta_version()
    return [f"io.delta:delta-spark_{SCALA_BINARY}:{v}", f"io.delta:delta-storage:{v}"]


def default_jars_dir() -> Path:
    """Where `make` caches the jars: inside the virtual environment, keyed by version."""
    return Path(sys.prefix) / "share" / "voicelake" / "jars" / delta_version()


def _cached_jars(directory: Path, required: Sequence[str], what: str) -> list[str]:
    """The jar paths in ``directory``; raises with the fix when one of ``required`` is missing."""
    jars = sorted(str(p) for p in directory.glob("*.jar"))
    names = " ".join(Path(j).name for j in jars)
    if not all(name in names for name in required):
        raise FileNotFoundError(
            f"{what} not found in {directory}. Run `make install` "
            "(or `python -m voicelake.jars`) once with network access to fetch them."
        )
    return jars


def find_delta_jars(jars_dir: str | Path | None = None) -> list[str]:
    """Local Delta jar paths; raises with the fix if they were never fetched."""
    return _cached_jars(Path(jars_dir) if jars_dir else default_jars_dir(), ("delta-spark", "delta-storage"),
                        "Delta Lake jars")


def derby_version() -> str:
    """Version of the Derby engine that ships in the pyspark wheel (``jars/derby-<v>.jar``)."""
    import pyspark

    for jar in (Path(pyspark.__file__).parent / "jars").glob("derby-*.jar"):
        return jar.stem.removeprefix("derby-")
    raise FileNotFoundError("the pyspark wheel holds no derby-<version>.jar")


def derby_coordinates() -> list[str]:
    """Derby's network server and client at the version of the engine pyspark ships."""
    v = derby_version()
    return [f"org.apache.derby:derbynet:{v}", f"org.apache.derby:derbyclient:{v}"]


def default_derby_dir() -> Path:
    """Where `make` caches Derby's network server and client jars."""
    return Path(sys.prefix) / "share" / "voicelake" / "derby" / derby_version()


def find_derby_jars(jars_dir: str | Path | None = None) -> list[str]:
    """Local paths of Derby's network server and client jars (the shared metastore, the SQL endpoint)."""
    return _cached_jars(Path(jars_dir) if jars_dir else default_derby_dir(), ("derbynet", "derbyclient"),
                        "Derby's network server jars")


def _resolve(coordinates: list[str], target: Path, keep: tuple[str, ...],
             find: Callable[[Path], list[str]]) -> list[str]:
    """Resolve Maven coordinates with Spark's Ivy (spark-submit --packages) into ``target``,
    keeping the jars whose file name starts with one of ``keep`` (the rest ships with pyspark)."""
    if target.exists():
        try:
            return find(target)
        except FileNotFoundError:
            pass
    with tempfile.TemporaryDirectory() as tmp:
        ivy = Path(tmp) / "ivy"
        script = Path(tmp) / "noop.py"
        script.write_text("print('jars resolved')\n")
        spark_submit = Path(sys.prefix) / "bin" / "spark-submit"
        cmd = [
            str(spark_submit if spark_submit.exists() else "spark-submit"),
            "--master", "local[1]",
            "--conf", f"spark.jars.ivy={ivy}",
            "--packages", ",".join(coordinates),
            str(script),
        ]
        from voicelake.spark import spark_environment

        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=spark_environment())
        target.mkdir(parents=True, exist_ok=True)
        for jar in (ivy / "jars").glob("*.jar"):
            if jar.name.startswith(keep):
                shutil.copy2(jar, target / jar.name)
    return find(target)


def fetch_delta_jars(target: Path | None = None) -> list[str]:
    """The Delta jars in ``target`` (default: the venv's cache), resolved first when missing."""
    return _resolve(delta_coordinates(), target or default_jars_dir(), ("io.delta_",), find_delta_jars)


def fetch_derby_jars(target: Path | None = None) -> list[str]:
    """Derby's network server and client jars, resolved first when missing."""
    return _resolve(derby_coordinates(), target or default_derby_dir(),
                    ("org.apache.derby_derbynet", "org.apache.derby_derbyclient"), find_derby_jars)


if __name__ == "__main__":
    for jar in fetch_delta_jars() + fetch_derby_jars():
        print(jar)
