"""The doors of a purchase: pulse each reserved compartment's door and commit what the doors did.

Every pulse's intent is committed by the lock wall before the pulse; `open` then commits released
(or not released) with the sale lines marked, and for a card payment the amount to book in the same
commit. A purchase paid wholly by credit runs here without the terminal (`run_on_credit`).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ..compartments import owner
from ..db.engine import StorageUnavailable
from ..flows.engine import InvalidTransition
from ..lockwall import DoorOutcome
from .flow import DOOR_FAULT as DOOR_FAULT_LINE
from .flow import NOT_RELEASED, RELEASED, SaleState, book_requested, mark_lines

if TYPE_CHECKING:
    from .service import PurchaseService


class SaleDoors:
    def __init__(self, service: PurchaseService) -> None:
        self.service = service

    async def run_on_credit(self, sale_id: str, compartments: list[int]) -> None:
        """The credit covers everything: no terminal; open the doors, done (or reversed: the credit goes back)."""
        service = self.service
        try:
            await service.commit(sale_id, SaleState.RELEASE_REQUESTED, expect={SaleState.CREATED}, paid_by="credit")
        except InvalidTransition:
            return  # cancelled in the meantime
        except StorageUnavailable:
            await service.recovery.settle(sale_id)
            return
        service.board.say(sale_id, "Mit Pfandguthaben bezahlt")
        outcomes = await self.open(sale_id, compartments)
        if any(v == RELEASED for v in outcomes.values()):
            await service.commit(sale_id, SaleState.DONE, until_committed=True, booked_cents=0)
        else:
            await service.commit(sale_id, SaleState.REVERSED, until_committed=True, why="no door opened")

    async def open(self, sale_id: str, compartments: list[int], *, book: bool = False) -> dict[int, str]:
        """release_requested is committed: pulse each door, then commit released or not_released.

        `book` (a card payment): released goes with book_requested in one commit, the amount to book
        taken from the lines just marked.
        """
        outcomes = await self.pulse(sale_id, compartments)
        released = sorted(c for c, v in outcomes.items() if v == RELEASED)
        await self.service.commit(sale_id, SaleState.RELEASED if released else SaleState.NOT_RELEASED,
                                  until_committed=True, released=released,
                                  also=lambda s: mark_lines(s, sale_id, outcomes),
                                  then=partial(book_requested, sale_id=sale_id) if book and released else None)
        return outcomes

    async def pulse(self, sale_id: str, compartments: list[int]) -> dict[int, str]:
        """Pulse each door (each intent committed by the lock wall first); returns what each door did."""
        board, lockwall = self.service.board, self.service.lockwall
        outcomes: dict[int, str] = {}
        for compartment in compartments:
            if await self._blocked(compartment):
                board.say(sale_id, f"Fach {compartment} ist gesperrt")
                continue
            try:
                result = await lockwall.open(compartment, "sale", sale_id, actor="shopper")
            except StorageUnavailable:  # the intent could not be recorded: no pulse was sent
                board.say(sale_id, f"Fach {compartment} ließ sich nicht öffnen")
                continue
            if result.outcome is DoorOutcome.OPENED:
                outcomes[compartment] = RELEASED
                board.say(sale_id, f"Fach {compartment} ist offen – bitte Ware entnehmen")
            else:
                outcomes[compartment] = DOOR_FAULT_LINE if result.outcome is DoorOutcome.NOT_OPENED else NOT_RELEASED
                board.say(sale_id, f"Fach {compartment} ließ sich nicht öffnen")
        return outcomes

    async def _blocked(self, compartment: int) -> bool:
        """A cold-chain block committed since the reservation: that compartment stays shut."""
        try:
            return await self.service.db.read(lambda s: owner.blocked_reason(s, compartment)) is not None
        except StorageUnavailable:
            return False  # reads rarely fail; the block check at reservation stands
