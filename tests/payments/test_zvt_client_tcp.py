"""ECR client against the terminal simulator over TCP: every outcome a purchase flow depends on."""

from __future__ import annotations

import asyncio
import time

import pytest

from payments.zvt import (
    GOODS_ISSUED,
    GOODS_NOT_ISSUED,
    PLEASE_WAIT,
    Aborted,
    Approved,
    Completed,
    Declined,
    EndOfDay,
    IntermediateStatus,
    NotIssued,
    OpenPreauths,
    OutcomeUnknown,
    RefundsDisabled,
    Refused,
    Registered,
    StatusInformation,
    TerminalBusy,
    TerminalStatus,
    TerminalUnavailable,
    ZvtTimers,
    partial_issue,
)
from simulators.zvt import Outcome, Script


def answer(*answers):
    """A goods decision that returns the given answers in turn (the last one repeats); records its calls."""
    calls: list[StatusInformation] = []

    async def decide(status: StatusInformation):
        calls.append(status)
        return answers[min(len(calls), len(answers)) - 1]

    decide.calls = calls  # type: ignore[attr-defined]
    return decide


async def test_register_then_vending_payment_is_booked_once(sim, client):
    registered = await client.register()
    assert isinstance(registered, Registered) and registered.completion.terminal_id == "52500038"
    assert sim.registered
    seen = []
    decide = answer(GOODS_ISSUED)
    result = await client.authorise(1250, decide=decide, observer=seen.append)
    assert isinstance(result, Approved)
    assert (result.amount_cents, result.receipt_no, result.trace_no) == (1250, 1, 1)
    assert result.status.terminal_id == "52500038" and result.pan.endswith("*" * 6 + result.pan[-4:])
    assert "Beleg 0001  Trace 000001" in result.receipt_lines
    assert len(decide.calls) == 1
    assert isinstance(seen[0], IntermediateStatus) and seen[0].text == "insert card"
    assert [t.state for t in sim.ledger.transactions] == ["booked"]
    assert sim.ledger.charged_cents() == 1250
    assert client.availability.available is True


async def test_payment_without_decision_is_acknowledged_and_booked(sim, client):
    result = await client.authorise(500)
    assert isinstance(result, Approved) and result.amount_cents == 500
    assert sim.ledger.charged_cents() == 500


async def test_decline_by_amount_charges_nothing(sim, client):
    result = await client.authorise(1299, decide=answer(GOODS_ISSUED))
    assert isinstance(result, Declined)
    assert result.result_code == 0x05 and result.text == "declined by the card issuer"
    assert result.status is not None and result.status.amount_cents == 1299
    assert sim.ledger.transactions == [] and sim.ledger.charged_cents() == 0


async def test_scripted_card_decline_with_host_code(sim, client):
    sim.script_next(Script(Outcome.DECLINE, result_code=0x51))
    result = await client.authorise(1000)
    assert isinstance(result, Declined) and result.result_code == 0x51


async def test_goods_not_issued_makes_the_terminal_reverse(sim, client):
    result = await client.authorise(1250, decide=answer(GOODS_NOT_ISSUED))
    assert isinstance(result, NotIssued) and not result.ok
    assert result.status.receipt_no == 1 and result.result_code == 0x66
    assert sim.ledger.transactions[0].state == "reversed"
    assert sim.ledger.charged_cents() == 0


async def test_partial_issue_books_the_lower_amount(sim, client):
    result = await client.authorise(1250, decide=answer(partial_issue(700)))
    assert isinstance(result, Approved)
    assert (result.amount_cents, result.authorised_cents) == (700, 1250)
    assert sim.ledger.transactions[0].booked_cents == 700
    totals = await client.end_of_day()
    assert isinstance(totals, EndOfDay) and totals.total_cents == 700


async def test_please_wait_then_issued(sim, client):
    decide = answer(PLEASE_WAIT, PLEASE_WAIT, GOODS_ISSUED)
    result = await client.authorise(800, decide=decide)
    assert isinstance(result, Approved) and result.amount_cents == 800
    assert len(decide.calls) == 3  # the terminal repeated the status information twice
    assert sum("please wait" in event for event in sim.events) == 2
    assert sim.ledger.charged_cents() == 800


async def test_please_wait_beyond_the_bmp02_limit_ends_reversed(sim, make_client, tcp_url):
    client = make_client(tcp_url, max_status_infos=3)
    decide = answer(PLEASE_WAIT)
    result = await client.authorise(800, decide=decide)
    assert isinstance(result, NotIssued) and result.result_code == 0x6C
    assert len(decide.calls) == 3
    assert sim.ledger.transactions[0].state == "reversed"


