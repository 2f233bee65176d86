"""What the flow mixins (payment, admin) use of TerminalCore, declared once for the type checker."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payments.zvt.messages import Completion, Message
    from payments.zvt.tables import ConfigByte

    from .ledger import Card, Ledger
    from .script import Script, SimConfig
    from .session import Session


class CoreView:
    """Base of the mixins; TerminalCore provides every member declared here."""

    config: SimConfig
    ledger: Ledger

    if TYPE_CHECKING:

        def has(self, bit: ConfigByte) -> bool: ...

        def note(self, text: str) -> None: ...

        def next_script(self, amount_cents: int) -> Script: ...

        def pick_card(self, script: Script) -> Card: ...

        def completion(self) -> Completion: ...

        async def prompt(self, s: Session, code: int, timeout_s: int | None = None) -> None: ...

        async def finish(self, s: Session, message: Message) -> None: ...

        async def abort_with(self, s: Session, code: int) -> None: ...
