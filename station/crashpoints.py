"""Crash points for fault tests: SIGKILL this process right after a named step has committed.

Inert unless the environment variable STATION_CRASH_AT names a step (e.g. `sale.authorised`);
the crash tests start the real daemon with it to prove that recovery handles a crash at every
persisted step. Reading one environment variable once costs nothing in production.
"""

from __future__ import annotations

import os
import signal

_TARGET = os.environ.get("STATION_CRASH_AT") or None


def reached(step: str) -> None:
    """Call after the commit of `step`; kills the process when the test asked for that step."""
    if _TARGET is not None and step == _TARGET:
        os.kill(os.getpid(), signal.SIGKILL)
