"""Printer faults never block a sale: paper out, a silent printer, paper near end, an old backlog, a reconnect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from simulators.printer import PrinterSimulator
from station.printing.service import SUBJECT
from tests.returns.conftest import Rig
from tests.returns.test_credit import buy


def alarms(rig: Rig) -> list[tuple[str, str]]:
    return rig.sql("SELECT kind, state FROM alarms WHERE subject = ? ORDER BY id", SUBJECT)


def jobs(rig: Rig) -> list[tuple[str, int]]:
    return rig.sql("SELECT state, attempts FROM print_jobs ORDER BY created_at")


async def queries_after(rig: Rig, printer: PrinterSimulator, rounds: int) -> None:
    """Wait until the print queue ran `rounds` whole cycles after now (each asked the printer, looked at the queue).

    A cycle that was already running when woken may have asked before the change: two completions after
    the wake include one that started after it.
    """
    service = rig.station.printing
    asked = len(printer.status_queries)
    for _ in range(rounds):
        service.wake()
        done = service.cycles + 2
        await rig.until(lambda done=done: service.cycles >= done, what="a print queue cycle")
    assert len(printer.status_queries) > asked


async def test_paper_out_alarms_the_sale_goes_on_digitally_and_the_queue_resumes_once(shop_rig: Rig) -> None:
    printer = shop_rig.printer
    printer.set_faults(paper="out")
    await queries_after(shop_rig, printer, 1)
    await shop_rig.until(lambda: ("printer.paper_out", "raised") in alarms(shop_rig), what="paper-out alarm")

    sale = await buy(shop_rig, [2], [])
    assert sale["state"] == "done" and sale["receipt_url"]  # the sale did not wait for paper
    page = await shop_rig.http.get(f"/api/receipts/{sale['receipt_id']}")
    assert page.status_code == 200 and "Bauernbrot 750 g" in page.text and "4,20 €" in page.text
    await queries_after(shop_rig, printer, 2)
    assert jobs(shop_rig) == [("queued", jobs(shop_rig)[0][1])] and printer.printed_jobs == []
    health = shop_rig.station.printing.health()
    assert (str(health.status), health.detail["fault"]) == ("degraded", "paper_out")

    printer.replace_paper()
    shop_rig.station.printing.wake()
    await printer.wait_jobs(1, timeout=5)
    await shop_rig.until(lambda: jobs(shop_rig)[0][0] == "printed", what="job printed")
    assert any("Bauernbrot 750 g" in line for line in printer.jobs[0].text)
    await shop_rig.until(lambda: alarms(shop_rig) == [("printer.paper_out", "cleared")], what="alarm cleared")

    printer.drop_connections()  # a network printer restarting: the station reconnects and must not reprint
    await queries_after(shop_rig, printer, 2)
    assert len(printer.jobs) == 1 and jobs(shop_rig) == [("printed", jobs(shop_rig)[0][1])]


async def test_no_status_reply_is_a_fault_never_ok(shop_rig: Rig) -> None:
    printer = shop_rig.printer
    printer.set_faults(reply="silent")  # power off: no byte at all
    sale = await buy(shop_rig, [2], [])
    assert sale["state"] == "done"
    await queries_after(shop_rig, printer, 1)
    await shop_rig.until(lambda: ("printer.no_answer", "raised") in alarms(shop_rig), what="no-answer alarm")
    health = shop_rig.station.printing.health()
    assert (str(health.status), health.detail["fault"]) == ("degraded", "no_answer")
    assert jobs(shop_rig)[0][0] == "queued" and printer.jobs == []  # never taken as printed

    printer.set_faults(reply="garbage")  # bytes that are not status bytes: still not "ok"
    await queries_after(shop_rig, printer, 1)
    assert jobs(shop_rig)[0][0] == "queued" and printer.jobs == []

    printer.set_faults(reply="normal")
    shop_rig.station.printing.wake()
    await printer.wait_jobs(1, timeout=5)
    await shop_rig.until(lambda: jobs(shop_rig)[0][0] == "printed", what="printed once the printer answers")
    await shop_rig.until(lambda: ("printer.no_answer", "cleared") in alarms(shop_rig), what="cleared")


async def test_paper_near_end_is_a_task_while_printing_goes_on(shop_rig: Rig) -> None:
    shop_rig.printer.set_faults(paper="near_end")
    sale = await buy(shop_rig, [2], [])
    await shop_rig.printer.wait_jobs(1, timeout=5)
    await shop_rig.until(lambda: jobs(shop_rig) == [("printed", 0)], what="printed")
    assert ("printer.paper_near_end", "raised") in alarms(shop_rig) and sale["state"] == "done"


async def test_an_old_backlog_expires_instead_of_printing_for_nobody(shop_rig: Rig) -> None:
    printer = shop_rig.printer
    printer.set_faults(cover_open=True)
    await buy(shop_rig, [2], [])
    await shop_rig.until(lambda: ("printer.cover_open", "raised") in alarms(shop_rig), what="cover alarm")
    old = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="microseconds")
    shop_rig.sql_write("UPDATE print_jobs SET created_at = ?", old)  # an hour passes with the cover open
    printer.set_faults(cover_open=False)
    await queries_after(shop_rig, printer, 2)
    assert jobs(shop_rig)[0][0] == "expired" and printer.jobs == []
    assert ("printer.cover_open", "cleared") in alarms(shop_rig)
