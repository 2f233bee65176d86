"""Typed messages the terminal (PT) sends to the station (ECR), and their encoders.

`parse_message(raw)` (in `parsing.py`, re-exported here) turns one APDU into one of:
`Acknowledgement` (80 00 00 / 84 xx ..), `IntermediateStatus` (04 FF), `StatusInformation` (04 0F),
`PrintLine` (06 D1), `PrintTextBlock` (06 D3), `Completion` (06 0F), `Abort` (06 1E) or
`UnknownMessage`. Every class has `encode()`; the simulator speaks through them.

Every message read from a terminal carries `warnings`: what it contained that could not be read
as expected (an odd nibble in the PAN, an unknown character set, a broken TLV item). A warning
never changes what the message means for money; the message is still acknowledged `80 00 00`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from .apdu import encode_apdu
from .bmp import encode_bmps, encode_var_length
from .charset import DEFAULT_ENCODING, decode_text, encode_text, message_encoding
from .commands import ENQUIRY_RECEIPT  # receipt FF FF: "no (more) open pre-authorisation" in 06 1E
from .errors import CodecError
from .fields import encode_fields
from .tables import intermediate_text, result_text
from .tlv import TlvItem, encode_tlv, iter_tag

ACK_POSITIVE = b"\x80\x00\x00"
TEXT_ENCODING = DEFAULT_ENCODING  # the default; a message may name another (TLV tag 14)
TEXT_LINE_TAG = 0x07
RECEIPT_TYPE_TAG = 0x1F07
PRINT_TEXTS_TAG = 0x25


_OMIT_WHEN_EMPTY = frozenset({"warnings", "raw"})  # keep the usual view short


class Message:
    """Base of every PT message."""

    warnings: tuple[str, ...] = ()

    def encode(self) -> bytes:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view (for the CLI and logs)."""
        out: dict[str, Any] = {"type": type(self).__name__}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name in _OMIT_WHEN_EMPTY and not value:
                continue
            if isinstance(value, bytes):
                value = value.hex(" ").upper()
            elif f.name == "tlv" and value:
                value = encode_tlv(value).hex(" ").upper()
            elif f.name in ("extra", "raw"):
                value = {f"{tag:02X}": raw.hex(" ").upper() for tag, raw in value}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        if hasattr(self, "text") and "text" not in out:
            out["text"] = self.text
        return out


def _tlv_bmp(tlv: tuple[TlvItem, ...] | None) -> bytes:
    return encode_bmps([(0x06, encode_tlv(tlv))]) if tlv is not None else b""


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
    warnings: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return intermediate_text(self.code)

    def encode(self) -> bytes:
        data = bytes([self.code])
        if self.timeout_s is not None:
            data += bytes([self.timeout_s])
        if self.tlv:
            data += _tlv_bmp(self.tlv)
        return encode_apdu(0x04, 0xFF, data)