async def test_slow_decision_is_answered_please_wait_and_awaited_again(sim, client):
    calls = 0

    async def decide(_status):
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.8)  # the door takes longer than decide_s (0.5 s)
        return GOODS_ISSUED

    result = await client.authorise(900, decide=decide)
    assert isinstance(result, Approved)
    assert calls == 1  # one decision, awaited across the terminal's repetitions
    assert any("please wait" in event for event in sim.events)


async def test_decision_that_raises_answers_not_issued(sim, client):
    async def decide(_status):
        raise RuntimeError("door controller gone")

    result = await client.authorise(900, decide=decide)
    assert isinstance(result, NotIssued)
    assert sim.ledger.transactions[0].state == "reversed"


async def test_silence_before_the_result_is_an_unknown_outcome(sim, client):
    sim.script_next(Outcome.SILENCE)
    started = time.monotonic()
    result = await client.authorise(1000)
    elapsed = time.monotonic() - started
    assert isinstance(result, OutcomeUnknown) and result.accepted and result.status is None
    assert 1.9 <= elapsed < 3.5  # T4 = 2 s in these tests
    assert sim.ledger.transactions == []
    assert client.availability.available is True  # it answered 80 00 00: up, just slow
    status = await client.status_enquiry()
    assert isinstance(status, TerminalStatus) and status.ready


async def test_intermediate_status_timeout_extends_the_deadline(sim, make_client, tcp_url):
    sim.config.prompt_timeout_s = 3
    sim.script_next(Outcome.SILENCE)
    client = make_client(tcp_url, timers=ZvtTimers(t3_ack=1.0, t4_dialogue=0.5, connect_s=1.0))
    started = time.monotonic()
    result = await client.authorise(1000)
    assert isinstance(result, OutcomeUnknown)
    assert 2.9 <= time.monotonic() - started < 4.5


@pytest.mark.parametrize(("policy", "charged"), [("reverse", 0), ("book", 1250)])
async def test_drop_after_approval_is_asked_never_charged_twice(sim, client, policy, charged):
    sim.config.on_lost_ack = policy
    sim.script_next(Outcome.DROP_AFTER_APPROVAL)
    result = await client.authorise(1250, decide=answer(GOODS_ISSUED))
    assert isinstance(result, OutcomeUnknown)
    assert result.status is not None and result.status.approved and result.status.receipt_no == 1
    # The station asks instead of paying again:
    status = await client.status_enquiry()
    assert isinstance(status, TerminalStatus) and status.ready
    totals = await client.end_of_day()
    assert isinstance(totals, EndOfDay) and totals.total_cents == charged
    assert sim.ledger.commands.count("authorisation") == 1
    assert sim.ledger.charged_cents() == charged
    assert sim.ledger.count("payment", "booked") == (1 if charged else 0)


async def test_drop_before_the_result_books_nothing(sim, client):
    sim.script_next(Outcome.DROP_BEFORE_RESULT)
    result = await client.authorise(1250)
    assert isinstance(result, OutcomeUnknown) and result.status is None
    assert sim.ledger.transactions == []


async def test_no_card_and_card_removed_abort(sim, client):
    sim.script_next(Outcome.NO_CARD, Outcome.CARD_REMOVED)
    no_card = await client.authorise(1000)
    assert isinstance(no_card, Aborted) and no_card.result_code == 0x6C
    removed = await client.authorise(1000)
    assert isinstance(removed, Aborted) and removed.result_code == 0x64
    assert sim.ledger.transactions == []


async def test_abort_while_the_terminal_waits_for_a_card(sim, client):
    sim.config.card_wait_s = 5.0
    sim.script_next(Outcome.NO_CARD)
    prompted = asyncio.Event()

    def observer(message):
        if isinstance(message, IntermediateStatus) and message.code == 0x0A:
            prompted.set()

    payment = asyncio.create_task(client.authorise(1000, observer=observer))
    await asyncio.wait_for(prompted.wait(), 2)
    assert await client.abort() is True
    started = time.monotonic()
    result = await payment
    assert isinstance(result, Aborted) and result.result_code == 0x6C
    assert time.monotonic() - started < 1.0
    assert await client.abort() is False  # nothing running any more


async def test_busy_terminal_refuses_the_command(sim, client):
    sim.busy_commands = 1
    refused = await client.authorise(1000)
    assert isinstance(refused, Refused) and refused.result_code == 0xA0
    assert isinstance(await client.authorise(1000), Approved)
    sim.script_next(Outcome.BUSY)
    assert isinstance(await client.authorise(1000), Refused)


async def test_second_caller_gets_busy_at_once(sim, client):
    sim.config.card_wait_s = 0.5
    sim.script_next(Outcome.NO_CARD)
    payment = asyncio.create_task(client.authorise(1000))
    await asyncio.sleep(0)  # let the payment take the terminal
    started = time.monotonic()
    with pytest.raises(TerminalBusy):
        await client.status_enquiry()
    assert time.monotonic() - started < 0.05
    assert client.busy
    assert isinstance(await payment, Aborted)
    assert not client.busy


