"""Opening a compartment for an operator (signed remote command) or a technician: contents are unknown after."""

from __future__ import annotations

from typing import Any

from ..compartments import owner
from .doors import DoorOutcome
from .service import LockWall


class RemoteDoors:
    """The lock wall as signed remote commands see it (`sync.handlers.DoorOpener`)."""

    def __init__(self, lockwall: LockWall) -> None:
        self.lockwall = lockwall

    async def open(self, compartment_id: int, reason: str, reference: str | None) -> dict[str, Any]:
        """Open; unless nothing could be sent, the compartment needs a check (someone may have taken goods)."""
        result = await self.lockwall.open(compartment_id, reason, reference, actor="operator")
        if result.outcome is not DoorOutcome.UNAVAILABLE:
            why = f"opened by an operator ({reference or 'no reference'})"
            await self.lockwall.db.write_until_committed(
                lambda s: owner.needs_check(s, compartment_id, why, actor="operator", reference=reference)
            )
        return {"outcome": str(result.outcome), "operation_id": result.operation_id, "detail": result.detail}
