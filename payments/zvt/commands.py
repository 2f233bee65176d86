"""ECR commands (station -> terminal) and the vending answers to a status information.

Encoders return the raw APDU bytes. `decode_command` is the inverse used by the simulator: it
splits an APDU into its fixed fields (password, config byte, currency) and its BMPs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .apdu import decode_apdu, encode_apdu
from .bcd import decode_amount, decode_bcd, encode_amount, encode_bcd, encode_password
from .bmp import decode_bmps, encode_bmps
from .errors import CodecError
from .tlv import TlvItem, decode_tlv, encode_tlv

REGISTRATION = (0x06, 0x00)
AUTHORISATION = (0x06, 0x01)
LOG_OFF = (0x06, 0x02)
PRE_AUTHORISATION = (0x06, 0x22)
PARTIAL_REVERSAL = (0x06, 0x23)
BOOK_TOTAL = (0x06, 0x24)
PRE_AUTH_REVERSAL = (0x06, 0x25)
REVERSAL = (0x06, 0x30)
REFUND = (0x06, 0x31)
END_OF_DAY = (0x06, 0x50)
STATUS_ENQUIRY = (0x05, 0x01)
ABORT = (0x06, 0xB0)

COMMAND_NAMES: dict[tuple[int, int], str] = {
    REGISTRATION: "registration",
    AUTHORISATION: "authorisation",
    LOG_OFF: "log-off",
    PRE_AUTHORISATION: "pre-authorisation",
    PARTIAL_REVERSAL: "partial reversal",
    BOOK_TOTAL: "book total",
    PRE_AUTH_REVERSAL: "pre-authorisation reversal",
    REVERSAL: "reversal",
    REFUND: "refund",
    END_OF_DAY: "end-of-day",
    STATUS_ENQUIRY: "status enquiry",
    ABORT: "abort",
}

# Commands whose data starts with the 3-byte password.
_WITH_PASSWORD = {REGISTRATION, REVERSAL, REFUND, END_OF_DAY}
ENQUIRY_RECEIPT = 0xFFFF  # receipt number FFFF in 06 23 = "list the open pre-authorisations"
ENQUIRE_OPEN_PREAUTHS = bytes.fromhex("06 23 03 87 FF FF")


def _amount_bmps(
    amount_cents: int,
    currency: int | None,
    max_status_infos: int | None,
    timeout_s: int | None,
    payment_type: int | None,
    tlv: tuple[TlvItem, ...] | None,
) -> bytes:
    fields: list[tuple[int, bytes]] = [(0x04, encode_amount(amount_cents))]
    if currency is not None:
        fields.append((0x49, encode_bcd(currency, 2)))
    if max_status_infos is not None:
        fields.append((0x02, _byte(max_status_infos, "max status infos")))
    if timeout_s is not None:
        fields.append((0x01, _byte(timeout_s, "timeout")))
    if payment_type is not None:
        fields.append((0x19, _byte(payment_type, "payment type")))
    if tlv is not None:
        fields.append((0x06, encode_tlv(tlv)))
    return encode_bmps(fields)


def _byte(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFF:
        raise CodecError(f"{what} must be 0..255, got {value}")
    return bytes([value])


def registration(
    password: str,
    config_byte: int,
    currency: int | None = 978,
    service_byte: int | None = None,
    tlv: tuple[TlvItem, ...] | None = None,
) -> bytes:
    """`06 00`: password, config byte, [currency without tag], [BMP 03], [BMP 06]."""
    data = encode_password(password) + _byte(config_byte, "config byte")
    if currency is not None:
        data += encode_bcd(currency, 2)
    bmps: list[tuple[int, bytes]] = []
    if service_byte is not None:
        bmps.append((0x03, _byte(service_byte, "service byte")))
    if tlv is not None:
        bmps.append((0x06, encode_tlv(tlv)))
    return encode_apdu(*REGISTRATION, data + encode_bmps(bmps))


def authorisation(
    amount_cents: int,
    *,
    currency: int | None = None,
    max_status_infos: int | None = None,
    timeout_s: int | None = None,
    payment_type: int | None = None,
    tlv: tuple[TlvItem, ...] | None = None,
) -> bytes:
    """`06 01`: pay `amount_cents`; BMP 02 (max status infos) enables the vending goods-issue answers."""
    return encode_apdu(
        *AUTHORISATION, _amount_bmps(amount_cents, currency, max_status_infos, timeout_s, payment_type, tlv)
    )


def pre_authorisation(
    amount_cents: int,
    *,
    currency: int | None = None,
    timeout_s: int | None = None,
    payment_type: int | None = None,
    tlv: tuple[TlvItem, ...] | None = None,
) -> bytes:
    """`06 22`: reserve `amount_cents`; the status information carries the receipt number to book later."""
    return encode_apdu(*PRE_AUTHORISATION, _amount_bmps(amount_cents, currency, None, timeout_s, payment_type, tlv))


def _receipt_amount(
    code: tuple[int, int], receipt_no: int, amount_cents: int | None, trace_no: int | None, aid: str | None
) -> bytes:
    fields: list[tuple[int, bytes]] = [(0x87, encode_bcd(receipt_no, 2))]
    if amount_cents is not None:
        fields.append((0x04, encode_amount(amount_cents)))
    if trace_no is not None:
        fields.append((0x0B, encode_bcd(trace_no, 3)))
    if aid is not None:
        fields.append((0x3B, aid.encode("cp437")))
    return encode_apdu(*code, encode_bmps(fields))


def book_total(receipt_no: int, amount_cents: int, *, trace_no: int | None = None, aid: str | None = None) -> bytes:
    """`06 24`: book `amount_cents` (the amount actually used) of the pre-authorisation `receipt_no`."""
    return _receipt_amount(BOOK_TOTAL, receipt_no, amount_cents, trace_no, aid)


def partial_reversal(receipt_no: int, release_cents: int) -> bytes:
    """`06 23`: give back `release_cents` (the unused part) of the pre-authorisation `receipt_no`."""
    if receipt_no == ENQUIRY_RECEIPT:
        raise CodecError("receipt number FFFF is reserved for the open pre-authorisation enquiry")
    return _receipt_amount(PARTIAL_REVERSAL, receipt_no, release_cents, None, None)


def enquire_open_preauths() -> bytes:
    """`06 23 03 87 FF FF`: list the open pre-authorisations."""
    return ENQUIRE_OPEN_PREAUTHS


def pre_auth_reversal(receipt_no: int, amount_cents: int | None = None) -> bytes:
    """`06 25`: release the whole reservation `receipt_no` (field layout: spec §2.13, unverified)."""
    return _receipt_amount(PRE_AUTH_REVERSAL, receipt_no, amount_cents, None, None)


def reversal(password: str, receipt_no: int) -> bytes:
    """`06 30`: reverse (storno) the payment with `receipt_no`."""
    return encode_apdu(*REVERSAL, encode_password(password) + encode_bmps([(0x87, encode_bcd(receipt_no, 2))]))


def refund(password: str, amount_cents: int) -> bytes:
    """`06 31`: refund `amount_cents` to a card."""
    return encode_apdu(*REFUND, encode_password(password) + encode_bmps([(0x04, encode_amount(amount_cents))]))


def end_of_day(password: str) -> bytes:
    """`06 50`: close the batch and return the totals."""
    return encode_apdu(*END_OF_DAY, encode_password(password))


def status_enquiry(password: str | None = None, service_byte: int | None = None) -> bytes:
    """`05 01`: terminal state; some terminals want the password, some do not."""
    data = encode_password(password) if password is not None else b""
    if service_byte is not None:
        data += encode_bmps([(0x03, _byte(service_byte, "service byte"))])
    return encode_apdu(*STATUS_ENQUIRY, data)


def abort() -> bytes:
    """`06 B0`: ask the PT to abort the running command (e.g. while it waits for a card)."""
    return encode_apdu(*ABORT)


def log_off() -> bytes:
    return encode_apdu(*LOG_OFF)


class GoodsKind(Enum):
    ISSUED = "issued"
    WAIT = "wait"
    NOT_ISSUED = "not_issued"
    PARTIAL = "partial"


@dataclass(frozen=True)
class GoodsAnswer:
    """The station's answer to an approved status information in a vending authorisation."""

    kind: GoodsKind
    amount_cents: int | None = None

    def encode(self) -> bytes:
        """`80 00 00` issued, `84 9C 00` wait, `84 66 00` not issued, `84 9D 07 04 <amount>` partial."""
        match self.kind:
            case GoodsKind.ISSUED:
                return b"\x80\x00\x00"
            case GoodsKind.WAIT:
                return b"\x84\x9c\x00"
            case GoodsKind.NOT_ISSUED:
                return b"\x84\x66\x00"
        if self.amount_cents is None:
            raise CodecError("a partial issue needs the amount actually issued")
        return encode_apdu(0x84, 0x9D, encode_bmps([(0x04, encode_amount(self.amount_cents))]))


