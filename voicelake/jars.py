"""Delta Lake jars for Spark: resolved once at install time, then used offline.

The delta-spark wheel holds Python only; Spark needs ``io.delta:delta-spark_2.13`` and
``io.delta:delta-storage`` at the version of the installed wheel. ``python -m
voicelake.jars`` (run by ``make``) resolves them from Maven Central with Spark's own Ivy
into ``<venv>/share/voicelake/jars/<delta-version>``; the Spark session factory then puts
those files on ``spark.jars``, so no Spark session ever needs the network.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
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


def find_delta_jars(jars_dir: str | Path | None = None) -> list[str]:
    """Local Delta jar paths; raises with the fix if they were never fetched."""
    directory = Path(jars_dir) if jars_dir else default_jars_dir()
    jars = sorted(str(p) for p in directory.glob("*.jar"))
    names = " ".join(Path(j).name for j in jars)
    if not jars or "delta-spark" not in names or "delta-storage" not in names:
        raise FileNotFoundError(
            f"Delta Lake jars not found in {directory}. Run `make install` "
            "(or `python -m voicelake.jars`) once with network access to fetch them."
        )
    return jars


def fetch_delta_jars(target: Path | None = None) -> list[str]:
    """Resolve the Delta jars with Spark's Ivy (spark-submit --packages) into ``target``."""
    target = target or default_jars_dir()
    if target.exists():
        try:
            return find_delta_jars(target)
        except FileNotFoundError:
            pass
    with tempfile.TemporaryDirectory() as tmp:
        ivy = Path(tmp) / "ivy"
        script = Path(tmp) / "noop.py"
        script.write_text("print('delta jars resolved')\n")
        spark_submit = Path(sys.prefix) / "bin" / "spark-submit"
        cmd = [
            str(spark_submit if spark_submit.exists() else "spark-submit"),
            "--master", "local[1]",
            "--conf", f"spark.jars.ivy={ivy}",
            "--packages", ",".join(delta_coordinates()),
            str(script),
        ]
        from voicelake.spark import spark_environment

        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=spark_environment())
        target.mkdir(parents=True, exist_ok=True)
        for jar in (ivy / "jars").glob("*.jar"):
            # Keep only Delta's own jars: everything else (antlr) already ships with pyspark.
            if jar.name.startswith("io.delta_"):
                shutil.copy2(jar, target / jar.name)
    return find_delta_jars(target)


if __name__ == "__main__":
    for jar in fetch_delta_jars():
        print(jar)
