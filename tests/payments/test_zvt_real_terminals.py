"""Real terminal messages through the whole client: simulator replays and scripted terminals over TCP.

The point of issue #10: a message with an odd informational field is acknowledged `80 00 00` and
the sale keeps its money outcome; only broken framing is answered `84 9A 00`, and then the result
code already read still tells a decline from a possible approval.
"""

from __future__ import annotations

import logging

from payments.zvt import (
    GOODS_ISSUED,
    PLEASE_WAIT,
    Approved,
    Declined,
    GoodsAnswer,
    OpenPreauth,
    OpenPreauths,
    OutcomeUnknown,
    StatusInformation,
    commands,
)
from simulators.zvt import Outcome, Script

from . import zvt_vectors as v
from .conftest import h, replay, until

ACK = h("80 00 00")


def answers(*goods: GoodsAnswer):
    """A goods decision answering `goods` in turn (the last one repeats)."""
    calls: list[StatusInformation] = []

    async def decide(status: StatusInformation) -> GoodsAnswer:
        calls.append(status)
        return goods[min(len(calls), len(goods)) - 1]

    return decide


# --- the ecrterm approval (PAN with a track-2 separator) ----------------------------------------------


async def test_ecrterm_approval_through_the_simulator_is_approved_and_acknowledged(sim, client):
    sim.script_next(Script(Outcome.APPROVE, status_apdu=v.ECRTERM_APPROVAL))
    result = await client.authorise(4000, decide=answers(GOODS_ISSUED))
    assert isinstance(result, Approved), result.describe()
    assert (result.amount_cents, result.receipt_no, result.trace_no, result.pan) == (4000, 175, 613995, "5966666666")
    assert result.status.warnings and "track-2 separator" in result.status.warnings[0]
    # every APDU the station sent after its command was 80 00 00: the approval was acknowledged
    assert sim.received[0] == commands.authorisation(4000, max_status_infos=10)
    assert set(sim.received[1:]) == {ACK}
    txn = sim.ledger.transactions[0]
    assert (txn.state, txn.receipt_no, txn.trace_no, txn.booked_cents) == ("booked", 175, 613995, 4000)


async def test_ecrterm_approval_without_goods_decision(sim, client):
    sim.script_next(Script(Outcome.APPROVE, status_apdu=v.ECRTERM_APPROVAL))
    result = await client.authorise(4000)
    assert isinstance(result, Approved) and (result.receipt_no, result.trace_no) == (175, 613995)
    assert set(sim.received[1:]) == {ACK}
    assert sim.ledger.charged_cents() == 4000


async def test_warning_of_a_repeated_status_information_is_logged_once(sim, client, caplog):
    sim.script_next(Script(Outcome.APPROVE, status_apdu=v.ECRTERM_APPROVAL))
    with caplog.at_level(logging.WARNING, logger="payments.zvt.dialogue"):
        result = await client.authorise(4000, decide=answers(PLEASE_WAIT, PLEASE_WAIT, GOODS_ISSUED))
    assert isinstance(result, Approved)
    assert sim.received.count(h("84 9C 00")) == 2  # the terminal sent the same 04 0F three times
    assert sum("track-2 separator" in r.getMessage() for r in caplog.records) == 1


async def test_portalum_rejected_card_through_the_simulator_is_declined(sim, client):
    sim.script_next(Script(Outcome.DECLINE, result_code=0x05, status_apdu=v.PORTALUM_CARD_REJECTED))
    result = await client.authorise(1000, decide=answers(GOODS_ISSUED))
    assert isinstance(result, Declined) and result.result_code == 0x05
    assert result.status is not None and result.status.additional_text == "Abgelehnt"
    assert set(sim.received[1:]) == {ACK}
    assert sim.ledger.transactions == []


# --- shapes that used to be refused, scripted byte by byte ----------------------------------------


