"""The console script, run as a user would from new shells."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from voicelake.cli import format_rows, main

VOICELAKE = str(Path(sys.executable).parent / "voicelake")


def test_format_rows() -> None:
    rows = [("chat", 3, 0.5), ("email", None, 1.25)]
    assert format_rows(["channel", "n", "rate"], rows, "csv") == "channel,n,rate\nchat,3,0.5\nemail,,1.25"
    assert json.loads(format_rows(["channel", "n", "rate"], rows, "json").splitlines()[1]) == {
        "channel": "email", "n": None, "rate": 1.25}
    table = format_rows(["channel", "n", "rate"], rows, "table").splitlines()
    assert table[0].split() == ["channel", "n", "rate"] and table[3].split() == ["email", "NULL", "1.25"]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("generate", "ingest", "build-silver", "build-gold", "sql", "tables", "run"):
        assert command in out
    assert main(["no-such-command"]) == 2


@pytest.mark.parametrize("command", ["generate", "ingest", "build-silver", "build-gold", "sql", "tables", "run"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: voicelake" in capsys.readouterr().out


def seed_only_conf(tmp_path: Path) -> Path:
    """A copy of conf/ whose bootstrap model trains on the seed set only (as on a machine
    without ../shared), with fewer steps, so the test stays quick."""
    conf = tmp_path / "conf"
    shutil.copytree(Path(__file__).parents[1] / "conf", conf)
    base = yaml.safe_load((conf / "base.yaml").read_text())
    base["model"]["data"]["goemotions_dir"] = None
    base["model"]["max_length"] = 32
    (conf / "base.yaml").write_text(yaml.safe_dump(base))
    return conf


def test_run_then_query_from_a_new_shell(tmp_path: Path) -> None:
    env = {**os.environ, "VOICELAKE_HOME": str(tmp_path / "home"), "VOICELAKE_ENV": "local",
           "VOICELAKE_CONF_DIR": str(seed_only_conf(tmp_path))}

    def voicelake(*args: str) -> str:
        done = subprocess.run([VOICELAKE, *args], env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    out = voicelake("run", "--days", "3", "--customers", "40", "--seed", "5")
    assert "landed = bronze + quarantine: ok" in out
    assert "gold.service_daily" in out and "gold.emotion_daily" in out
    assert "no champion yet: training a bootstrap model" in out and "promoted" in out
    rows = [json.loads(line) for line in voicelake(
        "sql", "select * from gold.service_daily order by date, channel, product limit 5",
        "--format", "json").splitlines()]
    assert len(rows) == 5 and {"date", "channel", "product", "conversations", "nps"} <= set(rows[0])
    tables = voicelake("tables")
    for table in ("bronze.chat_messages", "bronze.quarantine", "silver.messages", "silver.conversations",
                  "silver.message_emotions", "gold.service_daily", "gold.emotion_daily"):
        assert table in tables
