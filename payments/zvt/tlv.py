"""BER-TLV as used inside the ZVT BMP 06 container.

Tags are ints of their tag bytes (`0x1F16`). A tag whose first byte has bit 0x20 set is constructed
(its value is itself TLV), except tags FF00-FFFF, which some vending terminals (FEIG cVEND) use as
primitive; we treat those as primitive everywhere. Lengths: below 0x80 one byte, else 81 xx or 82 xx xx.

`decode_tlv` is strict (commands the simulator receives); `decode_tlv_lenient` is for what a
terminal sends: the container is informational, so a constructed item whose content is not TLV is
kept as its raw bytes, and an item cut short ends the list, each with a warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .errors import CodecError

MAX_LENGTH = 0xFFFF


@dataclass(frozen=True)
class TlvItem:
    """One TLV item; `value` is bytes when primitive, a tuple of items when constructed."""

    tag: int
    value: bytes | tuple[TlvItem, ...]

    @property
    def constructed(self) -> bool:
        return isinstance(self.value, tuple)

    def find(self, tag: int) -> TlvItem | None:
        """First item with `tag` in this subtree (depth first), or None."""
        return next(iter_tag(self.children(), tag), None)

    def children(self) -> tuple[TlvItem, ...]:
        return self.value if isinstance(self.value, tuple) else ()


def iter_tag(items: tuple[TlvItem, ...] | list[TlvItem], tag: int) -> Iterator[TlvItem]:
    """Every item with `tag`, depth first."""
    for item in items:
        if item.tag == tag:
            yield item
        yield from iter_tag(item.children(), tag)


def is_constructed_tag(tag_bytes: bytes) -> bool:
    if tag_bytes[0] == 0xFF and len(tag_bytes) == 2:
        return False  # FEIG quirk: FF00-FFFF are primitive
    return bool(tag_bytes[0] & 0x20)


def tag_to_bytes(tag: int) -> bytes:
    """The tag bytes of `tag`; raises CodecError when they are not a well-formed BER tag."""
    if tag < 0:
        raise CodecError(f"negative TLV tag {tag}")
    raw = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    multi = raw[0] & 0x1F == 0x1F
    if not multi and len(raw) > 1:
        raise CodecError(f"TLV tag {tag:X}: first byte does not announce further tag bytes")
    if multi:
        if len(raw) == 1:
            raise CodecError(f"TLV tag {tag:X}: first byte announces further tag bytes but none follow")
        *middle, last = raw[1:]
        if any(b & 0x80 == 0 for b in middle) or last & 0x80:
            raise CodecError(f"TLV tag {tag:X}: bad continuation bits")
    return raw


def encode_ber_length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    if size <= 0xFF:
        return bytes([0x81, size])
    if size <= MAX_LENGTH:
        return bytes([0x82]) + size.to_bytes(2, "big")
    raise CodecError(f"TLV length {size} is too large")


def decode_ber_length(data: bytes, pos: int) -> tuple[int, int]:
    """(length, position after the length bytes)."""
    if pos >= len(data):
        raise CodecError("TLV length missing")
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first - 0x80
    if count not in (1, 2):
        raise CodecError(f"unsupported TLV length form {first:02X}")
    if pos + 1 + count > len(data):
        raise CodecError("TLV length bytes cut short")
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def _decode_tag(data: bytes, pos: int) -> tuple[bytes, int]:
    start = pos
    pos += 1
    if data[start] & 0x1F == 0x1F:
        while True:
            if pos >= len(data):
                raise CodecError("TLV tag cut short")
            pos += 1
            if not data[pos - 1] & 0x80:
                break
            if pos - start >= 4:  # the 4th byte announces a 5th
                raise CodecError("TLV tag longer than 4 bytes")
    return data[start:pos], pos


def decode_tlv(data: bytes, depth: int = 0) -> tuple[TlvItem, ...]:
    """All items in `data`; malformed input is a CodecError."""
    if depth > 8:
        raise CodecError("TLV nested too deeply")
    data = bytes(data)
    items: list[TlvItem] = []
    pos = 0
    while pos < len(data):
        tag_bytes, pos = _decode_tag(data, pos)
        size, pos = decode_ber_length(data, pos)
        if pos + size > len(data):
            raise CodecError(f"TLV item {tag_bytes.hex().upper()} announces {size} bytes, {len(data) - pos} left")
        raw = data[pos : pos + size]
        pos += size
        value = decode_tlv(raw, depth + 1) if is_constructed_tag(tag_bytes) else raw
        items.append(TlvItem(int.from_bytes(tag_bytes, "big"), value))
    return tuple(items)


def decode_tlv_lenient(data: bytes) -> tuple[tuple[TlvItem, ...], tuple[str, ...]]:
    """Items of a terminal's TLV container, never raising: what cannot be read becomes a warning.

    A constructed item whose content is not TLV keeps its raw bytes as a primitive value; a broken
    item (tag or length cut short, length beyond the container) ends the list there.
    """
    warnings: list[str] = []
    items = _lenient_items(bytes(data), 0, warnings)
    return items, tuple(warnings)


def _lenient_items(data: bytes, depth: int, warnings: list[str]) -> tuple[TlvItem, ...]:
    items: list[TlvItem] = []
    pos = 0
    while pos < len(data):
        try:
            tag_bytes, start = _decode_tag(data, pos)
            size, start = decode_ber_length(data, start)
        except CodecError as exc:
            warnings.append(f"TLV: {exc}; {len(data) - pos} bytes from byte {pos} not read")
            break
        if start + size > len(data):
            warnings.append(
                f"TLV item {tag_bytes.hex().upper()} announces {size} bytes, {len(data) - start} left; not read"
            )
            break
        raw, pos = data[start : start + size], start + size
        tag = int.from_bytes(tag_bytes, "big")
        items.append(TlvItem(tag, _lenient_value(tag, tag_bytes, raw, depth, warnings)))
    return tuple(items)


def _lenient_value(
    tag: int, tag_bytes: bytes, raw: bytes, depth: int, warnings: list[str]
) -> bytes | tuple[TlvItem, ...]:
    if not is_constructed_tag(tag_bytes):
        return raw
    if depth >= 8:
        warnings.append(f"TLV item {tag:X} nested too deeply: kept as raw bytes")
        return raw
    try:
        return decode_tlv(raw, depth + 1)
    except CodecError as exc:
        warnings.append(f"TLV item {tag:X} is marked constructed but its content is not TLV ({exc}): kept raw")
        return raw


def encode_tlv(items: tuple[TlvItem, ...] | list[TlvItem]) -> bytes:
    """Items back to bytes. A constructed tag may carry raw bytes (as kept by `decode_tlv_lenient`)."""
    out = bytearray()
    for item in items:
        tag_bytes = tag_to_bytes(item.tag)
        if isinstance(item.value, tuple):
            if not is_constructed_tag(tag_bytes):
                raise CodecError(f"TLV tag {item.tag:X} is primitive but its value is a list of items")
            value = encode_tlv(item.value)
        else:
            value = bytes(item.value)
        out += tag_bytes + encode_ber_length(len(value)) + value
    return bytes(out)
