"""The console script's dispatch, help and output formats (`voicelake run` end to end is in
tests/dags/test_dag_runs.py)."""

import json

import pytest

from voicelake.cli import format_rows, main


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
    for command in ("generate", "ingest", "validate", "build-silver", "build-gold", "report", "sql", "tables",
                    "run", "run-dag"):
        assert command in out
    assert main(["no-such-command"]) == 2


@pytest.mark.parametrize("command", ["generate", "ingest", "validate", "build-silver", "build-gold", "report",
                                     "sql", "tables", "run", "run-dag"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: voicelake" in capsys.readouterr().out