@dataclass(frozen=True)
class StatusInformation(Message):
    """`04 0F`: the result of a transaction (result code 00 = approved) and its data.

    `extra` holds BMPs without a typed attribute; `raw` the original bytes of informational
    fields read leniently (written back by `encode()` in place of the attribute).
    """

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
    raw: tuple[tuple[int, bytes], ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def approved(self) -> bool:
        return self.result_code == 0

    @property
    def text(self) -> str:
        return result_text(self.result_code) if self.result_code is not None else "no result code"

    @property
    def text_encoding(self) -> str:
        return message_encoding(self.tlv)[0]

    def encode(self) -> bytes:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        bmps = encode_fields(values, self.raw, self.text_encoding) + list(self.extra)
        return encode_apdu(0x04, 0x0F, encode_bmps(bmps))


@dataclass(frozen=True)
class PrintLine(Message):
    """`06 D1`: one receipt line with its attribute byte; some terminals append a TLV container
    (receipt type 1F07, character set 14) after the text."""

    text: str
    attribute: int = 0
    tlv: tuple[TlvItem, ...] | None = None
    warnings: tuple[str, ...] = ()

    @property
    def receipt_type(self) -> int | None:
        return _receipt_type(self.tlv)

    def encode(self) -> bytes:
        text = encode_text(self.text, message_encoding(self.tlv)[0])
        return encode_apdu(0x06, 0xD1, bytes([self.attribute]) + text + _tlv_bmp(self.tlv))


def _receipt_type(tlv: tuple[TlvItem, ...] | None) -> int | None:
    item = next(iter_tag(tlv or (), RECEIPT_TYPE_TAG), None)
    return item.value[0] if item is not None and isinstance(item.value, bytes) and item.value else None


@dataclass(frozen=True)
class PrintTextBlock(Message):
    """`06 D3`: a whole receipt as TLV (text lines tag 07, receipt type tag 1F07)."""

    tlv: tuple[TlvItem, ...]
    warnings: tuple[str, ...] = ()

    @property
    def lines(self) -> tuple[str, ...]:
        encoding = message_encoding(self.tlv)[0]
        items = iter_tag(self.tlv, TEXT_LINE_TAG)
        return tuple(decode_text(item.value, encoding)[0] for item in items if isinstance(item.value, bytes))

    @property
    def receipt_type(self) -> int | None:
        return _receipt_type(self.tlv)

    @classmethod
    def from_lines(
        cls, lines: list[str], receipt_type: int | None = None, encoding: str = TEXT_ENCODING
    ) -> PrintTextBlock:
        texts = tuple(TlvItem(TEXT_LINE_TAG, encode_text(line, encoding)) for line in lines)
        items: list[TlvItem] = []
        if receipt_type is not None:
            items.append(TlvItem(RECEIPT_TYPE_TAG, bytes([receipt_type])))
        items.append(TlvItem(PRINT_TEXTS_TAG, texts))
        return cls(tuple(items))

    def encode(self) -> bytes:
        return encode_apdu(0x06, 0xD3, _tlv_bmp(self.tlv))


@dataclass(frozen=True)
class Completion(Message):
    """`06 0F`: the PT hands master rights back. Status enquiries add software version and terminal status.

    `extra` holds BMPs other than 19/29/49/06 (some terminals send a result code 27 here).
    """

    sw_version: str | None = None
    terminal_status: int | None = None
    status_byte: int | None = None
    terminal_id: str | None = None
    currency: int | None = None
    tlv: tuple[TlvItem, ...] | None = None
    extra: tuple[tuple[int, bytes], ...] = ()
    warnings: tuple[str, ...] = ()

    def encode(self) -> bytes:
        data = b""
        if self.sw_version is not None:
            if self.terminal_status is None:
                raise CodecError("a completion with a software version also carries the terminal status")
            raw = encode_text(self.sw_version, TEXT_ENCODING)
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
        return encode_apdu(0x06, 0x0F, data + encode_bmps(bmps + list(self.extra)))


@dataclass(frozen=True)
class Abort(Message):
    """`06 1E`: the command failed; `result_code` says why (e.g. 6C timeout / abort key).

    The answer to the open pre-authorisation enquiry (06 23 87 FF FF) is an abort with code B8
    and BMP 87: the receipt number of an open pre-authorisation, or FF FF (`ENQUIRY_RECEIPT`)
    when there is none (spec §2.10.1; EVerest/zvt `PartialReversalAbort`).
    """

    result_code: int
    tlv: tuple[TlvItem, ...] | None = None
    receipt_no: int | None = None
    extra: tuple[tuple[int, bytes], ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return result_text(self.result_code)

    def encode(self) -> bytes:
        bmps: list[tuple[int, bytes]] = []
        if self.receipt_no is not None:
            receipt = b"\xff\xff" if self.receipt_no == ENQUIRY_RECEIPT else bytes.fromhex(f"{self.receipt_no:04d}")
            bmps.append((0x87, receipt))
        if self.tlv is not None:
            bmps.append((0x06, encode_tlv(self.tlv)))
        return encode_apdu(0x06, 0x1E, bytes([self.result_code]) + encode_bmps(bmps + list(self.extra)))


@dataclass(frozen=True)
class UnknownMessage(Message):
    """A well-formed APDU this layer has no type for; it is acknowledged and reported."""

    cls: int
    ins: int
    data: bytes = b""

    def encode(self) -> bytes:
        return encode_apdu(self.cls, self.ins, self.data)


# Re-exported for callers that read messages and their parser from one place; `parsing` imports
# the classes above, so it is imported last.
from .parsing import parse_message  # noqa: E402

__all__ = [
    "ACK_POSITIVE",
    "ENQUIRY_RECEIPT",
    "TEXT_ENCODING",
    "Abort",
    "Acknowledgement",
    "Completion",
    "IntermediateStatus",
    "Message",
    "PrintLine",
    "PrintTextBlock",
    "StatusInformation",
    "UnknownMessage",
    "parse_message",
]
