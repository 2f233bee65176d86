"""Typed messages the terminal (PT) sends to the station (ECR), and their encoders.

`parse_message(raw)` turns one APDU into one of: `Acknowledgement` (80 00 00 / 84 xx ..),
`IntermediateStatus` (04 FF), `StatusInformation` (04 0F), `PrintLine` (06 D1), `PrintTextBlock`
(06 D3), `Completion` (06 0F), `Abort` (06 1E) or `UnknownMessage` (any other well-formed APDU).
Malformed data is a CodecError. Every class has `encode()`; the simulator speaks through them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from .apdu import Apdu, decode_apdu, encode_apdu
from .bcd import decode_bcd
from .bmp import LLL, decode_bmps, decode_var_length, encode_bmps, encode_var_length
from .errors import CodecError
from .fields import TEXT_ENCODING, decode_fields, encode_fields
from .tables import intermediate_text, result_text
from .tlv import TlvItem, decode_tlv, encode_tlv, iter_tag

ACK_POSITIVE = b"\x80\x00\x00"


class Message:
    """Base of every PT message."""

    def encode(self) -> bytes:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view (for the CLI and logs)."""
        out: dict[str, Any] = {"type": type(self).__name__}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, bytes):
                value = value.hex(" ").upper()
            elif f.name == "tlv" and value:
                value = encode_tlv(value).hex(" ").upper()
            elif f.name == "extra":
                value = {f"{tag:02X}": raw.hex(" ").upper() for tag, raw in value}
            out[f.name] = value
        if hasattr(self, "text") and "text" not in out:
            out["text"] = self.text
        return out


@dataclass(frozen=True)
class Acknowledgement(Message):
    """`80 00 00` (code 0) or `84 xx 00` (code xx); `84 00 00` counts as positive on some PTs."""

    code: int = 0
    negative: bool = False
    data: bytes = b""

    @property
    def positive(self) -> bool:
        return self.code == 0

    def encode(self) -> bytes:
        if not self.negative:
            if self.code or self.data:
                raise CodecError("a positive acknowledgement 80 00 00 carries no code or data")
            return ACK_POSITIVE
        return encode_apdu(0x84, self.code, self.data)


@dataclass(frozen=True)
class IntermediateStatus(Message):
    """`04 FF`: a prompt such as "insert card"; `timeout_s` tells how long the PT may stay silent."""

    code: int
    timeout_s: int | None = None
    tlv: tuple[TlvItem, ...] = ()

    @property
    def text(self) -> str:
        return intermediate_text(self.code)

    def encode(self) -> bytes:
        data = bytes([self.code])
        if self.timeout_s is not None:
            data += bytes([self.timeout_s])
        if self.tlv:
            data += encode_bmps([(0x06, encode_tlv(self.tlv))])
        return encode_apdu(0x04, 0xFF, data)


@dataclass(frozen=True)
class StatusInformation(Message):
    """`04 0F`: the result of a transaction (result code 00 = approved) and its data."""

    result_code: int | None = None
    amount_cents: int | None = None
    currency: int | None = None
    trace_no: int | None = None
    original_trace_no: int | None = None
    receipt_no: int | None = None
    turnover_no: int | None = None
    terminal_id: str | None = None
    vu_number: str | None = None
    time: str | None = None
    date: str | None = None
    date_ymd: str | None = None
    expiry: str | None = None
    card_seq_no: int | None = None
    payment_type: int | None = None
    pan: str | None = None
    card_type: int | None = None
    card_name: str | None = None
    card_type_network: int | None = None
    aid: str | None = None
    host_result_code: int | None = None
    additional_text: str | None = None
    individual_totals: bytes | None = None
    tlv: tuple[TlvItem, ...] | None = None
    extra: tuple[tuple[int, bytes], ...] = ()

    @property
    def approved(self) -> bool:
        return self.result_code == 0

    @property
    def text(self) -> str:
        return result_text(self.result_code) if self.result_code is not None else "no result code"

    def encode(self) -> bytes:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return encode_apdu(0x04, 0x0F, encode_bmps(encode_fields(values) + list(self.extra)))


