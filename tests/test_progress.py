"""Progress lines: formatting, throttling on a terminal and in logs (fake clock), the Spark
stage poller (fake tracker), and that training reports its steps."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from voicelake.progress import Progress, format_duration, format_progress, log_interval, stage_tasks


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_gives_done_total_rate_and_eta() -> None:
    assert format_progress("scoring", 250, 1000, "rows", 10.0) == \
        "scoring: 250/1,000 rows (25%), 25.0 rows/s, 10s elapsed, ETA 30s"
    assert format_progress("ingest", 1200, None, "tasks", 60.0) == "ingest: 1,200 tasks, 20.0 tasks/s, 1m00s elapsed"
    assert format_progress("training", 0, 10, "steps", 0.0) == "training: 0/10 steps (0%), 0.0 steps/s, 0s elapsed"
    assert format_duration(3725) == "1h02m"


def test_logs_are_throttled_to_one_line_per_interval() -> None:
    clock, out = FakeClock(), io.StringIO()
    progress = Progress("training", total=100, unit="steps", stream=out, interval=30, clock=clock, tty=False)
    for _ in range(100):  # one step per second: 100 s of work
        clock.now += 1
        progress.advance()
    progress.close()
    lines = out.getvalue().splitlines()
    # the first update, then one line per 30 s (at 31, 61, 91 s), then the last line
    assert len(lines) == 5, lines
    assert lines[0] == "training: 1/100 steps (1%), 1.0 steps/s, 1s elapsed, ETA 1m39s"
    assert lines[-1] == "training: 100/100 steps (100%), 1.0 steps/s, 1m40s elapsed"
    assert "\r" not in out.getvalue()


def test_a_terminal_gets_one_rewritten_line() -> None:
    clock, out = FakeClock(), io.StringIO()
    with Progress("scoring", total=4, stream=out, interval=0.5, clock=clock, tty=True) as progress:
        for _ in range(4):
            clock.now += 0.25
            progress.advance()
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # the line ends once, at the end
    frames = text.rstrip("\n").split("\r")[1:]
    assert [f.split(",")[0] for f in frames] == ["scoring: 1/4 rows (25%)", "scoring: 3/4 rows (75%)",
                                                 "scoring: 4/4 rows (100%)"]


def test_the_log_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOICELAKE_PROGRESS_SECONDS", raising=False)
    assert log_interval() == 30.0
    monkeypatch.setenv("VOICELAKE_PROGRESS_SECONDS", "5")
    assert log_interval() == 5.0
    monkeypatch.setenv("VOICELAKE_PROGRESS_SECONDS", "soon")
    with pytest.raises(ValueError, match="VOICELAKE_PROGRESS_SECONDS"):
        log_interval()


@dataclass
class StageInfo:
    numTasks: int  # noqa: N815  (Spark's names)
    numCompletedTasks: int  # noqa: N815


class FakeTracker:
    def __init__(self, stages: dict[int, StageInfo | None]) -> None:
        self.stages = stages

    def getActiveStageIds(self) -> list[int]:  # noqa: N802
        return list(self.stages)

    def getStageInfo(self, stage_id: int) -> StageInfo | None:  # noqa: N802
        return self.stages[stage_id]


def test_spark_progress_sums_the_active_stages_tasks() -> None:
    assert stage_tasks(FakeTracker({})) is None
    assert stage_tasks(FakeTracker({3: StageInfo(200, 50), 4: StageInfo(8, 8), 5: None})) == (58, 208)
