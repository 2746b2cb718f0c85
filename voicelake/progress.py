"""Progress of long work (training steps, rows scored or ingested): done, rate and ETA.

On a terminal one line is rewritten in place (at most every ``TTY_SECONDS``); anywhere else
(Airflow task logs, spark-submit output captured to a file) one line is written at most every
``VOICELAKE_PROGRESS_SECONDS`` seconds (default 30), plus a last line when the work ends, so
logs show the work moving without being flooded.

    with Progress("training", total=1200, unit="steps") as progress:
        for batch in batches:
            ...
            progress.advance()

``SparkProgress`` does the same for Spark jobs from the driver: a thread polls
``SparkContext.statusTracker()`` for the active stages' tasks done / total, which works the
same on a local session and on a cluster.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

TTY_SECONDS = 0.5
DEFAULT_LOG_SECONDS = 30.0


def log_interval() -> float:
    """Seconds between progress lines when not on a terminal (``VOICELAKE_PROGRESS_SECONDS``)."""
    raw = os.environ.get("VOICELAKE_PROGRESS_SECONDS", "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_LOG_SECONDS
    except ValueError:
        raise ValueError(f"VOICELAKE_PROGRESS_SECONDS must be a number of seconds, not {raw!r}") from None


def format_duration(seconds: float) -> str:
    """``1h02m``, ``4m05s`` or ``12s``."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def format_progress(label: str, done: int, total: int | None, unit: str, elapsed: float) -> str:
    """One progress line: done (of total, percent), rate per second and ETA when known."""
    rate = done / elapsed if elapsed > 0 else 0.0
    if total:
        text = f"{label}: {done:,}/{total:,} {unit} ({100 * done / total:.0f}%)"
    else:
        text = f"{label}: {done:,} {unit}"
    text += f", {rate:,.1f} {unit}/s, {format_duration(elapsed)} elapsed"
    if total and rate > 0 and done < total:
        text += f", ETA {format_duration((total - done) / rate)}"
    return text


class Progress:
    """Counts work done and reports it, throttled (see the module doc)."""

    def __init__(self, label: str, total: int | None = None, unit: str = "rows", stream: TextIO | None = None,
                 interval: float | None = None, clock: Callable[[], float] = time.monotonic,
                 tty: bool | None = None) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = tty if tty is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (TTY_SECONDS if self.tty else log_interval())
        self.clock = clock
        self.done = 0
        self.started = clock()
        self._last: float | None = None
        self._width = 0
        self._closed = False

    def update(self, done: int, total: int | None = None) -> None:
        """Set the work done (and the total, when it becomes known); report if it is time."""
        self.done = done
        if total is not None:
            self.total = total
        now = self.clock()
        if self._last is None or now - self._last >= self.interval:
            self._emit(now)

    def advance(self, n: int = 1) -> None:
        """Add ``n`` to the work done."""
        self.update(self.done + n)

    def line(self, now: float | None = None) -> str:
        """The current progress line."""
        return format_progress(self.label, self.done, self.total, self.unit,
                               (self.clock() if now is None else now) - self.started)

    def _emit(self, now: float) -> None:
        self._last = now
        text = self.line(now)
        if self.tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Report the final state once (ending the rewritten line on a terminal)."""
        if self._closed:
            return
        self._closed = True
        self._emit(self.clock())
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def stage_tasks(tracker: Any) -> tuple[int, int] | None:
    """(tasks done, tasks in total) over the active stages of a Spark ``StatusTracker``;
    None when no stage is running."""
    done = total = 0
    for stage_id in tracker.getActiveStageIds():
        info = tracker.getStageInfo(stage_id)
        if info is None:  # finished between the two calls
            continue
        done += info.numCompletedTasks
        total += info.numTasks
    return (done, total) if total else None


class SparkProgress:
    """A driver-side thread reporting the active Spark stages' tasks while a block runs."""

    def __init__(self, spark: Any, label: str, poll_seconds: float = 1.0, stream: TextIO | None = None,
                 interval: float | None = None) -> None:
        self.tracker = spark.sparkContext.statusTracker()
        self.progress = Progress(label, unit="tasks", stream=stream, interval=interval)
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"progress-{label}", daemon=True)
        self._seen = False

    def poll(self) -> None:
        """Read the tracker once and report."""
        state = stage_tasks(self.tracker)
        if state is not None:
            self._seen = True
            self.progress.update(*state)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll()
            except Exception:  # the session is stopping: progress is best effort, never fatal
                return

    def __enter__(self) -> SparkProgress:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        if self._seen:
            self.progress.close()
