"""Receipt templates (Jinja2) to ESC/POS bytes, through python-escpos 3.1 `Dummy`.

A template produces lines. A line made by a layout function (`style()`, `row()`, `rule()`,
`barcode()`, `qr()`, `feed()`) is an instruction; every other line is text. Values from the
data pass through `printable()` on the way out, so a product name can never become an
instruction, a line break or a control byte. Every job starts with `ESC @`, the fixed code
page CP858 (`ESC t 19`, € = `D5`; never python-escpos's per-character "magic" switching) and
ends with a feed and a full cut.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import json
import logging
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from pydantic import TypeAdapter

from drivers.printer.escposlib import escpos_printer

from . import formatting as fmt
from .models import (
    DepositVoucher,
    EndOfDayReport,
    PickupConfirmation,
    PrinterTestPage,
    PurchaseReceipt,
    RestockReport,
)
from .texts import TEXTS

log = logging.getLogger(__name__)

CODE_PAGE = "CP858"
_MARK = "\ue000"  # private-use character: starts an instruction line; printable() removes it from data
SIZES = {"normal": (1, 1), "double": (2, 2), "wide": (2, 1), "tall": (1, 2)}

KINDS: dict[str, tuple[type, str]] = {
    "purchase": (PurchaseReceipt, "purchase.j2"),
    "deposit_voucher": (DepositVoucher, "deposit_voucher.j2"),
    "pickup": (PickupConfirmation, "pickup.j2"),
    "restock_report": (RestockReport, "restock_report.j2"),
    "end_of_day": (EndOfDayReport, "end_of_day.j2"),
    "test": (PrinterTestPage, "test.j2"),
}


@dataclass(frozen=True)
class Instruction:
    """A layout function's result; rendered as one marked line."""

    op: str
    args: Mapping[str, Any]

    def __str__(self) -> str:
        return _MARK + json.dumps({"op": self.op, **self.args}, ensure_ascii=False, default=str)


def render_receipt(
    kind: str,
    data: Any,
    language: str = "de",
    *,
    columns: int = 48,
    timezone: str = "Europe/Berlin",
    qr_size: int = 4,
) -> bytes:
    """ESC/POS bytes of one receipt; `data` is the kind's dataclass (see `models`) or an equal dict."""
    model = validate(kind, data)
    lines = render_template(kind, model, language, columns=columns, timezone=timezone)
    return _EscPosLayout(columns, qr_size).run(lines)


def validate(kind: str, data: Any) -> Any:
    """The kind's dataclass built from `data` (a dict or the dataclass); raises ValueError when it does not fit."""
    if kind not in KINDS:
        raise ValueError(f"unknown receipt kind {kind!r}; known: {', '.join(KINDS)}")
    return _adapter(kind).validate_python(data)


def render_template(kind: str, model: Any, language: str, *, columns: int = 48, timezone: str = "Europe/Berlin") -> str:
    """The template's output: text lines and marked instruction lines (mostly for debugging)."""
    if language not in TEXTS:
        raise ValueError(f"no receipt texts for language {language!r}; available: {', '.join(TEXTS)}")
    template = _environment().get_template(KINDS[kind][1])
    return template.render(receipt=model, t=TEXTS[language], columns=columns, tz=timezone)


def layout_lines(rendered: str) -> list[str | dict[str, Any]]:
    """A template's output as text lines and instruction dicts (`{"op": "row", ...}`), for other renderers (HTML)."""
    items: list[str | dict[str, Any]] = []
    for line in rendered.removesuffix("\n").split("\n"):
        stripped = line.lstrip(" ")
        if stripped.startswith(_MARK):
            items.append(json.loads(stripped[1:]))
        else:
            items.append(line.rstrip())
    return items


def to_json(kind: str, model: Any) -> dict[str, Any]:
    """A receipt's data as JSON-able values (dates as ISO text); `validate(kind, ...)` reads it back."""
    data: dict[str, Any] = _adapter(kind).dump_python(model, mode="json")
    return data


@functools.cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    return TypeAdapter(KINDS[kind][0])


def _finalize(value: Any) -> str:
    if isinstance(value, Instruction):
        return str(value)
    return "" if value is None else fmt.printable(str(value))


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("station.receipts", "templates"),
        undefined=jinja2.StrictUndefined,  # a misspelt field fails the render instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,  # an included header ends its last line
        autoescape=False,  # ESC/POS, not HTML; data is made safe by _finalize
        finalize=_finalize,
    )
    env.globals.update(
        style=lambda **kw: Instruction("style", kw),
        row=lambda left, right="": Instruction("row", {"left": str(left), "right": str(right)}),
        rule=lambda char="-": Instruction("rule", {"char": char}),
        barcode=lambda data, kind="EAN13": Instruction("barcode", {"data": str(data), "kind": kind}),
        qr=lambda data: Instruction("qr", {"data": str(data)}),
        feed=lambda lines=1: Instruction("feed", {"lines": int(lines)}),
    )
    env.filters.update(
        euro=fmt.euro,
        percent=fmt.percent,
        card=fmt.mask_card,
        date=_with_zone(fmt.date_de),
        time=_with_zone(fmt.time_de),
        datetime=_with_zone(lambda v, tz: f"{fmt.date_de(v, tz)} {fmt.time_de(v, tz)}"),
    )
    return env


