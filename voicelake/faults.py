"""Named crash points for crash drills: ``VOICELAKE_FAULT=<point>`` kills the process there.

Jobs call `fault("<job>.<point>")` between writes whose order matters (a bronze append and
its log entry, silver's two tables, a scoring MERGE, gold's stage and publish); the crash
drill tests set the variable, run the job as a subprocess, and check that a rerun neither
loses nor duplicates data. Unset (always, in production) it does nothing.
"""

from __future__ import annotations

import os
import signal

FAULT_VARIABLE = "VOICELAKE_FAULT"


def fault(point: str) -> None:
    """Kill this process with SIGKILL (no cleanup, like ``kill -9``) if ``point`` is the armed one."""
    if os.environ.get(FAULT_VARIABLE) == point:
        print(f"{FAULT_VARIABLE}: killing the process at {point}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
