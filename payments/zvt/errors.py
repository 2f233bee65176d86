"""Exceptions of the ZVT layer.

Only three things are raised at a caller of `ZvtClient`; every other outcome is a result value
(see `results.py`):

- `TerminalBusy`: another dialogue is running on this terminal; nothing was sent.
- `TerminalUnavailable`: the link could not be opened; nothing was sent.
- `RefundsDisabled`: refunds are switched off in the configuration; nothing was sent.

`CodecError` is the one error of the pure codec (APDU, BMP, TLV, serial framing); its subclass
`UnreadableMessage` carries the part of a terminal message that could still be read. `LinkError` and
`ReceiveTimeout` come from the transports and are turned into results by the dialogue runner.
"""

from __future__ import annotations


class ZvtError(Exception):
    """Base class of every ZVT error."""


class CodecError(ZvtError, ValueError):
    """Bytes that are not valid ZVT (bad length, unknown BMP tag, bad BCD, bad CRC, ...)."""


class UnreadableMessage(CodecError):
    """A terminal message whose framing is broken or whose money field cannot be read.

    `partial` is what could be read before the problem (for a status information: the result
    code, amount, receipt and trace numbers already decoded), so the caller can still tell an
    approval from a decline; it is None when nothing usable was read.
    """

    def __init__(self, reason: str, partial: object | None = None) -> None:
        super().__init__(reason)
        self.partial = partial


class LinkError(ZvtError):
    """The byte link failed: could not connect, connection lost, frame retries exhausted."""


class ReceiveTimeout(ZvtError):
    """Nothing arrived before the deadline; the link itself is still usable."""


class TerminalUnavailable(LinkError):
    """The terminal could not be reached before anything was sent: the command certainly did not run."""


class TerminalBusy(ZvtError):
    """Another dialogue with this terminal is running; only one at a time is allowed."""


class RefundsDisabled(ZvtError):
    """Refunds are not enabled in the payment configuration."""
