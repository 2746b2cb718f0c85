"""Shared plumbing for job entry points: argument parsing, config, session, lake.

Every job module exposes ``main(argv=None) -> int`` and calls `job_parser` /
`open_lake` so that the same module runs from the ``voicelake`` CLI, from plain Python and
under spark-submit on a cluster.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import SparkSession

from voicelake.config import Config, load_config
from voicelake.errors import debug_requested, report_error
from voicelake.lake import Lake
from voicelake.spark import get_spark


@dataclass
class JobContext:
    config: Config
    spark: SparkSession
    lake: Lake


def job_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every job takes."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--env", default=None,
                        help="configuration overlay: a name (conf/<env>.yaml) or the path of your own "
                             "overlay file (default: $VOICELAKE_ENV or local)")
    parser.add_argument("--debug", action="store_true",
                        help="print the full traceback of an error (or set VOICELAKE_DEBUG=1)")
    return parser


def parse_date(value: str) -> date:
    """argparse type for YYYY-MM-DD."""
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def add_date_arguments(parser: argparse.ArgumentParser) -> None:
    """--date D (one day) or --since D [--until D] (a range); none = every date present."""
    parser.add_argument("--date", type=parse_date, help="process this day only (YYYY-MM-DD)")
    parser.add_argument("--since", type=parse_date, help="process days from this one on")
    parser.add_argument("--until", type=parse_date, help="last day with --since (inclusive)")


def covered_dates(day: date | None, since: date | None, until: date | None,
                  latest: Callable[[], date | None]) -> list[date] | None:
    """The days a run covers: ``[day]``, ``since..until`` (``until`` defaults to the latest
    day with data, asked only then), or None for every day present (a full rebuild)."""
    if day:
        return [day]
    if since:
        last = until or latest() or since
        return [since + timedelta(days=i) for i in range((last - since).days + 1)]
    return None


@contextmanager
def open_lake(env: str | None = None, config: Config | None = None,
              spark: SparkSession | None = None) -> Iterator[JobContext]:
    """Config + session + lake for one job run (reuses an active session when given)."""
    config = config or load_config(env)
    session = spark or get_spark(config)
    yield JobContext(config, session, Lake(session, config))


def run_job(body, argv: Sequence[str] | None) -> int:  # type: ignore[no-untyped-def]
    """Run a job body; any failure becomes one line on stderr and exit code 1 (the traceback
    too with ``--debug`` or ``VOICELAKE_DEBUG=1``)."""
    started = time.perf_counter()
    try:
        code = body(argv)
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none is swallowed
        return report_error(exc, debug_requested(argv))
    print(f"done in {time.perf_counter() - started:.1f}s")
    return int(code or 0)
