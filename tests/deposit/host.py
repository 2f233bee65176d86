"""A minimal host for the tests: what the return-session service does with the driver, and nothing more.

Persist each event before acknowledging it (`EventCursor`), retry after silence, close the session
when the shopper is done, then drain the FIFO. The persisted list stands in for the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from deposit import Command, CommandOutcome, ContainerEvent, DepositMachine, EventCursor
from drivers.modbus import NoResponse

T = TypeVar("T")


async def retry(operation: Callable[[], Awaitable[T]], attempts: int = 50) -> T:
    """Run `operation` again after NoResponse (the line already retried once), like the service's poll loop."""
    for _ in range(attempts - 1):
        try:
            return await operation()
        except NoResponse:
            continue
    return await operation()


class Host:
    def __init__(self, deposit: DepositMachine, last_persisted: tuple[int, int] | None = None) -> None:
        self.deposit = deposit
        self.persisted: list[ContainerEvent] = []
        self.cursor = EventCursor(deposit, self._persist, last_persisted)

    async def _persist(self, event: ContainerEvent) -> None:
        self.persisted.append(event)

    async def drain(self) -> list[ContainerEvent]:
        return await retry(self.cursor.drain)

    async def command(self, command: Command) -> CommandOutcome:
        return await retry(lambda: self.deposit.send_command(command))

    async def run_session(self, shopper: asyncio.Task[object], poll_s: float = 0.003) -> None:
        """Open, take events while the shopper is busy, close (if still open), take the rest."""
        await self.command(Command.OPEN_SESSION)
        while not shopper.done():
            await self.drain()
            await asyncio.sleep(poll_s)
        await self.command(Command.CLOSE_SESSION)
        await self.drain()
