"""Frictions a new user met: own overlay outside conf/, a missing pseudonym key, job errors as
tracebacks, `voicelake sql --format csv` cut at 1,000 rows."""

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from voicelake.cli import cmd_sql
from voicelake.config import ConfigError, load_config
from voicelake.errors import ReportedError
from voicelake.jobs import build_silver
from voicelake.runtime import run_job


def test_overlay_file_outside_conf_inherits_the_local_overlay(tmp_path: Path) -> None:
    overlay = tmp_path / "mine" / "mydata.yaml"
    overlay.parent.mkdir()
    overlay.write_text('lake: {landing: "{overlay}/exports"}\nsources: {mapping_file: "{overlay}/sources.yaml"}\n')
    config = load_config(str(overlay), overrides={"home": str(tmp_path / "home")})
    assert config.lake.landing == str(overlay.parent / "exports")
    assert config.sources_mapping_file == str(overlay.parent / "sources.yaml")
    assert config.pii.dev_key_file == str(tmp_path / "home" / "secrets" / "pseudonym.key")  # from local.yaml
    with pytest.raises(ConfigError, match="overlay file not found: .*nope.yaml"):
        load_config(str(tmp_path / "nope.yaml"))


class SparkStarted(Exception):
    pass


def test_missing_pseudonym_key_fails_before_spark_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    overlay = tmp_path / "prod.yaml"
    overlay.write_text("extends: cluster\n")
    monkeypatch.delenv("VOICELAKE_PSEUDONYM_KEY", raising=False)

    def no_spark(*_: object, **__: object) -> None:
        raise SparkStarted("Spark was started")

    monkeypatch.setattr("voicelake.runtime.get_spark", no_spark)
    assert build_silver.main(["--env", str(overlay)]) == 1
    err = capsys.readouterr().err.strip()
    assert "VOICELAKE_PSEUDONYM_KEY" in err and "Spark was started" not in err
    assert len(err.splitlines()) == 1


def test_job_errors_are_one_line_unless_debugging(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    def broken(_: object) -> int:
        raise TypeError("column `created_at` not found\n  at some.java.Frame(...)")

    monkeypatch.delenv("VOICELAKE_DEBUG", raising=False)
    assert run_job(broken, []) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: TypeError: column `created_at` not found (traceback: rerun with --debug")
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert run_job(broken, ["--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("VOICELAKE_DEBUG", "1")
    assert run_job(broken, []) == 1
    assert "Traceback" in capsys.readouterr().err


def test_a_report_error_prints_its_whole_report(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    def failed_checks(_: object) -> int:
        raise ReportedError("validation failed (gold_x):\nFAIL  gold_x\n  expect_y: observed 3")

    monkeypatch.delenv("VOICELAKE_DEBUG", raising=False)
    assert run_job(failed_checks, []) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: validation failed (gold_x): (traceback: rerun with --debug or VOICELAKE_DEBUG=1)",
        "FAIL  gold_x", "  expect_y: observed 3"]


def test_sql_csv_prints_every_row_and_says_when_limited(spark: SparkSession, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VOICELAKE_HOME", str(tmp_path / "home"))
    assert cmd_sql(["select id from range(1500)", "--format", "csv"]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines() == ["id", *[str(i) for i in range(1500)]] and out.err == ""
    assert cmd_sql(["select id from range(1500)", "--format", "csv", "--max-rows", "10"]) == 0
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 11 and "output limited by --max-rows 10" in out.err
