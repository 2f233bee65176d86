"""Fuzzing issue #10: random informational fields never change a money outcome.

A status information is built by hand from money fields (result code, amount, currency, receipt,
trace) plus random informational BMPs in random order: random bytes in the PAN, card name, AID,
texts, dates and terminal id, a TLV container holding random bytes, random tags or a random
character set, and BMPs we do not use. Framing is always correct (the lengths are right), so the
client must acknowledge `80 00 00` and return exactly the money outcome the money fields say.
The terminal is in memory: each example is a full `ZvtClient.authorise` dialogue.
"""

from __future__ import annotations

import asyncio
import collections

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.zvt import GOODS_ISSUED, Approved, Declined, ZvtClient, ZvtSettings
from payments.zvt.errors import LinkError
from payments.zvt.transport import ZvtTransport

from .conftest import FAST_TIMERS

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ACK = b"\x80\x00\x00"


class InMemoryTerminal(ZvtTransport):
    """A terminal in memory: after each APDU the station sends, the next batch of replies is readable."""

    url = "memory://terminal"

    def __init__(self, batches: list[list[bytes]]) -> None:
        self.batches = collections.deque(batches)
        self.inbox: collections.deque[bytes] = collections.deque()
        self.sent: list[bytes] = []
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False

    async def send(self, apdu: bytes, deadline: float) -> None:
        self.sent.append(apdu)
        if self.batches:
            self.inbox.extend(self.batches.popleft())

    async def receive(self, deadline: float) -> bytes:
        if not self.inbox:
            raise LinkError("the scripted terminal has nothing more to say")
        return self.inbox.popleft()


# --- hand-written framing (independent of the codec under test) ---------------------------------


def var_length(size: int, digits: int) -> bytes:
    return bytes(0xF0 | int(d) for d in str(size).zfill(digits))


def ber(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    return bytes([0x81, size]) if size <= 0xFF else bytes([0x82, size >> 8, size & 0xFF])


def apdu(cls: int, ins: int, data: bytes) -> bytes:
    length = bytes([len(data)]) if len(data) < 0xFF else b"\xff" + len(data).to_bytes(2, "little")
    return bytes([cls, ins]) + length + data


def bcd(value: int, size: int) -> bytes:
    return bytes.fromhex(str(value).zfill(2 * size))


# --- random informational BMPs -----------------------------------------------------------------------


def fixed(tag: int, size: int):
    return st.binary(min_size=size, max_size=size).map(lambda raw: bytes([tag]) + raw)


def llvar(tag: int, max_size: int):
    return st.binary(max_size=max_size).map(lambda raw: bytes([tag]) + var_length(len(raw), 2) + raw)


def lllvar(tag: int, max_size: int):
    return st.binary(max_size=max_size).map(lambda raw: bytes([tag]) + var_length(len(raw), 3) + raw)


@st.composite
def tlv_item(draw) -> bytes:
    """One well-framed TLV item with a random (possibly unknown, possibly "constructed") tag."""
    first = draw(st.integers(0, 255))
    tag = bytes([first])
    if first & 0x1F == 0x1F:
        tag += bytes([draw(st.integers(0, 0x7F))])
    value = draw(st.binary(max_size=40))
    return tag + ber(len(value)) + value


def charset_item():
    return st.integers(0, 255).map(lambda code: bytes([0x14, 0x01, code]))


tlv_content = st.one_of(
    st.binary(max_size=200),  # random bytes
    st.lists(st.one_of(tlv_item(), charset_item()), max_size=5).map(b"".join),  # random and charset tags
)
tlv_container = tlv_content.map(lambda content: b"\x06" + ber(len(content)) + content)

informational = st.one_of(
    llvar(0x22, 20),  # PAN
    llvar(0x8B, 40),  # card name
    lllvar(0x3C, 300),  # additional text
    fixed(0x2A, 15),  # VU number
    fixed(0x3B, 8),  # AID
    fixed(0x29, 4),  # terminal id
    fixed(0x0C, 3),
    fixed(0x0D, 2),
    fixed(0x0E, 2),
    fixed(0xAA, 3),  # time, date, expiry, date YYMMDD
    fixed(0x17, 2),  # card sequence number
    fixed(0x88, 3),  # turnover record number
    fixed(0x19, 1),
    fixed(0x8A, 1),
    fixed(0x8C, 1),
    fixed(0xA0, 1),  # payment type, card types, host result
    lllvar(0x60, 60),  # individual totals
    llvar(0x23, 37),  # track 2
    fixed(0x70, 4),
    fixed(0xFD, 1),  # BMPs we do not use, length known from the spec table
    tlv_container,
)


@st.composite
def status_information(draw, result_code):
    """(APDU, money fields) of a status information with random informational BMPs."""
    money = {
        "result_code": draw(result_code),
        "amount_cents": draw(st.integers(1, 99_999_999)),
        "receipt_no": draw(st.integers(0, 9999)),
        "trace_no": draw(st.integers(0, 999_999)),
    }
    bmps = [
        bytes([0x27, money["result_code"]]),
        b"\x04" + bcd(money["amount_cents"], 6),
        b"\x49" + bcd(978, 2),
        b"\x87" + bcd(money["receipt_no"], 2),
        b"\x0b" + bcd(money["trace_no"], 3),
    ]
    bmps += draw(st.lists(informational, min_size=1, max_size=6))
    return apdu(0x04, 0x0F, b"".join(draw(st.permutations(bmps)))), money


async def decide_issued(_status):
    return GOODS_ISSUED


def authorise(terminal: InMemoryTerminal, amount: int):
    async def run():
        client = ZvtClient(ZvtSettings(url=terminal.url, timers=FAST_TIMERS), transport=terminal)
        return await client.authorise(amount, decide=decide_issued)

    return asyncio.run(run())


def check_approval_stays_approved(raw: bytes, money: dict) -> None:
    terminal = InMemoryTerminal([[ACK, raw], [b"\x06\x0f\x00"]])
    result = authorise(terminal, money["amount_cents"])
    assert isinstance(result, Approved), result.describe()
    assert (result.amount_cents, result.receipt_no, result.trace_no) == (
        money["amount_cents"],
        money["receipt_no"],
        money["trace_no"],
    )
    assert terminal.sent[1:] == [ACK, ACK]  # the approval (goods issued) and the completion


def check_decline_stays_declined(raw: bytes, money: dict) -> None:
    terminal = InMemoryTerminal([[ACK, raw], [bytes([0x06, 0x1E, 0x01, money["result_code"]])]])
    result = authorise(terminal, money["amount_cents"])
    assert isinstance(result, Declined), result.describe()
    assert result.result_code == money["result_code"]
    assert terminal.sent[1:] == [ACK, ACK]


@FAST
@given(status_information(st.just(0)))
def test_random_informational_fields_never_change_an_approval(case):
    check_approval_stays_approved(*case)


@FAST
@given(status_information(st.integers(1, 255)))
def test_random_informational_fields_never_change_a_decline(case):
    check_decline_stays_declined(*case)


@pytest.mark.slow
@MANY
@given(status_information(st.just(0)))
def test_random_informational_fields_never_change_an_approval_many(case):
    check_approval_stays_approved(*case)


@pytest.mark.slow
@MANY
@given(status_information(st.integers(1, 255)))
def test_random_informational_fields_never_change_a_decline_many(case):
    check_decline_stays_declined(*case)