GOODS_ISSUED = GoodsAnswer(GoodsKind.ISSUED)
PLEASE_WAIT = GoodsAnswer(GoodsKind.WAIT)
GOODS_NOT_ISSUED = GoodsAnswer(GoodsKind.NOT_ISSUED)


def partial_issue(amount_cents: int) -> GoodsAnswer:
    """Only `amount_cents` worth of goods left the machine: book that lower amount."""
    encode_amount(amount_cents)  # validates the range early
    return GoodsAnswer(GoodsKind.PARTIAL, amount_cents)


@dataclass(frozen=True)
class DecodedCommand:
    """An ECR command split into its parts (the simulator's view)."""

    cls: int
    ins: int
    password: str | None = None
    config_byte: int | None = None
    currency: int | None = None
    bmps: dict[int, bytes] = field(default_factory=dict)

    @property
    def code(self) -> tuple[int, int]:
        return (self.cls, self.ins)

    @property
    def name(self) -> str:
        return COMMAND_NAMES.get(self.code, f"command {self.cls:02X} {self.ins:02X}")

    @property
    def amount_cents(self) -> int | None:
        raw = self.bmps.get(0x04)
        return decode_amount(raw) if raw is not None else None

    @property
    def receipt_no(self) -> int | None:
        raw = self.bmps.get(0x87)
        if raw is None:
            return None
        return ENQUIRY_RECEIPT if raw == b"\xff\xff" else decode_bcd(raw)

    def byte(self, tag: int) -> int | None:
        raw = self.bmps.get(tag)
        return raw[0] if raw else None

    @property
    def tlv(self) -> tuple[TlvItem, ...] | None:
        raw = self.bmps.get(0x06)
        return decode_tlv(raw) if raw is not None else None


