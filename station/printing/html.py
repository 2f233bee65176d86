"""A receipt as an HTML page, from the same template and data as the printed one.

The receipt templates (`station/receipts/templates`) produce text lines and layout instructions;
the printer plays them as ESC/POS, this module as HTML: a style switches alignment, weight and
size, a row puts two texts at both ends of a line, a barcode becomes an EAN-13 SVG (python-barcode),
a QR code an SVG (qrcode). Everything from the data is escaped. One self-contained page (inline
CSS and SVG): the QR code on the screen leads a phone to it without any other file.
"""

from __future__ import annotations

import html
import re
from typing import Any

from ..receipts import layout_lines, render_template

_CSS = """
body{margin:0;background:#eee;font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;color:#111}
main{max-width:30em;margin:1em auto;background:#fff;padding:1.2em 1em 2em;box-shadow:0 1px 4px #999}
.l{white-space:pre-wrap;min-height:1.2em}.row{display:flex;justify-content:space-between;gap:1em}
.row span:last-child{white-space:nowrap}.center{text-align:center}.right{text-align:right}
.b{font-weight:bold}.u{text-decoration:underline}.double{font-size:1.8em}.tall{font-size:1.5em}
.wide{font-size:1.5em;letter-spacing:.1em}hr{border:0;border-top:1px dashed #555;margin:.4em 0}
.feed{height:.8em}.code{text-align:center;margin:.5em 0}.code svg{max-width:100%;height:auto}
footer{font-family:sans-serif;font-size:.8em;color:#555;text-align:center;margin-top:1.5em}
"""
_XML_PROLOGUE = re.compile(r"^\s*<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?", re.S)


def render_page(
    kind: str,
    model: Any,
    language: str,
    *,
    title: str,
    columns: int = 48,
    timezone: str = "Europe/Berlin",
    own_url: str | None = None,
) -> str:
    """The whole page; a QR code that points at `own_url` (this page) is left out."""
    rendered = render_template(kind, model, language, columns=columns, timezone=timezone)
    body = _Layout(own_url).run(layout_lines(rendered))
    note = "Digitaler Beleg der Station" if language == "de" else "Digital receipt of the station"
    return (
        f'<!DOCTYPE html>\n<html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}<footer>{html.escape(note)}</footer></main></body></html>\n"
    )


def ean13_svg(code: str) -> str:
    """An EAN-13 barcode with its digits as inline SVG."""
    # Imported on first use, as qrcode below: with Pillow they are megabytes an idle station does not need.
    import barcode
    from barcode.writer import SVGWriter

    symbol = barcode.get("ean13", code[:12], writer=SVGWriter())
    if symbol.get_fullcode() != code:
        raise ValueError(f"{code!r} is not an EAN-13 with a valid check digit")
    svg: bytes = symbol.render(writer_options={"module_height": 14.0, "font_size": 8, "text_distance": 4.0})
    return _XML_PROLOGUE.sub("", svg.decode())


def qr_svg(data: str, box_size: int = 10) -> str:
    """A QR code (error correction M) as inline SVG."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=box_size,
                        error_correction=qrcode.constants.ERROR_CORRECT_M)
    text = image.to_string(encoding="unicode")
    return text if isinstance(text, str) else text.decode()


class _Layout:
    def __init__(self, own_url: str | None) -> None:
        self.own_url = own_url
        self.align, self.bold, self.size, self.underline = "left", False, "normal", 0
        self.out: list[str] = []

    def run(self, items: list[str | dict[str, Any]]) -> str:
        for item in items:
            if isinstance(item, str):
                self.out.append(f'<div class="l{self._classes()}">{html.escape(item)}</div>')
            else:
                spec = dict(item)
                getattr(self, f"_op_{spec.pop('op')}")(**spec)
        return "\n".join(self.out)

    def _classes(self) -> str:
        names = [self.align] if self.align != "left" else []
        names += ["b"] if self.bold else []
        names += ["u"] if self.underline else []
        names += [self.size] if self.size != "normal" else []
        return "".join(f" {name}" for name in names)

    def _op_style(self, align: str | None = None, bold: bool | None = None, size: str | None = None,
                  underline: int | None = None) -> None:
        self.align = align or self.align
        self.bold = self.bold if bold is None else bold
        self.size = size or self.size
        self.underline = self.underline if underline is None else underline

    def _op_row(self, left: str, right: str) -> None:
        self.out.append(f'<div class="row{self._classes()}"><span>{html.escape(left.strip())}</span>'
                        f"<span>{html.escape(right.strip())}</span></div>")

    def _op_rule(self, char: str) -> None:
        self.out.append("<hr>")

    def _op_barcode(self, data: str, kind: str) -> None:
        if kind == "EAN13":
            self.out.append(f'<div class="code">{ean13_svg(data)}</div>')
        else:
            self.out.append(f'<div class="l center">{html.escape(data)}</div>')

    def _op_qr(self, data: str) -> None:
        if data and data != self.own_url:
            self.out.append(f'<div class="code">{qr_svg(data)}</div>')

    def _op_feed(self, lines: int) -> None:
        self.out.extend('<div class="feed"></div>' for _ in range(max(0, lines)))