async def test_completion_with_status_byte_06_ends_an_approved_payment(fake_terminal, make_client):
    url, received = await fake_terminal(replay(ACK + h("04 0F 09 27 00 87 00 42 0B 00 00 07"), v.COMPLETION_STATUS_06))
    result = await make_client(url).authorise(1000)
    assert isinstance(result, Approved) and (result.receipt_no, result.trace_no) == (42, 7)
    await until(lambda: len(received) == 3)
    assert received == [commands.authorisation(1000), ACK, ACK]


async def test_open_preauth_enquiry_answered_with_one_receipt(fake_terminal, make_client):
    url, received = await fake_terminal(replay(ACK + v.OPEN_PREAUTH_0123))
    result = await make_client(url).enquire_open_preauths()
    assert result == OpenPreauths(None, items=(OpenPreauth(123, None, None),))
    await until(lambda: len(received) == 2)
    assert received == [h("06 23 03 87 FF FF"), ACK]


async def test_open_preauth_enquiry_answered_with_none(fake_terminal, make_client):
    url, received = await fake_terminal(replay(ACK + v.EVEREST_NO_OPEN_PREAUTH))
    result = await make_client(url).enquire_open_preauths()
    assert isinstance(result, OpenPreauths) and result.items == ()
    await until(lambda: len(received) == 2)
    assert received[1] == ACK


async def test_open_preauth_enquiry_against_a_feig_style_simulator(sim, client):
    sim.config.preauth_enquiry = "abort"
    reserved = await client.preauthorise(3000)
    assert isinstance(reserved, Approved)
    found = await client.enquire_open_preauths()
    assert isinstance(found, OpenPreauths) and [p.receipt_no for p in found.items] == [reserved.receipt_no]
    assert reserved.receipt_no is not None
    assert (await client.preauth_reversal(reserved.receipt_no)).ok
    after = await client.enquire_open_preauths()
    assert isinstance(after, OpenPreauths) and after.items == ()


async def test_print_lines_with_tlv_reach_the_receipt_without_it(fake_terminal, make_client):
    lines = (v.PORTALUM_LINE_MERCHANT_TITLE, v.PORTALUM_LINE_CUSTOMER_TERMINAL_ID, v.PORTALUM_LINE_EMPTY_WITH_TLV)
    url, received = await fake_terminal(replay(ACK + h("04 0F 02 27 00"), *lines, h("06 0F 00")))
    result = await make_client(url).authorise(1000)
    assert isinstance(result, Approved)
    assert result.receipt_lines == ("** H\u2500NDLERBELEG **", "Terminal-ID:    28004869", "")
    await until(lambda: len(received) == 6)
    assert received[1:] == [ACK] * 5


# --- broken framing: refused, and the money fields read so far still count ---------------------------


async def test_unreadable_decline_is_still_a_decline(fake_terminal, make_client):
    broken = h("04 0F 0C 27 05 04 00 00 00 00 12 50 99 01 02")  # BMP 99: length unknowable
    url, received = await fake_terminal(replay(ACK + broken, h("06 1E 01 05")))
    result = await make_client(url).authorise(1250)
    assert isinstance(result, Declined) and result.result_code == 0x05
    assert result.status is not None and result.status.amount_cents == 1250
    await until(lambda: len(received) == 3)
    assert received[1:] == [h("84 9A 00"), ACK]


async def test_unreadable_approval_is_unknown_but_names_its_receipt(fake_terminal, make_client):
    broken = h("04 0F 0B 27 00 87 00 42 04 00 00 00 00 10")  # amount cut short
    url, received = await fake_terminal(replay(ACK + broken, h("06 1E 01 6C")))
    result = await make_client(url).authorise(1000)
    assert isinstance(result, OutcomeUnknown) and "unreadable status information" in result.reason
    assert result.status is not None and (result.status.result_code, result.status.receipt_no) == (0, 42)
    await until(lambda: len(received) == 3)
    assert received[1:] == [h("84 9A 00"), ACK]
