"""An NXP NTAG213 (NFC Forum Type 2 tag) as a pure state machine: one command frame in, one reply out.

Facts from the NTAG213/215/216 datasheet and ISO/IEC 14443-3 (docs: hardware.md §5):
- 7-byte UID, cascade level 1 answers `88 uid0 uid1 uid2 BCC0`, level 2 `uid3..uid6 BCC1`
  (BCC = XOR of the four bytes before it); SAK `04` after CL1 (UID not complete), `00` after CL2.
- 45 pages of 4 bytes (00h-2Ch). Page 3 is the capability container, pages 4-39 the 144 bytes of user
  memory, 28h-2Ch dynamic lock bytes and configuration (password pages read as zeros).
- READ `30 pp` returns 16 bytes (four pages, rolling over from 2Ch to 00h); an address beyond 2Ch
  gets the 4-bit NAK `0` and the tag returns to IDLE. An unsupported command gets no answer and the
  tag returns to IDLE (nfcpy relies on this: it probes with AUTHENTICATE `1A` and senses again).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import reduce

import ndef

PAGE_SIZE = 4
PAGES = 0x2D  # 00h..2Ch
USER_FIRST_PAGE = 4
USER_BYTES = 144
SENS_RES = bytes.fromhex("4400")  # ATQA of an NTAG21x: double-size UID, no bit frame anticollision
SAK_UID_INCOMPLETE = b"\x04"
SAK_TYPE2 = b"\x00"
VERSION = bytes.fromhex("0004040201000F03")  # GET_VERSION: NXP, NTAG, 50 pF, 21x, version 1, 144 bytes, ISO14443-3
NAK_INVALID_ARGUMENT = b"\x00"  # the 4-bit NAK for an invalid page address, carried in one byte

# pages 28h-2Ch of a factory-fresh NTAG213: dynamic lock bytes, CFG0 (AUTH0 = FFh: no password),
# CFG1 (ACCESS), PWD and PACK (both read as zeros)
FACTORY_CONFIG_PAGES = ("000000BD", "040000FF", "00050000", "00000000", "00000000")

REQA, WUPA, HLTA, READ, FAST_READ, GET_VERSION = 0x26, 0x52, 0x50, 0x30, 0x3A, 0x60
SEL_CL1, SEL_CL2 = 0x93, 0x95
NVB_ANTICOLLISION, NVB_SELECT = 0x20, 0x70


def bcc(data: bytes) -> int:
    """Block check character of ISO 14443-3 anticollision: XOR of the bytes."""
    return reduce(lambda a, b: a ^ b, data, 0)


def parse_uid(uid: bytes | str) -> bytes:
    """A 7-byte UID from bytes or hex ("04A1B2C3D4E5F6", separators allowed)."""
    raw = bytes.fromhex(uid.replace(":", "").replace(" ", "")) if isinstance(uid, str) else bytes(uid)
    if len(raw) != 7:
        raise ValueError(f"an NTAG213 has a 7-byte UID, got {len(raw)} bytes")
    if raw[0] == 0x88:
        raise ValueError("uid0 must not be 88h (the cascade tag)")
    return raw


def ndef_tlv(message: bytes) -> bytes:
    """NDEF message TLV followed by the terminator TLV (one-byte length below 255, else three bytes)."""
    length = len(message)
    header = bytes([0x03, length]) if length < 0xFF else bytes([0x03, 0xFF, length >> 8, length & 0xFF])
    return header + message + b"\xfe"


def encode_ndef(records: Iterable[ndef.Record] | bytes) -> bytes:
    """NDEF message bytes from ndeflib records (or already encoded bytes)."""
    if isinstance(records, bytes | bytearray):
        return bytes(records)
    return b"".join(ndef.message_encoder(list(records)))


def memory_image(uid: bytes, message: bytes) -> bytearray:
    """The 180-byte memory of a factory-fresh NTAG213 holding `message` as its NDEF message."""
    tlv = ndef_tlv(message) if message else b"\x03\x00\xfe"
    if len(tlv) > USER_BYTES:
        raise ValueError(f"NDEF message of {len(message)} bytes does not fit the 144 bytes of an NTAG213")
    memory = bytearray(PAGES * PAGE_SIZE)
    memory[0:4] = bytes([uid[0], uid[1], uid[2], 0x88 ^ uid[0] ^ uid[1] ^ uid[2]])
    memory[4:8] = uid[3:7]
    memory[8:12] = bytes([bcc(uid[3:7]), 0x48, 0x00, 0x00])  # BCC1, internal, static lock bytes (unlocked)
    memory[12:16] = bytes([0xE1, 0x10, USER_BYTES // 8, 0x00])  # CC: NDEF 1.0, 144 bytes, read/write
    start = USER_FIRST_PAGE * PAGE_SIZE
    memory[start : start + len(tlv)] = tlv
    memory[0x28 * 4 : 0x2D * 4] = b"".join(bytes.fromhex(page) for page in FACTORY_CONFIG_PAGES)
    return memory


@dataclass
class Ntag213:
    """One card: its UID and memory. `ndef` takes ndeflib records or an encoded NDEF message."""

    uid: bytes
    memory: bytearray = field(repr=False)

    @classmethod
    def create(cls, uid: bytes | str, ndef_records: Iterable[ndef.Record] | bytes = ()) -> Ntag213:
        raw = parse_uid(uid)
        return cls(raw, memory_image(raw, encode_ndef(ndef_records)))

    @property
    def uid_hex(self) -> str:
        return self.uid.hex().upper()

    def read_pages(self, first: int, count: int) -> bytes:
        """`count` pages from `first`, rolling over from the last page to page 0."""
        return b"".join(self._page((first + i) % PAGES) for i in range(count))

    def _page(self, page: int) -> bytes:
        return bytes(self.memory[page * PAGE_SIZE : (page + 1) * PAGE_SIZE])


class TagState(enum.Enum):
    IDLE = "idle"
    READY1 = "ready1"  # answered REQA/WUPA, waiting for cascade level 1
    READY2 = "ready2"  # level 1 selected, waiting for cascade level 2
    ACTIVE = "active"  # selected: memory commands allowed
    HALT = "halt"  # answers WUPA only


class Ntag213Responder:
    """The ISO 14443-3 state machine and Type 2 command set of one card in the field."""

    def __init__(self, card: Ntag213) -> None:
        self.card = card
        self.state = TagState.IDLE
        uid = card.uid
        self._cl1 = bytes([0x88, uid[0], uid[1], uid[2], bcc(bytes([0x88, *uid[0:3]]))])
        self._cl2 = bytes([*uid[3:7], bcc(uid[3:7])])

    def field_off(self) -> None:
        """RF field switched off: the card loses power, HALT included."""
        self.state = TagState.IDLE

    def handle(self, frame: bytes) -> bytes | None:
        """The reply to one frame, or None when a real NTAG213 stays silent."""
        if not frame:
            return None
        command = frame[0]
        if command in (REQA, WUPA) and len(frame) == 1:
            return self._wake(command)
        handler = {
            TagState.READY1: self._ready1,
            TagState.READY2: self._ready2,
            TagState.ACTIVE: self._active,
        }.get(self.state)
        reply = handler(frame) if handler else None
        if reply is None and self.state in (TagState.READY1, TagState.READY2):
            self.state = TagState.IDLE  # anything unexpected during selection: back to IDLE, silent
        return reply

    def _wake(self, command: int) -> bytes | None:
        if self.state is TagState.HALT and command == REQA:
            return None
        if self.state in (TagState.IDLE, TagState.HALT):
            self.state = TagState.READY1
            return SENS_RES
        self.state = TagState.IDLE  # REQA/WUPA in the middle of a selection is a protocol error
        return None

    def _ready1(self, frame: bytes) -> bytes | None:
        if frame == bytes([SEL_CL1, NVB_ANTICOLLISION]):
            return self._cl1
        if frame == bytes([SEL_CL1, NVB_SELECT]) + self._cl1:
            self.state = TagState.READY2
            return SAK_UID_INCOMPLETE
        return None

    def _ready2(self, frame: bytes) -> bytes | None:
        if frame == bytes([SEL_CL2, NVB_ANTICOLLISION]):
            return self._cl2
        if frame == bytes([SEL_CL2, NVB_SELECT]) + self._cl2:
            self.state = TagState.ACTIVE
            return SAK_TYPE2
        return None

    def _active(self, frame: bytes) -> bytes | None:
        command = frame[0]
        if command == READ and len(frame) == 2:
            return self._read(frame[1])
        if command == FAST_READ and len(frame) == 3:
            return self._fast_read(frame[1], frame[2])
        if command == GET_VERSION and len(frame) == 1:
            return VERSION
        if command == HLTA and frame == bytes([HLTA, 0x00]):
            self.state = TagState.HALT
            return None
        self.state = TagState.IDLE  # unsupported command: silence, back to IDLE
        return None

    def _read(self, first: int) -> bytes:
        """Four pages; READ rolls over from the last page to page 0."""
        if first >= PAGES:
            return self._nak()
        return self.card.read_pages(first, 4)

    def _fast_read(self, first: int, last: int) -> bytes:
        """Pages first..last; FAST_READ does not roll over."""
        if first > last or last >= PAGES:
            return self._nak()
        return self.card.read_pages(first, last - first + 1)

    def _nak(self) -> bytes:
        self.state = TagState.IDLE
        return NAK_INVALID_ARGUMENT
