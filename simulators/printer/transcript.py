"""Turn parsed ESC/POS operations into readable per-job transcripts that tests assert on.

A transcript is a list of lines: printed text as it would appear (decoded from the selected
code page), and bracketed markers for everything else: `[init]`, `[codepage 19]`,
`[align center]`, `[bold on]`, `[size 2x2]`, `[barcode EAN13 2900471101757]`,
`[qr https://…]`, `[feed 6]`, `[cut full]`, `[unknown 1B 99]`. Markers appear only when a
setting actually changes. A job starts with the first operation after a status query (or an
`ESC @` after printed content) and ends at the next status query, `ESC @` or disconnect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .escpos import EscPosParser, Op

BARCODE_SYSTEMS = {
    0: "UPC-A", 1: "UPC-E", 2: "EAN13", 3: "EAN8", 4: "CODE39", 5: "ITF", 6: "CODABAR",
    65: "UPC-A", 66: "UPC-E", 67: "EAN13", 68: "EAN8", 69: "CODE39", 70: "ITF", 71: "CODABAR",
    72: "CODE93", 73: "CODE128",
}  # fmt: skip
# ESC t n -> Python codec (Epson numbering; 19 = PC858, the Euro variant of PC850)
CODE_PAGES = {0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252", 17: "cp866", 19: "cp858"}
_ALIGN = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}
_QR_EC = {0x30: "L", 0x31: "M", 0x32: "Q", 0x33: "H"}
_PRINTED = {"text", "newline", "feed_lines", "feed_dots", "barcode", "cut", "raster_image", "bit_image"}


@dataclass(frozen=True)
class TextLine:
    """One printed line of text with the style it was printed in."""

    text: str
    align: str = "left"
    bold: bool = False
    size: tuple[int, int] = (1, 1)  # width, height multipliers
    underline: bool = False


@dataclass(frozen=True)
class Barcode:
    system: str
    data: str
    height: int
    width: int


@dataclass(frozen=True)
class QrCode:
    data: str
    module_size: int
    error_correction: str


@dataclass
class Job:
    """What the printer received between two status rounds; `printed` is False if it could not print it."""

    number: int
    lines: list[str] = field(default_factory=list)
    text_lines: list[TextLine] = field(default_factory=list)
    barcodes: list[Barcode] = field(default_factory=list)
    qr_codes: list[QrCode] = field(default_factory=list)
    cuts: list[str] = field(default_factory=list)
    unknown: list[bytes] = field(default_factory=list)
    raw: bytearray = field(default_factory=bytearray)
    printed: bool = True
    printed_anything: bool = False

    @property
    def text(self) -> list[str]:
        """The printed text lines, without markers."""
        return [line.text for line in self.text_lines]

    def transcript(self) -> str:
        return "\n".join(self.lines)


@dataclass
class _Style:
    codepage: int = 0
    align: str = "left"
    bold: bool = False
    size: tuple[int, int] = (1, 1)
    underline: bool = False
    barcode_height: int = 162
    barcode_width: int = 3
    qr_size: int = 3
    qr_ec: str = "L"
    qr_data: bytes = b""


class TranscriptBuilder:
    """Printer state and the job being received on one connection."""

    def __init__(self, on_job: Callable[[Job], None], next_number: Callable[[], int]) -> None:
        self._on_job = on_job
        self._next_number = next_number
        self._style = _Style()
        self._line = ""
        self.job: Job | None = None

    def apply(self, op: Op) -> Job | None:
        """Apply one operation; returns the job it belongs to (None for a status query)."""
        if op.name == "status_query":
            self.end_job()
            return None
        if op.name == "init" and self.job is not None and self.job.printed_anything:
            self.end_job()
        job = self.job
        if job is None:
            job = self.job = Job(self._next_number())
        job.raw += op.raw
        job.printed_anything |= op.name in _PRINTED
        handler = _HANDLERS.get(op.name, TranscriptBuilder._other)
        handler(self, job, op)
        return job

    def end_job(self) -> None:
        """Close the current job (text not ended by LF is printed first, as a printer does before a cut)."""
        job, self.job = self.job, None
        if job is None:
            return
        self._flush_line(job)
        self._on_job(job)

    # ---- handlers ------------------------------------------------------------------------

    def _text(self, job: Job, op: Op) -> None:
        codec = CODE_PAGES.get(self._style.codepage, "latin-1")
        self._line += op.data.decode(codec, errors="replace")

    def _newline(self, job: Job, op: Op) -> None:
        self._emit_line(job)

    def _init(self, job: Job, op: Op) -> None:
        self._flush_line(job)
        self._style = _Style()
        job.lines.append("[init]")

    def _codepage(self, job: Job, op: Op) -> None:
        page = op.args[0]
        known = "" if page in CODE_PAGES else " (unknown)"
        self._set(job, "codepage", page, f"[codepage {page}{known}]")

    def _bold(self, job: Job, op: Op) -> None:
        self._set(job, "bold", bool(op.args[0] & 1), f"[bold {'on' if op.args[0] & 1 else 'off'}]")

    def _align(self, job: Job, op: Op) -> None:
        align = _ALIGN.get(op.args[0], f"?{op.args[0]}")
        self._set(job, "align", align, f"[align {align}]")

    def _underline(self, job: Job, op: Op) -> None:
        on = op.args[0] in (1, 2, 49, 50)
        self._set(job, "underline", on, f"[underline {'on' if on else 'off'}]")

    def _print_mode(self, job: Job, op: Op) -> None:
        """ESC ! n: bit 3 emphasized, bit 4 double height, bit 5 double width, bit 7 underline."""
        n = op.args[0]
        self._set(job, "bold", bool(n & 0x08), f"[bold {'on' if n & 0x08 else 'off'}]")
        size = (2 if n & 0x20 else 1, 2 if n & 0x10 else 1)
        self._set(job, "size", size, f"[size {size[0]}x{size[1]}]")
        self._set(job, "underline", bool(n & 0x80), f"[underline {'on' if n & 0x80 else 'off'}]")

    def _char_size(self, job: Job, op: Op) -> None:
        size = ((op.args[0] >> 4) + 1, (op.args[0] & 0x0F) + 1)
        self._set(job, "size", size, f"[size {size[0]}x{size[1]}]")

    def _barcode_setting(self, job: Job, op: Op) -> None:
        if op.name == "barcode_height":
            self._style.barcode_height = op.args[0]
        elif op.name == "barcode_width":
            self._style.barcode_width = op.args[0]

    def _barcode(self, job: Job, op: Op) -> None:
        self._flush_line(job)
        system = BARCODE_SYSTEMS.get(op.args[0], f"system-{op.args[0]}")
        data = op.data.decode("ascii", errors="replace")
        job.barcodes.append(Barcode(system, data, self._style.barcode_height, self._style.barcode_width))
        job.lines.append(f"[barcode {system} {data}]")

    def _code_2d(self, job: Job, op: Op) -> None:
        """GS ( k cn fn …: only QR (cn = 0x31) is kept; storing data, then printing it."""
        body = op.data
        if len(body) < 2 or body[0] != 0x31:
            job.lines.append(f"[2d code {body[:2].hex(' ').upper()}]")
            return
        function, params = body[1], body[2:]
        if function == 0x43 and params:
            self._style.qr_size = params[0]
        elif function == 0x45 and params:
            self._style.qr_ec = _QR_EC.get(params[0], "?")
        elif function == 0x50 and params:
            self._style.qr_data = params[1:]  # params[0] is m = '0'
        elif function == 0x51:
            self._flush_line(job)
            data = self._style.qr_data.decode("utf-8", errors="replace")
            job.qr_codes.append(QrCode(data, self._style.qr_size, self._style.qr_ec))
            job.lines.append(f"[qr {data}]")
            job.printed_anything = True

    def _feed(self, job: Job, op: Op) -> None:
        self._flush_line(job)
        unit = "" if op.name == "feed_lines" else " dots"
        job.lines.append(f"[feed {op.args[0]}{unit}]")

    def _cut(self, job: Job, op: Op) -> None:
        self._flush_line(job)
        mode = op.args[0]
        if len(op.args) > 1 and mode in (65, 66):
            job.lines.append(f"[feed {op.args[1]} dots]")
        kind = "full" if mode in (0, 48, 65, 97, 103) else "partial"
        job.cuts.append(kind)
        job.lines.append(f"[cut {kind}]")

    def _legacy_cut(self, job: Job, op: Op) -> None:
        self._flush_line(job)
        kind = "full" if op.name.endswith("full") else "partial"
        job.cuts.append(kind)
        job.lines.append(f"[cut {kind}]")

    def _image(self, job: Job, op: Op) -> None:
        self._flush_line(job)
        job.lines.append(f"[image {' x '.join(str(a) for a in op.args)}]" if op.args else "[image]")

    def _unknown(self, job: Job, op: Op) -> None:
        job.unknown.append(op.raw)
        job.lines.append(f"[{op.name} {op.raw[:8].hex(' ').upper()}]")

    def _other(self, job: Job, op: Op) -> None:
        """Known commands that change nothing a receipt test looks at (font, spacing, drawer, …)."""
        args = " ".join(str(a) for a in op.args)
        job.lines.append(f"[{op.name}{' ' + args if args else ''}]")

    # ---- helpers ---------------------------------------------------------------------------

    def _set(self, job: Job, attribute: str, value: object, marker: str) -> None:
        if getattr(self._style, attribute) != value:
            self._flush_line(job)
            setattr(self._style, attribute, value)
            job.lines.append(marker)

    def _flush_line(self, job: Job) -> None:
        if self._line:
            self._emit_line(job)

    def _emit_line(self, job: Job) -> None:
        style = self._style
        job.text_lines.append(TextLine(self._line, style.align, style.bold, style.size, style.underline))
        job.lines.append(self._line)
        self._line = ""


_HANDLERS: dict[str, Callable[[TranscriptBuilder, Job, Op], None]] = {
    "text": TranscriptBuilder._text,
    "newline": TranscriptBuilder._newline,
    "init": TranscriptBuilder._init,
    "codepage": TranscriptBuilder._codepage,
    "bold": TranscriptBuilder._bold,
    "align": TranscriptBuilder._align,
    "underline": TranscriptBuilder._underline,
    "print_mode": TranscriptBuilder._print_mode,
    "char_size": TranscriptBuilder._char_size,
    "barcode_height": TranscriptBuilder._barcode_setting,
    "barcode_width": TranscriptBuilder._barcode_setting,
    "hri_font": TranscriptBuilder._barcode_setting,
    "hri_position": TranscriptBuilder._barcode_setting,
    "barcode": TranscriptBuilder._barcode,
    "2d_code": TranscriptBuilder._code_2d,
    "feed_lines": TranscriptBuilder._feed,
    "feed_dots": TranscriptBuilder._feed,
    "cut": TranscriptBuilder._cut,
    "cut_legacy_full": TranscriptBuilder._legacy_cut,
    "cut_legacy_partial": TranscriptBuilder._legacy_cut,
    "raster_image": TranscriptBuilder._image,
    "bit_image": TranscriptBuilder._image,
    "graphics": TranscriptBuilder._image,
    "carriage_return": lambda self, job, op: None,  # CR alone does not print on Epson (LF does)
    "unknown": TranscriptBuilder._unknown,
    "truncated": TranscriptBuilder._unknown,
}


def transcribe(data: bytes) -> list[Job]:
    """The jobs a printer would make of `data` (no paper or fault model): for tests and previews."""
    jobs: list[Job] = []
    counter = iter(range(1, 1_000_000))
    builder = TranscriptBuilder(jobs.append, lambda: next(counter))
    parser = EscPosParser()
    for op in [*parser.feed(data), *parser.flush()]:
        builder.apply(op)
    builder.end_job()
    return jobs