async def test_registration_required_before_payments(sim, client):
    sim.config.require_registration = True
    refused = await client.authorise(1000)
    assert isinstance(refused, Refused) and refused.result_code == 0x6B
    assert isinstance(await client.register(), Registered)
    assert isinstance(await client.authorise(1000), Approved)
    assert isinstance(await client.log_off(), Completed) and not sim.registered


async def test_status_enquiry_reports_lock_states(sim, client):
    sim.lock_state = 0xE4
    status = await client.status_enquiry()
    assert isinstance(status, TerminalStatus)
    assert (status.ready, status.code, status.text) == (False, 0xE4, "terminal activation required")
    assert status.sw_version == "SIM-ZVT 1.0"
    sim.lock_state = 0
    assert (await client.status_enquiry()).ready


async def test_wrong_password_is_refused(sim, make_client, tcp_url):
    client = make_client(tcp_url, password="000000")
    refused = await client.end_of_day()
    assert isinstance(refused, Refused) and refused.result_code == 0x83


async def test_end_of_day_totals_add_up_to_what_was_booked(sim, client):
    await client.authorise(1250, decide=answer(GOODS_ISSUED))  # booked
    await client.authorise(1299)  # declined
    await client.authorise(500, decide=answer(GOODS_NOT_ISSUED))  # reversed
    await client.authorise(2000, decide=answer(partial_issue(1500)))  # 1500 booked
    paid = await client.authorise(300)
    assert isinstance(paid, Approved)
    assert isinstance(await client.reverse(paid.receipt_no), Approved)
    totals = await client.end_of_day()
    assert isinstance(totals, EndOfDay)
    assert totals.total_cents == 2750 == sim.ledger.charged_cents()
    assert totals.count == 2 and sum(cents for _n, cents in totals.by_card.values()) == 2750
    assert any(line.startswith("Summe") for line in totals.receipt_lines)
    again = await client.end_of_day()
    assert again.total_cents == 0 and again.count == 0


async def test_preauthorisation_lifecycle(sim, client):
    held = await client.preauthorise(3000)
    assert isinstance(held, Approved) and held.receipt_no == 1
    open_list = await client.enquire_open_preauths()
    assert isinstance(open_list, OpenPreauths)
    assert [(p.receipt_no, p.amount_cents) for p in open_list.items] == [(1, 3000)]
    booked = await client.book_total(held.receipt_no, 1250)
    assert isinstance(booked, Approved) and booked.amount_cents == 1250
    assert (await client.enquire_open_preauths()).items == ()

    second = await client.preauthorise(2000)
    assert isinstance(await client.partial_reversal(second.receipt_no, 500), Approved)
    third = await client.preauthorise(1000)
    assert isinstance(await client.preauth_reversal(third.receipt_no), Approved)
    assert sim.ledger.find(third.receipt_no, "preauth").state == "reversed"

    unknown = await client.book_total(77, 100)
    assert isinstance(unknown, Aborted) and unknown.result_code == 0xB8
    fourth = await client.preauthorise(1000)
    too_much = await client.book_total(fourth.receipt_no, 1001)
    assert isinstance(too_much, Aborted) and too_much.result_code == 0xB7
    totals = await client.end_of_day()
    assert totals.total_cents == 1250 + 1500


async def test_reversal_and_already_reversed(sim, client):
    paid = await client.authorise(1000)
    reversed_ = await client.reverse(paid.receipt_no)
    assert isinstance(reversed_, Approved) and reversed_.amount_cents == 1000
    again = await client.reverse(paid.receipt_no)
    assert isinstance(again, Aborted) and again.result_code == 0xB4
    assert sim.ledger.charged_cents() == 0


async def test_refunds_are_refused_locally_unless_enabled(sim, client, make_client, tcp_url):
    with pytest.raises(RefundsDisabled):
        await client.refund(500)
    assert sim.ledger.commands == []
    enabled = make_client(tcp_url, refunds_enabled=True)
    await enabled.authorise(2000)
    assert isinstance(await enabled.refund(500), Approved)
    assert (await enabled.end_of_day()).total_cents == 1500


async def test_bad_arguments_are_refused_before_anything_is_sent(sim, client):
    for bad in (0, -5, 12.5, True):
        with pytest.raises(ValueError):
            await client.authorise(bad)
    assert sim.ledger.commands == []


async def test_unreachable_terminal(make_client):
    client = make_client("tcp://127.0.0.1:1")
    with pytest.raises(TerminalUnavailable):
        await client.authorise(1000)
    assert client.availability.available is False
    assert not client.busy


async def test_split_tcp_writes_are_reassembled(sim, client):
    sim.tcp_faults.split = 100
    result = await client.authorise(1250, decide=answer(GOODS_ISSUED))
    assert isinstance(result, Approved) and result.amount_cents == 1250
    assert sim.tcp_faults.split < 100
