"""A job submitted with spark-submit (through infra/spark/submit.sh), as on a cluster: the
subprocess is what is tested, so this one pays its own JVM start."""

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import write_jsonl

ROOT = Path(__file__).parents[1]


@pytest.mark.e2e
def test_ingest_job_runs_under_spark_submit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_jsonl(home / "landing" / "chat_messages", "d1.jsonl", [
        {"message_id": "m1", "chat_id": "c1", "author_role": "customer", "sent_at": "2026-01-05T10:00:00Z",
         "text": "hi"},
        "{not json",
    ])
    env = {**os.environ, "VOICELAKE_HOME": str(home), "VOICELAKE_ENV": "local"}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    done = subprocess.run([str(ROOT / "infra" / "spark" / "submit.sh"), "local[1]", "jobs/ingest.py",
                           "--source", "chat_messages"], env=env, capture_output=True, text=True,
                          timeout=3600)  # a hang guard only: a busy machine may take minutes
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("chat_messages"))
    assert line.split()[1:5] == ["1", "2", "1", "1"]  # files, landed, bronze, quarantine
    assert (home / "lake" / "bronze" / "chat_messages" / "_delta_log").is_dir()