@dataclass(frozen=True)
class PrintLine(Message):
    """`06 D1`: one receipt line with its attribute byte."""

    text: str
    attribute: int = 0

    def encode(self) -> bytes:
        return encode_apdu(0x06, 0xD1, bytes([self.attribute]) + self.text.encode(TEXT_ENCODING))


TEXT_LINE_TAG = 0x07
RECEIPT_TYPE_TAG = 0x1F07
PRINT_TEXTS_TAG = 0x25


@dataclass(frozen=True)
class PrintTextBlock(Message):
    """`06 D3`: a whole receipt as TLV (text lines tag 07, receipt type tag 1F07)."""

    tlv: tuple[TlvItem, ...]

    @property
    def lines(self) -> tuple[str, ...]:
        items = iter_tag(self.tlv, TEXT_LINE_TAG)
        return tuple(item.value.decode(TEXT_ENCODING) for item in items if isinstance(item.value, bytes))

    @classmethod
    def from_lines(cls, lines: list[str], receipt_type: int | None = None) -> PrintTextBlock:
        texts = tuple(TlvItem(TEXT_LINE_TAG, line.encode(TEXT_ENCODING)) for line in lines)
        items: list[TlvItem] = []
        if receipt_type is not None:
            items.append(TlvItem(RECEIPT_TYPE_TAG, bytes([receipt_type])))
        items.append(TlvItem(PRINT_TEXTS_TAG, texts))
        return cls(tuple(items))

    def encode(self) -> bytes:
        return encode_apdu(0x06, 0xD3, encode_bmps([(0x06, encode_tlv(self.tlv))]))


_COMPLETION_TAGS = {0x19, 0x29, 0x49, 0x06}


@dataclass(frozen=True)
class Completion(Message):
    """`06 0F`: the PT hands master rights back. Status enquiries add software version and terminal status."""

    sw_version: str | None = None
    terminal_status: int | None = None
    status_byte: int | None = None
    terminal_id: str | None = None
    currency: int | None = None
    tlv: tuple[TlvItem, ...] | None = None

    def encode(self) -> bytes:
        data = b""
        if self.sw_version is not None:
            if self.terminal_status is None:
                raise CodecError("a completion with a software version also carries the terminal status")
            raw = self.sw_version.encode(TEXT_ENCODING)
            data += encode_var_length(len(raw), 3) + raw
        if self.terminal_status is not None:
            data += bytes([self.terminal_status])
        bmps: list[tuple[int, bytes]] = []
        if self.status_byte is not None:
            bmps.append((0x19, bytes([self.status_byte])))
        if self.terminal_id is not None:
            bmps.append((0x29, bytes.fromhex(self.terminal_id)))
        if self.currency is not None:
            bmps.append((0x49, bytes.fromhex(f"{self.currency:04d}")))
        if self.tlv is not None:
            bmps.append((0x06, encode_tlv(self.tlv)))
        return encode_apdu(0x06, 0x0F, data + encode_bmps(bmps))


@dataclass(frozen=True)
class Abort(Message):
    """`06 1E`: the command failed; `result_code` says why (e.g. 6C timeout / abort key)."""

    result_code: int
    tlv: tuple[TlvItem, ...] | None = None

    @property
    def text(self) -> str:
        return result_text(self.result_code)

    def encode(self) -> bytes:
        extra = encode_bmps([(0x06, encode_tlv(self.tlv))]) if self.tlv is not None else b""
        return encode_apdu(0x06, 0x1E, bytes([self.result_code]) + extra)


@dataclass(frozen=True)
class UnknownMessage(Message):
    """A well-formed APDU this layer has no type for; it is acknowledged and reported."""

    cls: int
    ins: int
    data: bytes = b""

    def encode(self) -> bytes:
        return encode_apdu(self.cls, self.ins, self.data)