def _password(data: bytes) -> str:
    if len(data) < 3:
        raise CodecError("command too short for the 3-byte password")
    text = data[:3].hex()
    if not text.isdigit():
        raise CodecError(f"password is not BCD: {data[:3].hex(' ')}")
    return text


def decode_command(raw: bytes) -> DecodedCommand:
    """Split an ECR command; malformed data or an unknown BMP is a CodecError."""
    apdu = decode_apdu(raw)
    data, code, pos = apdu.data, apdu.code, 0
    values: dict[str, object] = {}
    if code in _WITH_PASSWORD or (code == STATUS_ENQUIRY and len(data) >= 3 and data[0] not in (0x03, 0x06)):
        values["password"], pos = _password(data), 3
    if code == REGISTRATION:
        if len(data) < 4:
            raise CodecError("registration without a config byte")
        values["config_byte"], pos = data[3], 4
        # The currency is a fixed field without a tag; BMP 03 or 06 may follow instead.
        if len(data) >= 6 and data[4] not in (0x03, 0x06):
            values["currency"], pos = decode_bcd(data[4:6]), 6
    bmps = dict(decode_bmps(data, pos))
    if (raw87 := bmps.get(0x87)) is not None and raw87 != b"\xff\xff":
        decode_bcd(raw87)
    if (raw04 := bmps.get(0x04)) is not None:
        decode_amount(raw04)
    return DecodedCommand(apdu.cls, apdu.ins, bmps=bmps, **values)  # type: ignore[arg-type]
