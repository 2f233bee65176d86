"""A streaming ESC/POS parser: bytes in (in any chunking), operations out.

Knows the commands receipt printing uses (Epson ESC/POS command reference): text and LF,
ESC @ / t / E / a / ! / - / M / d / J / 2 / 3 / p, GS ! / B / h / w / f / H / k / V / v 0 / ( x,
DLE EOT / ENQ / DC4, and skips the data of image commands by their declared length. A command
the parser does not know becomes an `unknown` operation (its first two bytes) and parsing goes
on; nothing the wire brings makes it raise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ESC, GS, DLE, FS = 0x1B, 0x1D, 0x10, 0x1C
LF, CR, HT, FF, CAN = 0x0A, 0x0D, 0x09, 0x0C, 0x18


@dataclass(frozen=True)
class Op:
    """One parsed operation: `name`, its numeric `args`, its `data` payload and the `raw` bytes."""

    name: str
    args: tuple[int, ...] = ()
    data: bytes = b""
    raw: bytes = b""


# ESC x / GS x / FS x with a fixed number of argument bytes: (prefix, x) -> (name, argument count)
_FIXED: dict[tuple[int, int], tuple[str, int]] = {
    (ESC, ord("@")): ("init", 0),
    (ESC, ord("t")): ("codepage", 1),
    (ESC, ord("E")): ("bold", 1),
    (ESC, ord("G")): ("double_strike", 1),
    (ESC, ord("a")): ("align", 1),
    (ESC, ord("!")): ("print_mode", 1),
    (ESC, ord("-")): ("underline", 1),
    (ESC, ord("M")): ("font", 1),
    (ESC, ord("{")): ("upside_down", 1),
    (ESC, ord("V")): ("rotate", 1),
    (ESC, ord("R")): ("charset", 1),
    (ESC, ord(" ")): ("right_spacing", 1),
    (ESC, ord("d")): ("feed_lines", 1),
    (ESC, ord("J")): ("feed_dots", 1),
    (ESC, ord("2")): ("line_spacing_default", 0),
    (ESC, ord("3")): ("line_spacing", 1),
    (ESC, ord("$")): ("position", 2),
    (ESC, ord("p")): ("drawer_pulse", 3),
    (ESC, ord("c")): ("panel", 2),
    (ESC, ord("i")): ("cut_legacy_full", 0),
    (ESC, ord("m")): ("cut_legacy_partial", 0),
    (GS, ord("!")): ("char_size", 1),
    (GS, ord("B")): ("reverse", 1),
    (GS, ord("b")): ("smoothing", 1),
    (GS, ord("h")): ("barcode_height", 1),
    (GS, ord("w")): ("barcode_width", 1),
    (GS, ord("f")): ("hri_font", 1),
    (GS, ord("H")): ("hri_position", 1),
    (GS, ord("a")): ("auto_status_back", 1),
    (GS, ord("r")): ("transmit_status", 1),
    (GS, ord("I")): ("transmit_id", 1),
    (GS, ord("L")): ("left_margin", 2),
    (GS, ord("W")): ("print_width", 2),
    (GS, ord("P")): ("motion_units", 2),
    (DLE, 0x04): ("status_query", 1),
    (DLE, 0x05): ("realtime_request", 1),
    (DLE, 0x14): ("realtime_dc4", 3),
    (FS, ord("p")): ("nv_image", 2),
    (FS, ord(".")): ("kanji_off", 0),
    (FS, ord("&")): ("kanji_on", 0),
}
_SINGLE = {LF: "newline", CR: "carriage_return", HT: "tab", FF: "form_feed", CAN: "cancel"}
_PREFIXES = (ESC, GS, DLE, FS)

# A parse function gets (buffer, start) and returns (op, bytes used), or None when more bytes are needed.
_Parse = Callable[[bytes, int], tuple[Op, int] | None]


class EscPosParser:
    """Feed bytes, get operations; an incomplete command waits for the next chunk."""

    def __init__(self) -> None:
        self._buffer = b""

    @property
    def pending(self) -> bytes:
        """Bytes of a command that is not complete yet."""
        return self._buffer

    def feed(self, data: bytes) -> list[Op]:
        self._buffer += data
        ops: list[Op] = []
        position = 0
        buffer = self._buffer
        while position < len(buffer):
            parsed = self._parse_one(buffer, position)
            if parsed is None:
                break
            op, used = parsed
            ops.append(op)
            position += used
        self._buffer = buffer[position:]
        return ops

    def flush(self) -> list[Op]:
        """End of stream: an incomplete command is reported as `truncated`."""
        rest, self._buffer = self._buffer, b""
        return [Op("truncated", raw=rest)] if rest else []

    def _parse_one(self, buf: bytes, at: int) -> tuple[Op, int] | None:
        first = buf[at]
        if first >= 0x20:
            end = at
            while end < len(buf) and buf[end] >= 0x20:
                end += 1
            return Op("text", data=buf[at:end], raw=buf[at:end]), end - at
        if first in _SINGLE:
            return Op(_SINGLE[first], raw=buf[at : at + 1]), 1
        if first not in _PREFIXES:
            return Op("unknown", raw=buf[at : at + 1]), 1
        if at + 1 >= len(buf):
            return None
        second = buf[at + 1]
        special = _SPECIAL.get((first, second))
        if special is not None:
            return special(buf, at)
        fixed = _FIXED.get((first, second))
        if fixed is None:
            return Op("unknown", raw=buf[at : at + 2]), 2
        name, count = fixed
        end = at + 2 + count
        if end > len(buf):
            return None
        return Op(name, args=tuple(buf[at + 2 : end]), raw=buf[at:end]), end - at


def _need(buf: bytes, end: int) -> bool:
    return end <= len(buf)


def _barcode(buf: bytes, at: int) -> tuple[Op, int] | None:
    """GS k m: m 0–6 data up to NUL; m 65–79 a length byte, then the data."""
    if not _need(buf, at + 3):
        return None
    system = buf[at + 2]
    if system <= 6:
        nul = buf.find(b"\x00", at + 3)
        if nul < 0:
            return None
        return Op("barcode", (system,), buf[at + 3 : nul], buf[at : nul + 1]), nul + 1 - at
    if not _need(buf, at + 4):
        return None
    end = at + 4 + buf[at + 3]
    if not _need(buf, end):
        return None
    return Op("barcode", (system,), buf[at + 4 : end], buf[at:end]), end - at


def _cut(buf: bytes, at: int) -> tuple[Op, int] | None:
    """GS V m (m 0, 1, 48, 49) or GS V m n (m 65, 66, 97, 98, 103, 104: n = feed before the cut)."""
    if not _need(buf, at + 3):
        return None
    mode = buf[at + 2]
    if mode in (0, 1, 48, 49):
        return Op("cut", (mode,), raw=buf[at : at + 3]), 3
    if mode in (65, 66, 97, 98, 103, 104):
        if not _need(buf, at + 4):
            return None
        return Op("cut", (mode, buf[at + 3]), raw=buf[at : at + 4]), 4
    return Op("unknown", raw=buf[at : at + 3]), 3


def _extended(buf: bytes, at: int) -> tuple[Op, int] | None:
    """GS ( x pL pH …: every command of this family declares its length (QR codes, graphics, …)."""
    if not _need(buf, at + 5):
        return None
    function = buf[at + 2]
    end = at + 5 + buf[at + 3] + 256 * buf[at + 4]
    if not _need(buf, end):
        return None
    body = buf[at + 5 : end]
    name = "2d_code" if function == ord("k") else f"gs_paren_{chr(function) if 0x21 <= function < 0x7F else function}"
    return Op(name, data=body, raw=buf[at:end]), end - at


def _raster(buf: bytes, at: int) -> tuple[Op, int] | None:
    """GS v 0 m xL xH yL yH d…: a raster image of (xL + 256 xH) bytes × (yL + 256 yH) rows."""
    if not _need(buf, at + 8):
        return None
    if buf[at + 2] != ord("0"):
        return Op("unknown", raw=buf[at : at + 3]), 3
    width = buf[at + 4] + 256 * buf[at + 5]
    height = buf[at + 6] + 256 * buf[at + 7]
    end = at + 8 + width * height
    if not _need(buf, end):
        return None
    return Op("raster_image", (width * 8, height), raw=buf[at:end]), end - at


def _graphics_large(buf: bytes, at: int) -> tuple[Op, int] | None:
    """GS 8 L p1 p2 p3 p4 …: like GS ( L with a 4-byte length."""
    if not _need(buf, at + 7):
        return None
    if buf[at + 2] != ord("L"):
        return Op("unknown", raw=buf[at : at + 3]), 3
    end = at + 7 + int.from_bytes(buf[at + 3 : at + 7], "little")
    if not _need(buf, end):
        return None
    return Op("graphics", data=buf[at + 7 : end], raw=buf[at:end]), end - at


def _bit_image(buf: bytes, at: int) -> tuple[Op, int] | None:
    """ESC * m nL nH d…: 8-dot modes (m 0, 1) send one byte per column, 24-dot modes three."""
    if not _need(buf, at + 5):
        return None
    columns = buf[at + 3] + 256 * buf[at + 4]
    end = at + 5 + columns * (1 if buf[at + 2] in (0, 1) else 3)
    if not _need(buf, end):
        return None
    return Op("bit_image", (columns,), raw=buf[at:end]), end - at


def _tabs(buf: bytes, at: int) -> tuple[Op, int] | None:
    """ESC D n1 … nk NUL: horizontal tab positions."""
    nul = buf.find(b"\x00", at + 2)
    if nul < 0:
        return None
    return Op("tab_positions", tuple(buf[at + 2 : nul]), raw=buf[at : nul + 1]), nul + 1 - at


_SPECIAL: dict[tuple[int, int], _Parse] = {
    (GS, ord("k")): _barcode,
    (GS, ord("V")): _cut,
    (GS, ord("(")): _extended,
    (GS, ord("v")): _raster,
    (GS, ord("8")): _graphics_large,
    (ESC, ord("*")): _bit_image,
    (ESC, ord("D")): _tabs,
}
