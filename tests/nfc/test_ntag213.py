"""The NTAG213 responder frame by frame, and the UDP datagrams around it (hardware.md §5)."""

from __future__ import annotations

import ndef
import pytest

from simulators.nfc import NfcTagSimulator, Ntag213, Ntag213Responder, TagFaults, TagState
from simulators.nfc.ntag213 import memory_image, ndef_tlv

UID = "04A1B2C3D4E5F6"
READER = ("127.0.0.1", 40000)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def selected(card: Ntag213) -> Ntag213Responder:
    """A responder taken through REQA and both cascade levels, as nfcpy does it."""
    tag = Ntag213Responder(card)
    uid = card.uid
    cl1 = bytes([0x88, *uid[:3], 0x88 ^ uid[0] ^ uid[1] ^ uid[2]])
    cl2 = bytes([*uid[3:], uid[3] ^ uid[4] ^ uid[5] ^ uid[6]])
    for frame in (h("26"), h("9320"), h("9370") + cl1, h("9520"), h("9570") + cl2):
        assert tag.handle(frame) is not None
    assert tag.state is TagState.ACTIVE
    return tag


def test_activation_frames_are_byte_exact() -> None:
    tag = Ntag213Responder(Ntag213.create(UID))
    assert tag.handle(h("26")) == h("4400")  # SENS_RES of an NTAG21x
    assert tag.handle(h("9320")) == h("8804A1B29F")  # CT uid0-2 BCC0 = 88^04^A1^B2
    assert tag.handle(h("93708804A1B29F")) == h("04")  # SAK: UID not complete
    assert tag.handle(h("9520")) == h("C3D4E5F604")  # uid3-6 BCC1 = C3^D4^E5^F6
    assert tag.handle(h("9570C3D4E5F604")) == h("00")  # SAK: Type 2 tag
    assert tag.state is TagState.ACTIVE
    assert tag.handle(h("60")) == h("0004040201000F03")  # GET_VERSION of an NTAG213


def test_memory_pages_and_read_roll_over() -> None:
    card = Ntag213.create(UID, [ndef.UriRecord("https://example.org/x")])
    tag = selected(card)
    page0_3 = h("04A1B29F C3D4E5F6 04480000 E1101200")  # UID, BCC1 + internal + locks, CC
    assert tag.handle(h("3000")) == page0_3
    message = b"".join(ndef.message_encoder([ndef.UriRecord("https://example.org/x")]))
    assert tag.handle(h("3004"))[:16] == (bytes([0x03, len(message)]) + message + b"\xfe" + bytes(16))[:16]
    # READ 2Ch returns pages 2Ch, 00h, 01h, 02h (roll-over); config pages read as factory defaults
    assert tag.handle(h("302C")) == h("00000000 04A1B29F C3D4E5F6 04480000")
    assert tag.handle(h("3029")) == h("040000FF 00050000 00000000 00000000")


def test_read_beyond_memory_is_a_nak_and_back_to_idle() -> None:
    tag = selected(Ntag213.create(UID))
    assert tag.handle(h("302D")) == h("00")
    assert tag.state is TagState.IDLE
    assert tag.handle(h("3000")) is None  # not selected any more


def test_fast_read_does_not_roll_over() -> None:
    tag = selected(Ntag213.create(UID))
    assert tag.handle(h("3A0001")) == h("04A1B29FC3D4E5F6")
    assert tag.handle(h("3A2B2D")) == h("00")


def test_unsupported_command_is_silent_and_resets_to_idle() -> None:
    """nfcpy probes with AUTHENTICATE (1A 00), expects silence, then senses again."""
    tag = selected(Ntag213.create(UID))
    assert tag.handle(h("1A00")) is None
    assert tag.state is TagState.IDLE
    assert tag.handle(h("26")) == h("4400")


def test_halt_answers_wupa_only() -> None:
    tag = selected(Ntag213.create(UID))
    assert tag.handle(h("5000")) is None
    assert tag.state is TagState.HALT
    assert tag.handle(h("26")) is None
    assert tag.handle(h("52")) == h("4400")


def test_wrong_select_returns_to_idle() -> None:
    tag = Ntag213Responder(Ntag213.create(UID))
    tag.handle(h("26"))
    assert tag.handle(h("93708801020389")) is None
    assert tag.state is TagState.IDLE


def test_ndef_tlv_lengths_and_capacity() -> None:
    assert ndef_tlv(b"\x01\x02") == h("03020102FE")
    assert ndef_tlv(bytes(300))[:4] == h("03FF012C")  # three-byte length form
    assert memory_image(bytes.fromhex(UID), b"")[16:19] == h("0300FE")  # empty NDEF message
    with pytest.raises(ValueError, match="does not fit"):
        Ntag213.create(UID, bytes(142))
    with pytest.raises(ValueError, match="7-byte UID"):
        Ntag213.create("04A1B2C3")


def test_udp_datagrams() -> None:
    sim = NfcTagSimulator(UID)
    sim.present()
    assert sim.handle_datagram(b"106A 26", READER) == b"106A 4400"
    assert sim.handle_datagram(b"106A 9320", READER) == b"106A 8804a1b29f"
    assert sim.handle_datagram(b"106B 050010", READER) is None  # a Type A card ignores Type B polls
    assert sim.handle_datagram(b"212F 0600ffff0100", READER) is None
    assert sim.handle_datagram(b"", READER) is None  # the driver's liveness probe carries no frame
    assert sim.handle_datagram(b"RFOFF", READER) is None  # field off: the card starts over
    assert sim.handle_datagram(b"106A 9320", READER) is None
    assert sim.handle_datagram(b"106A 26", READER) == b"106A 4400"
    sim.remove()
    assert sim.handle_datagram(b"106A 26", READER) is None
    sim.close()


def test_new_reader_socket_is_a_new_field() -> None:
    """nfcpy opens a new socket per poll; a card mid-selection from an old socket starts over."""
    sim = NfcTagSimulator(UID)
    sim.present()
    assert sim.handle_datagram(b"106A 26", READER) == b"106A 4400"
    assert sim.handle_datagram(b"106A 9320", ("127.0.0.1", 40001)) is None  # IDLE after the field reset
    sim.close()


def test_dropped_replies_fault_knob_is_seeded() -> None:
    def run(seed: int) -> list[bytes | None]:
        sim = NfcTagSimulator(UID, seed=seed, faults=TagFaults(drop_rate=0.5))
        sim.present()
        replies = [sim.handle_datagram(b"106A 26", ("127.0.0.1", 40000 + i)) for i in range(40)]
        sim.close()
        return replies

    first = run(7)
    assert first == run(7)
    assert 5 < first.count(None) < 35