def _parse_intermediate(data: bytes) -> IntermediateStatus:
    if not data:
        raise CodecError("intermediate status 04 FF without a status byte")
    rest = data[1:]
    timeout = None
    if rest and not (rest[0] == 0x06 and _is_bmp_list(rest)):
        timeout, rest = rest[0], rest[1:]
    return IntermediateStatus(data[0], timeout, _tlv_of(rest))


def _is_bmp_list(data: bytes) -> bool:
    try:
        decode_bmps(data)
    except CodecError:
        return False
    return True


def _tlv_of(data: bytes) -> tuple[TlvItem, ...]:
    """The TLV container from a BMP list that may hold only BMP 06."""
    items: tuple[TlvItem, ...] = ()
    for tag, raw in decode_bmps(data):
        if tag != 0x06:
            raise CodecError(f"unexpected BMP {tag:02X}: only the TLV container 06 may follow here")
        items = decode_tlv(raw)
    return items


def _parse_completion(data: bytes) -> Completion:
    values: dict[str, Any] = {}
    pos = 0
    if len(data) >= 3 and all(b & 0xF0 == 0xF0 for b in data[:3]):
        size, pos = decode_var_length(data, 0, -LLL)
        if pos + size > len(data):
            raise CodecError("completion: software version cut short")
        values["sw_version"] = data[pos : pos + size].decode(TEXT_ENCODING)
        pos += size
        if pos < len(data):
            values["terminal_status"], pos = data[pos], pos + 1
    elif data and data[0] not in _COMPLETION_TAGS:
        values["terminal_status"], pos = data[0], 1
    for tag, raw in decode_bmps(data, pos):
        if tag == 0x19:
            values["status_byte"] = raw[0]
        elif tag == 0x29:
            values["terminal_id"] = _digits(raw)
        elif tag == 0x49:
            values["currency"] = decode_bcd(raw)
        elif tag == 0x06:
            values["tlv"] = decode_tlv(raw)
    return Completion(**values)


def _digits(raw: bytes) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise CodecError(f"not packed BCD: {raw.hex(' ')}")
    return text


def _parse_status(data: bytes) -> StatusInformation:
    typed, extra = decode_fields(decode_bmps(data))
    return StatusInformation(**typed, extra=extra)


def _parse_abort(data: bytes) -> Abort:
    if not data:
        raise CodecError("abort 06 1E without a result code")
    tlv = _tlv_of(data[1:]) if len(data) > 1 else None
    return Abort(data[0], tlv)


def _parse_ack(apdu: Apdu) -> Acknowledgement:
    if apdu.cls == 0x80:
        if apdu.ins != 0 or apdu.data:
            raise CodecError(f"malformed positive acknowledgement {apdu}")
        return Acknowledgement()
    return Acknowledgement(apdu.ins, True, apdu.data)


def parse_message(raw: bytes | Apdu) -> Message:
    """One PT message from one APDU; CodecError when it is malformed."""
    apdu = raw if isinstance(raw, Apdu) else decode_apdu(raw)
    data = apdu.data
    match apdu.code:
        case (0x80, _) | (0x84, _):
            return _parse_ack(apdu)
        case (0x04, 0xFF):
            return _parse_intermediate(data)
        case (0x04, 0x0F):
            return _parse_status(data)
        case (0x06, 0xD1):
            if not data:
                raise CodecError("print line 06 D1 without an attribute byte")
            return PrintLine(data[1:].decode(TEXT_ENCODING), data[0])
        case (0x06, 0xD3):
            return PrintTextBlock(_tlv_of(data))
        case (0x06, 0x0F):
            return _parse_completion(data)
        case (0x06, 0x1E):
            return _parse_abort(data)
    return UnknownMessage(apdu.cls, apdu.ins, data)
