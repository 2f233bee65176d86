"""Reading what a terminal sends: one APDU -> one typed message, strict only where money is at stake.

- A status information (04 0F) is refused only when its BMP framing is broken (a tag whose length
  cannot be known, a length running past the end) or a money field cannot be read; the
  `UnreadableMessage` raised then carries the fields read so far (result code, amount, ...).
- Everything else a terminal sends is informational and always read, with warnings: print lines
  and text blocks, completions (06 0F, whose status byte and BMPs are told apart by length),
  aborts (06 1E, with the BMP 87 of the pre-authorisation enquiry), intermediate statuses.
- Only an APDU whose own length is wrong, an intermediate status without its status byte and an
  acknowledgement carrying data are refused outright.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .apdu import Apdu, decode_apdu
from .bcd import decode_bcd
from .bmp import LLL, decode_var_length, scan_bmps
from .charset import DEFAULT_ENCODING, decode_text, message_encoding
from .errors import CodecError, UnreadableMessage
from .fields import decode_fields
from .messages import (
    ENQUIRY_RECEIPT,
    TEXT_LINE_TAG,
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
from .tlv import TlvItem, decode_ber_length, decode_tlv, decode_tlv_lenient, iter_tag

TLV_TAG = 0x06
# A status byte 06 means "abort without a result code" is read as FF, the spec's "system error
# (other/unknown error)": Portalum's test suite has terminals sending `06 1E 00`.
UNKNOWN_ABORT_CODE = 0xFF


def parse_message(raw: bytes | Apdu) -> Message:
    """One PT message from one APDU; CodecError (or `UnreadableMessage`) when it cannot be read."""
    apdu = raw if isinstance(raw, Apdu) else decode_apdu(raw)
    parser = _PARSERS.get(apdu.code)
    if parser is not None:
        return parser(apdu.data)
    if apdu.cls in (0x80, 0x84):
        return _parse_ack(apdu)
    return UnknownMessage(apdu.cls, apdu.ins, apdu.data)


def _parse_ack(apdu: Apdu) -> Acknowledgement:
    if apdu.cls == 0x80:
        if apdu.ins != 0 or apdu.data:
            raise CodecError(f"malformed positive acknowledgement {apdu}")
        return Acknowledgement()
    return Acknowledgement(apdu.ins, True, apdu.data)


# --- 04 0F status information ------------------------------------------------------------------


def parse_status(data: bytes) -> StatusInformation:
    fields, broken = scan_bmps(data)
    decoded = decode_fields(fields)
    status = StatusInformation(
        **decoded.values, extra=tuple(decoded.extra), raw=tuple(decoded.raw), warnings=tuple(decoded.warnings)
    )
    problems = ([f"framing broken: {broken}"] if broken else []) + decoded.money_errors
    if problems:
        raise UnreadableMessage("; ".join(problems), partial=status)
    return status


# --- TLV container as the only BMP -------------------------------------------------------------


def _container(data: bytes, where: str) -> tuple[tuple[TlvItem, ...] | None, list[str]]:
    """The TLV container in a BMP list that should hold only BMP 06; anything else is a warning."""
    fields, broken = scan_bmps(data)
    warnings = [f"{where}: {broken}"] if broken else []
    items: tuple[TlvItem, ...] | None = None
    for tag, raw in fields:
        if tag != TLV_TAG:
            warnings.append(f"{where}: unexpected BMP {tag:02X} ignored")
            continue
        items, tlv_warnings = decode_tlv_lenient(raw)
        warnings.extend(f"{where}: {w}" for w in tlv_warnings)
    return items, warnings


def parse_intermediate(data: bytes) -> IntermediateStatus:
    if not data:
        raise CodecError("intermediate status 04 FF without a status byte")
    rest, timeout = data[1:], None
    if rest and not (rest[0] == TLV_TAG and scan_bmps(rest)[1] is None):
        timeout, rest = rest[0], rest[1:]
    items, warnings = _container(rest, "intermediate status")
    return IntermediateStatus(data[0], timeout, items or (), tuple(warnings))


def parse_text_block(data: bytes) -> PrintTextBlock:
    items, warnings = _container(data, "print text block")
    if items is None:
        warnings.append("print text block without a TLV container")
    encoding, charset_warnings = message_encoding(items)
    warnings.extend(charset_warnings)
    for line in iter_tag(items or (), TEXT_LINE_TAG):
        if isinstance(line.value, bytes) and (problem := decode_text(line.value, encoding)[1]):
            warnings.append(f"print text block: {problem}")
    return PrintTextBlock(items or (), tuple(warnings))


# --- 06 D1 print line ------------------------------------------------------------------------


def parse_print_line(data: bytes) -> PrintLine:
    if not data:
        return PrintLine("", 0, warnings=("print line 06 D1 without an attribute byte",))
    body = data[1:]
    text_bytes, tlv = _split_trailing_tlv(body)
    encoding, warnings = message_encoding(tlv)
    text, text_warning = decode_text(text_bytes, encoding)
    all_warnings = list(warnings) + ([f"print line: {text_warning}"] if text_warning else [])
    return PrintLine(text, data[0], tlv, tuple(all_warnings))


def _split_trailing_tlv(body: bytes) -> tuple[bytes, tuple[TlvItem, ...] | None]:
    """(text, TLV) when the line ends with BMP 06 whose length reaches exactly the end.

    Portalum's print-line vectors carry `06 04 1F 07 01 01` (receipt type) after the text. The
    leftmost such split wins; a text byte 06 followed by a valid container reaching exactly the
    end is not something a receipt line contains.
    """
    for start in range(len(body)):
        if body[start] != TLV_TAG:
            continue
        try:
            size, value_at = decode_ber_length(body, start + 1)
            if value_at + size != len(body):
                continue
            return body[:start], decode_tlv(body[value_at:])
        except CodecError:
            continue
    return body, None


# --- 06 0F completion ----------------------------------------------------------------------------

_COMPLETION_TAGS = frozenset({0x19, 0x29, 0x49, TLV_TAG})
Reading = tuple[dict[str, Any], int | None]  # (fixed fields, where the BMPs start; None: impossible)


def parse_completion(data: bytes) -> Completion:
    """Completion data: [sw version LLL + terminal status] | [terminal status] , then BMPs.

    A first byte 06/19/29/49 may be a status byte or a BMP tag: the reading whose BMPs fill the
    data exactly wins (`06 0F 01 06` is status byte 06, not a TLV container without a length).
    """
    sw_first = len(data) >= 3 and all(b & 0xF0 == 0xF0 for b in data[:3])
    readings: list[Callable[[bytes], Reading]] = [_with_sw_version] if sw_first else []
    both: list[Callable[[bytes], Reading]] = [_with_status_byte, _bmps_only]
    readings += both if not data or data[0] not in _COMPLETION_TAGS else both[::-1]
    attempts = [(values, pos) for values, pos in (reading(data) for reading in readings) if pos is not None]
    for values, pos in attempts:
        if scan_bmps(data, pos)[1] is None:
            return _completion(values, data, pos)
    values, pos = attempts[0]  # nothing fits: keep the preferred reading, report the rest
    return _completion(values, data, pos, lenient=True)


def _with_sw_version(data: bytes) -> Reading:
    try:
        size, pos = decode_var_length(data, 0, -LLL)
    except CodecError:
        return {}, None
    if pos + size >= len(data):
        return {}, None
    sw_version, _ = decode_text(data[pos : pos + size], DEFAULT_ENCODING)
    return {"sw_version": sw_version, "terminal_status": data[pos + size]}, pos + size + 1


def _with_status_byte(data: bytes) -> Reading:
    return ({"terminal_status": data[0]}, 1) if data else ({}, None)


def _bmps_only(_data: bytes) -> Reading:
    return {}, 0


def _completion(values: dict[str, Any], data: bytes, pos: int, lenient: bool = False) -> Completion:
    fields, broken = scan_bmps(data, pos)
    warnings = [f"completion: {broken}; data {data.hex(' ').upper()}"] if lenient and broken else []
    extra: list[tuple[int, bytes]] = []
    for tag, raw in fields:
        problem = _completion_field(values, tag, raw, extra)
        if problem:
            warnings.append(f"completion: BMP {tag:02X}: {problem}")
    return Completion(**values, extra=tuple(extra), warnings=tuple(warnings))


def _completion_field(values: dict[str, Any], tag: int, raw: bytes, extra: list[tuple[int, bytes]]) -> str | None:
    """Store one completion BMP; returns a warning when its value cannot be read (it goes to `extra`)."""
    try:
        if tag == 0x19:
            values["status_byte"] = raw[0]
        elif tag == 0x29:
            values["terminal_id"] = _digits(raw)
        elif tag == 0x49:
            values["currency"] = decode_bcd(raw)
        elif tag == TLV_TAG:
            values["tlv"], tlv_warnings = decode_tlv_lenient(raw)
            return "; ".join(tlv_warnings) or None
        else:
            extra.append((tag, raw))
    except CodecError as exc:
        extra.append((tag, raw))
        return str(exc)
    return None


def _digits(raw: bytes) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise CodecError(f"not packed BCD: {raw.hex(' ')}")
    return text


# --- 06 1E abort ---------------------------------------------------------------------------------


def parse_abort(data: bytes) -> Abort:
    if not data:
        return Abort(UNKNOWN_ABORT_CODE, warnings=("abort 06 1E without a result code: read as FF (system error)",))
    fields, broken = scan_bmps(data, 1)
    warnings = [f"abort: {broken}; data {data[1:].hex(' ').upper()}"] if broken else []
    values: dict[str, Any] = {}
    extra: list[tuple[int, bytes]] = []
    for tag, raw in fields:
        if tag == 0x87:
            receipt = _abort_receipt(raw)
            if receipt is None:
                warnings.append(f"abort: receipt number {raw.hex(' ').upper()} is not BCD")
                extra.append((tag, raw))
            values["receipt_no"] = receipt
        elif tag == TLV_TAG:
            values["tlv"], tlv_warnings = decode_tlv_lenient(raw)
            warnings.extend(f"abort: {w}" for w in tlv_warnings)
        else:
            extra.append((tag, raw))
    return Abort(data[0], **values, extra=tuple(extra), warnings=tuple(warnings))


def _abort_receipt(raw: bytes) -> int | None:
    if raw == b"\xff\xff":
        return ENQUIRY_RECEIPT
    text = raw.hex()
    return int(text) if text.isdigit() else None


_PARSERS: dict[tuple[int, int], Callable[[bytes], Message]] = {
    (0x04, 0x0F): parse_status,
    (0x04, 0xFF): parse_intermediate,
    (0x06, 0xD1): parse_print_line,
    (0x06, 0xD3): parse_text_block,
    (0x06, 0x0F): parse_completion,
    (0x06, 0x1E): parse_abort,
}
