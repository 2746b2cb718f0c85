"""`pip install .` gives a working voicelake, and the shared core stays below jobs, models and the CLI.

The wheel is built from this checkout and installed (without its dependencies) into a fresh
virtual environment; the dependencies are this environment's locked packages, put on the new
environment's path after its own site-packages, so nothing is fetched at test time. (Resolving
them again offline from uv's cache depends on the registry's cache headers: uv re-checks some
cached wheels with a HEAD request and refuses offline.) That the wheel's declared requirements
are what the lock pins is checked separately. The Delta jars, which `python -m voicelake.jars`
would resolve from Maven Central into a new environment, are copied from this environment's cache.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from voicelake.jars import default_jars_dir

ROOT = Path(__file__).parents[1]
CORE_MODULES = ("config", "spark", "lake", "schemas", "secrets", "sources", "landing", "runtime", "jars",
                "quality", "orchestration")
UPPER_LAYERS = ("voicelake.jobs", "voicelake.models", "voicelake.cli")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", CORE_MODULES)
def test_the_shared_core_imports_nothing_from_jobs_models_or_the_cli(module: str) -> None:
    imported = _imports(ROOT / "voicelake" / f"{module}.py")
    upward = sorted(name for name in imported for layer in UPPER_LAYERS
                    if name == layer or name.startswith(layer + "."))
    assert not upward, f"voicelake/{module}.py imports {upward}"


def _locked_versions(lock: Path) -> dict[str, str]:
    pins = (line.split("==") for line in lock.read_text().splitlines() if "==" in line and not line.startswith(" "))
    return {name.strip().lower().replace("_", "-"): version.strip() for name, version in pins}


@pytest.mark.e2e
def test_the_wheel_installs_in_a_fresh_venv_and_runs_a_job(tmp_path: Path) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        pytest.skip("uv is not installed in this environment (make install puts it there)")
    dist, venv = tmp_path / "dist", tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(ROOT)], check=True, cwd=tmp_path)
    wheel = next(dist.glob("voicelake-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert {name.split("/")[0] for name in names} == {"voicelake", "voicelake-0.1.0.dist-info"}
    for shipped in ("voicelake/jobs/ingest.py", "voicelake/models/registry.py", "voicelake/conf/base.yaml",
                    "voicelake/conf/expectations/silver_messages.yaml", "voicelake/models/seed/support_seed.csv"):
        assert shipped in names
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "-q", "--offline", "--no-deps", "--python", str(python), str(wheel)],
                   check=True)
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    locked_site_packages = Path(sysconfig.get_paths()["purelib"])
    # a plain path line: the locked packages, not this environment's editable voicelake (its .pth is not run)
    (site_packages / "locked_dependencies.pth").write_text(f"{locked_site_packages}\n")
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("voicelake-0.1.0.dist-info/METADATA").decode()
    locked = _locked_versions(ROOT / "requirements.lock")
    for line in metadata.splitlines():
        if line.startswith("Requires-Dist:") and "extra ==" not in line:
            requirement = Requirement(line.removeprefix("Requires-Dist:").strip())
            name = requirement.name.lower().replace("_", "-")
            assert name in locked, f"{requirement} is not in requirements.lock"
            assert requirement.specifier.contains(locked[name], prereleases=True), \
                f"the wheel requires {requirement}, the lock pins {locked[name]}"
    jars = venv / "share" / "voicelake" / "jars" / default_jars_dir().name
    shutil.copytree(default_jars_dir(), jars)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOICELAKE_", "PYSPARK_"))}
    env.pop("PYTHONPATH", None)
    home = tmp_path / "home"
    env.update(VOICELAKE_HOME=str(home), PYSPARK_PYTHON=str(python), PYSPARK_DRIVER_PYTHON=str(python))
    voicelake = str(venv / "bin" / "voicelake")
    # run from a folder that is not the checkout, so only the installed package can be found
    where = subprocess.run([str(python), "-c", "import voicelake.config as c, voicelake.jobs as j; "
                            "print(c.DEFAULT_CONF_DIR); print(j.__file__)"],
                           check=True, capture_output=True, text=True, env=env, cwd=tmp_path)
    conf_dir, jobs_file = where.stdout.split()
    assert Path(conf_dir).is_relative_to(venv) and (Path(conf_dir) / "base.yaml").is_file()
    assert Path(jobs_file).is_relative_to(venv)

    helped = subprocess.run([voicelake, "--help"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert helped.returncode == 0 and "ingest" in helped.stdout
    subprocess.run([voicelake, "generate", "--days", "1", "--customers", "10"], check=True, env=env,
                   cwd=tmp_path, capture_output=True)
    ingested = subprocess.run([voicelake, "ingest"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert ingested.returncode == 0, ingested.stderr[-3000:]
    assert "landed" in ingested.stdout
    assert (home / "lake" / "bronze").is_dir() or any(home.rglob("_delta_log"))
