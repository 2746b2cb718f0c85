"""How a failed command reports itself: one clear line, the traceback only on request.

Standard library only, so the CLI can use it before pyspark is imported.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

DEBUG_FLAG = "--debug"
DEBUG_ENV = "VOICELAKE_DEBUG"
# errors voicelake raises on purpose: their message is the whole story
EXPECTED = (ValueError, LookupError, RuntimeError, OSError)


class ReportedError(RuntimeError):
    """A failure whose message is a report of several lines (which checks failed and what was
    observed): the CLI prints all of it, not only its first line."""


def debug_requested(argv: Sequence[str] | None = None) -> bool:
    """True with ``--debug`` among the arguments or ``VOICELAKE_DEBUG=1`` in the environment."""
    args = sys.argv[1:] if argv is None else argv
    return DEBUG_FLAG in args or os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes")


def one_line(exc: BaseException) -> str:
    """The error as one line: its message's first line, prefixed by its type unless expected."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if isinstance(exc, EXPECTED) and first:
        return first
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def report_error(exc: BaseException, debug: bool) -> int:
    """Print the error (one line; the traceback too when debugging) and return exit code 1."""
    if debug:
        traceback.print_exception(exc)
    hint = "" if debug else f" (traceback: rerun with {DEBUG_FLAG} or {DEBUG_ENV}=1)"
    print(f"error: {one_line(exc)}{hint}", file=sys.stderr)
    if isinstance(exc, ReportedError):
        print("\n".join(str(exc).splitlines()[1:]), file=sys.stderr)
    return 1
