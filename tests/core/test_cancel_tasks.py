"""Stopping background tasks ends them, also one that lost its cancellation (the daemon's stop hung on that)."""

from __future__ import annotations

import asyncio

import pytest

from common import tasks
from common.tasks import cancel_tasks


async def _loop_after(inner: asyncio.Future[int], rounds: list[int]) -> None:
    """A health-check loop: wait_for on the database, then sleep, for ever (until cancelled)."""
    await asyncio.wait_for(inner, 5)
    while True:
        rounds.append(1)
        await asyncio.sleep(0.01)


async def test_a_task_whose_wait_for_swallowed_the_cancellation_still_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "ASK_AGAIN_S", 0.1)
    inner: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    rounds: list[int] = []
    task = asyncio.create_task(_loop_after(inner, rounds))
    await asyncio.sleep(0)  # the task now waits in wait_for
    inner.set_result(1)  # the awaitable completes …
    await asyncio.wait_for(cancel_tasks([task]), 2)  # … as the stop cancels: Python 3.11 loses that cancellation
    assert task.done() and task.cancelled()


async def test_a_task_that_ignores_one_cancellation_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "ASK_AGAIN_S", 0.1)
    asked: list[float] = []

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                asked.append(asyncio.get_running_loop().time())
                if len(asked) == 2:
                    raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0.02)
    await asyncio.wait_for(cancel_tasks([task]), 2)
    assert len(asked) == 2 and asked[1] - asked[0] >= 0.09


async def test_clean_up_after_a_cancellation_gets_its_time_and_errors_stay_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks, "ASK_AGAIN_S", 0.5)
    cleaned: list[str] = []

    async def tidy() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(0.1)  # closing a port, say
            cleaned.append("closed")

    async def failing() -> None:
        raise RuntimeError("died before the stop")

    task, dead = asyncio.create_task(tidy()), asyncio.create_task(failing())
    await asyncio.sleep(0.01)
    await cancel_tasks([task, dead])
    assert cleaned == ["closed"] and task.cancelled() and isinstance(dead.exception(), RuntimeError)