def _with_zone(fn: Callable[[Any, str], str]) -> Callable[..., str]:
    @jinja2.pass_context
    def _filter(context: jinja2.runtime.Context, value: dt.date | dt.datetime) -> str:
        return fn(value, context["tz"])

    return _filter


class _EscPosLayout:
    """Plays the template's lines onto a python-escpos Dummy, keeping track of alignment, bold and size."""

    def __init__(self, columns: int, qr_size: int) -> None:
        self.columns, self.qr_size = columns, qr_size
        self.printer = escpos_printer().Dummy()  # python-escpos is imported on the first render
        self.align, self.bold, self.underline, self.size = "left", False, 0, "normal"

    def run(self, rendered: str) -> bytes:
        p = self.printer
        p.hw("INIT")
        p.charcode(CODE_PAGE)  # emits ESC t 19 now and pins every later character to CP858
        for line in rendered.removesuffix("\n").split("\n"):
            stripped = line.lstrip(" ")
            if stripped.startswith(_MARK):
                self._instruction(json.loads(stripped[1:]))
            elif _MARK in line:
                raise ValueError(f"a layout function must stand alone on its line: {line!r}")
            else:
                self._text(line.rstrip())
        p.cut()  # ESC d 6 (feed past the tear bar) + GS V 0 (full cut)
        return bytes(p.output)

    @property
    def width(self) -> int:
        """Characters per line at the current text width."""
        return self.columns // SIZES[self.size][0]

    def _instruction(self, spec: dict[str, Any]) -> None:
        op = spec.pop("op")
        handler: Callable[..., None] = getattr(self, f"_op_{op}")
        handler(**spec)

    def _text(self, line: str) -> None:
        if len(line) <= self.width:
            self.printer.textln(line)
            return
        indent = line[: len(line) - len(line.lstrip(" "))]
        for part in textwrap.wrap(line.strip(), self.width, initial_indent=indent, subsequent_indent=indent):
            self.printer.textln(part)

    def _op_style(
        self, align: str | None = None, bold: bool | None = None, size: str | None = None, underline: int | None = None
    ) -> None:
        p = self.printer
        if size is not None and size != self.size:
            if size not in SIZES:
                raise ValueError(f"text size {size!r}; known: {', '.join(SIZES)}")
            wide, tall = SIZES[size]
            p.set(normal_textsize=size == "normal", double_width=wide == 2, double_height=tall == 2)
            self.size = size
            # ESC ! n also switches bold and underline off: say again what the template has on
            bold = self.bold if bold is None else bold
            underline = self.underline if underline is None else underline
            p.set(bold=bold or None, underline=underline or None)
        if bold is not None and bold != self.bold:
            p.set(bold=bold)
        if underline is not None and underline != self.underline:
            p.set(underline=underline)
        if align is not None and align != self.align:
            p.set(align=align)
        self.align = align or self.align
        self.bold = self.bold if bold is None else bold
        self.underline = self.underline if underline is None else underline

    def _op_row(self, left: str, right: str) -> None:
        left, right = fmt.printable(left).rstrip(), fmt.printable(right).strip()
        width = self.width
        indent = left[: len(left) - len(left.lstrip(" "))]
        lines = textwrap.wrap(left.strip(), width, initial_indent=indent, subsequent_indent=indent + "  ") or [""]
        if right and len(lines[-1]) + 1 + len(right) <= width:
            lines[-1] = lines[-1].ljust(width - len(right)) + right
        elif right:
            lines.append(right.rjust(width))
        for text in lines:
            self.printer.textln(text)

    def _op_rule(self, char: str) -> None:
        self.printer.textln((fmt.printable(char) or "-")[0] * self.width)

    def _op_barcode(self, data: str, kind: str) -> None:
        if kind == "EAN13" and not fmt.valid_ean13(data):
            raise ValueError(f"{data!r} is not an EAN-13 with a valid check digit")
        # python-escpos 3.1 print()s "Using hardware barcode renderer" to stdout; keep it off the CLI's output
        chatter = io.StringIO()
        with contextlib.redirect_stdout(chatter):
            self.printer.barcode(data, kind)
        log.debug("python-escpos: %s", chatter.getvalue().strip())
        if self.align != "center":  # barcode() centres (ESC a 1) and leaves it so
            self.printer.set(align=self.align)

    def _op_qr(self, data: str) -> None:
        if data:
            self.printer.qr(data, native=True, size=self.qr_size)

    def _op_feed(self, lines: int) -> None:
        self.printer.ln(max(0, lines))
