"""ZVT (ECR-Interface ZVT-Protocol rev. 13.06): the station as cash register (ECR) talking to a card
terminal (PT) over TCP (port 20007, raw APDUs) or RS232 (DLE framing, CRC-16/KERMIT, ACK/NAK).

Layers: `apdu`/`bcd`/`bmp`/`tlv`/`charset`/`fields`/`messages`/`parsing`/`commands`/`framing`
are the pure codec (one error class, `CodecError`). What a terminal sends is read strictly only
where money is decided (result code, amount, currency, trace and receipt numbers); card data,
texts and the TLV container are read leniently with `warnings` on the message, so a real
terminal's odd field never turns an approval into a refused message. `transport`/`tcp`/
`serial_link` move APDUs; `dialogue` runs one command; `client.ZvtClient` is what a service uses;
`results` says what each outcome means.

Use::

    client = ZvtClient(ZvtSettings(url="tcp://10.0.0.5:20007"))
    result = await client.authorise(1250, decide=my_goods_decision, observer=show_prompt)
    if isinstance(result, Approved): ...        # booked result.amount_cents, receipt/trace numbers
    elif isinstance(result, OutcomeUnknown): ... # ask (status_enquiry / enquire_open_preauths / totals)
    else: ...                                    # NotIssued / Declined / Aborted / Refused: not charged

`decide(status) -> GoodsAnswer` is awaited when the terminal approves; `status` carries the receipt
and trace numbers: persist the approval before releasing goods. Return `GOODS_ISSUED`,
`PLEASE_WAIT` (asked again when the terminal repeats the status information), `GOODS_NOT_ISSUED`
(the terminal reverses) or `partial_issue(cents)`. It should answer within `ZvtTimers.decide_s`;
a slower decision is answered "please wait" automatically and awaited again on the repeat. A
decision that raises is answered "goods not issued".
"""

from .client import ZvtClient, ZvtSettings
from .commands import GOODS_ISSUED, GOODS_NOT_ISSUED, PLEASE_WAIT, GoodsAnswer, GoodsKind, partial_issue
from .dialogue import Decide, Observer
from .errors import (
    CodecError,
    LinkError,
    RefundsDisabled,
    TerminalBusy,
    TerminalUnavailable,
    UnreadableMessage,
    ZvtError,
)
from .messages import (
    Abort,
    Acknowledgement,
    Completion,
    IntermediateStatus,
    Message,
    PrintLine,
    PrintTextBlock,
    StatusInformation,
    UnknownMessage,
)
from .results import (
    Aborted,
    Approved,
    Completed,
    Declined,
    EndOfDay,
    NotIssued,
    OpenPreauth,
    OpenPreauths,
    OutcomeUnknown,
    Refused,
    Registered,
    Result,
    TerminalStatus,
)
from .transport import ZvtTimers

__all__ = [
    "GOODS_ISSUED",
    "GOODS_NOT_ISSUED",
    "PLEASE_WAIT",
    "Abort",
    "Aborted",
    "Acknowledgement",
    "Approved",
    "CodecError",
    "Completed",
    "Completion",
    "Decide",
    "Declined",
    "EndOfDay",
    "GoodsAnswer",
    "GoodsKind",
    "IntermediateStatus",
    "LinkError",
    "Message",
    "NotIssued",
    "Observer",
    "OpenPreauth",
    "OpenPreauths",
    "OutcomeUnknown",
    "PrintLine",
    "PrintTextBlock",
    "RefundsDisabled",
    "Refused",
    "Registered",
    "Result",
    "StatusInformation",
    "TerminalBusy",
    "TerminalStatus",
    "TerminalUnavailable",
    "UnknownMessage",
    "UnreadableMessage",
    "ZvtClient",
    "ZvtError",
    "ZvtSettings",
    "ZvtTimers",
    "partial_issue",
]
