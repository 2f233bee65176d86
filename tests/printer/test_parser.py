"""The simulator's ESC/POS parser and transcripts: any chunking, unknown commands, real-time status."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.printer import EscPosParser, transcribe
from simulators.printer.server import _realtime_queries


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


# Written by hand from the Epson command reference, not by python-escpos.
JOB = (
    hx("1B 40 1B 74 13")  # init, code page 19
    + hx("1B 61 01 1B 45 01")  # centre, bold
    + "Grüße".encode("cp858") + hx("0A")
    + hx("1B 45 00 1B 61 00")
    + b"Summe 3,49 " + hx("D5 0A")
    + hx("1D 21 11") + b"GROSS" + hx("0A") + hx("1D 21 00")  # GS ! 2x2, then normal
    + hx("1D 68 50 1D 77 02 1D 6B 02") + b"2900471101757" + hx("00")  # EAN-13, m = 2 form
    + hx("1D 6B 49 05") + b"AB-12"  # CODE128, m = 73 form with a length byte
    + hx("1D 28 6B 04 00 31 41 32 00 1D 28 6B 03 00 31 43 05 1D 28 6B 03 00 31 45 31")
    + hx("1D 28 6B 0B 00 31 50 30") + b"https://" + hx("1D 28 6B 03 00 31 51 30")
    + hx("1D 76 30 00 02 00 03 00") + hx("10 04 01 FF FF 00")  # raster 16 x 3 dots: data may hold 10 04
    + hx("1B 64 03 1D 56 41 10")  # feed 3, feed-and-cut with n
)  # fmt: skip


def _ops(data: bytes, sizes: list[int]) -> list[tuple[str, tuple[int, ...], bytes]]:
    parser = EscPosParser()
    ops = []
    position = 0
    for size in [*sizes, len(data)]:
        ops += parser.feed(data[position : position + size])
        position += size
    ops += parser.flush()
    merged: list[tuple[str, tuple[int, ...], bytes]] = []
    for op in ops:
        if op.name == "text" and merged and merged[-1][0] == "text":  # text may arrive in pieces
            merged[-1] = ("text", (), merged[-1][2] + op.data)
        else:
            merged.append((op.name, op.args, op.data))
    return merged


def test_transcript_of_a_hand_written_job() -> None:
    [job] = transcribe(JOB)
    assert job.lines == [
        "[init]",
        "[codepage 19]",
        "[align center]",
        "[bold on]",
        "Grüße",
        "[bold off]",
        "[align left]",
        "Summe 3,49 €",
        "[size 2x2]",
        "GROSS",
        "[size 1x1]",
        "[barcode EAN13 2900471101757]",
        "[barcode CODE128 AB-12]",
        "[qr https://]",
        "[image 16 x 3]",
        "[feed 3]",
        "[feed 16 dots]",
        "[cut full]",
    ]
    assert job.text == ["Grüße", "Summe 3,49 €", "GROSS"]
    assert job.text_lines[0].align == "center" and job.text_lines[0].bold
    assert job.text_lines[2].size == (2, 2)
    ean = job.barcodes[0]
    assert (ean.system, ean.data, ean.height, ean.width) == ("EAN13", "2900471101757", 0x50, 2)
    assert [(q.data, q.module_size, q.error_correction) for q in job.qr_codes] == [("https://", 5, "M")]
    assert job.cuts == ["full"] and job.unknown == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 12), max_size=40))
def test_chunking_never_changes_the_operations(sizes: list[int]) -> None:
    assert _ops(JOB, sizes) == _ops(JOB, [])


def test_unknown_commands_are_recorded_and_parsing_goes_on() -> None:
    [job] = transcribe(hx("1B 40 1B 99") + b"weiter" + hx("0A 1D FE 07") + b"ok" + hx("0A"))
    assert job.unknown == [hx("1B 99"), hx("1D FE"), hx("07")]
    assert job.text == ["weiter", "ok"]
    assert "[unknown 1B 99]" in job.lines


def test_a_truncated_command_is_reported_at_the_end() -> None:
    [job] = transcribe(b"abc" + hx("0A 1D 28 6B 20 00 31"))
    assert job.text == ["abc"] and job.unknown == [hx("1D 28 6B 20 00 31")]
    assert job.lines[-1].startswith("[truncated 1D 28 6B")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_parser(data: bytes) -> None:
    jobs = transcribe(data)
    assert sum(len(job.raw) for job in jobs) <= len(data)


def test_status_queries_and_init_separate_jobs() -> None:
    jobs = transcribe(hx("1B 40") + b"eins" + hx("0A 10 04 01 10 04 04") + hx("1B 40") + b"zwei\n" + hx("1B 40") + b"3")
    assert [job.text for job in jobs] == [["eins"], ["zwei"], ["3"]]


def test_realtime_status_found_once_even_when_split_across_chunks() -> None:
    stream = hx("10 04 01") + b"text" + hx("10 04 04 10 04 02")
    for cut in range(len(stream) + 1):
        first, tail = _realtime_queries(b"", stream[:cut])
        second, _ = _realtime_queries(tail, stream[cut:])
        assert first + second == [1, 4, 2], cut
    assert _realtime_queries(b"", hx("10 04 05 10 04 00"))[0] == []  # only n = 1-4 are status queries
