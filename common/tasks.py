"""Background task helpers shared by every layer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

ASK_AGAIN_S = 1.0  # a task still running this long after its cancellation is cancelled again


async def cancel_tasks(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel background tasks and wait until each has ended; their errors are not re-raised here.

    A task can lose its cancellation and run on: on Python 3.11, `asyncio.wait_for` returns the
    result instead of raising when the cancellation arrives just as its awaitable completes. A
    loop around such a call would then never end, and neither would the daemon's stop. So a task
    still running `ASK_AGAIN_S` after being cancelled is cancelled again (its clean-up had that
    long), until it ends.
    """
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    running = [task for task in tasks if not task.done()]
    while running:
        _, still = await asyncio.wait(running, timeout=ASK_AGAIN_S)
        for task in still:
            task.cancel()
        running = list(still)
    for task in tasks:  # retrieved, so asyncio does not log "exception was never retrieved"
        if not task.cancelled():
            task.exception()
