"""The one page layout every printed document shares: the hospital's logo and name,
the document's title, printed-by and printed-at (IST), "page n of m", and on every page
a QR code that checks the paper against the ledger (`ledger.papers`).

A document module supplies only its body: a function that draws on the canvas
below the header and returns nothing. It keeps the bottom `Flow` margin (12 mm) clear:
the verification code sits there, at the right.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from pathlib import Path

import segno
from django.conf import settings
from reportlab.graphics.barcode import code128
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas

from ajeya.core import clock

FONT, FONT_BOLD = "AjeyaSans", "AjeyaSans-Bold"
LOGO_HEIGHT = 5.5 * mm
VERIFY_QR_SIZE = 11 * mm
_registered = False


def _register_fonts() -> None:
    """Vera ships inside reportlab, so printing works on a machine with no system fonts."""
    global _registered
    if not _registered:
        pdfmetrics.registerFont(TTFont(FONT, "Vera.ttf"))
        pdfmetrics.registerFont(TTFont(FONT_BOLD, "VeraBd.ttf"))
        _registered = True


class _NumberedCanvas(rl_canvas.Canvas):
    """Holds each page until the end so the footer can say "page n of m"."""

    def __init__(self, *args, footer: Callable[[rl_canvas.Canvas, int, int], None], **kwargs):
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []
        self._footer = footer

    def showPage(self):
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._footer(self, number, total)
            super().showPage()
        super().save()


@functools.cache
def _logo_image(path: Path, mtime: float) -> ImageReader:
    return ImageReader(str(path))


def draw_logo(c: rl_canvas.Canvas, x: float, y: float, *, height: float) -> float:
    """The hospital's logo (AJEYA_HOSPITAL_LOGO) with its bottom-left at (x, y); without
    one, a plain emblem. Returns the width drawn."""
    path = settings.AJEYA_HOSPITAL_LOGO
    if path:
        image = _logo_image(path, path.stat().st_mtime)
        w, h = image.getSize()
        width = height * w / h
        c.drawImage(image, x, y, width=width, height=height, mask="auto")
        return width
    # A cross in a ring: says "hospital" without claiming anyone's emblem.
    radius, arm = height / 2, height * 0.16
    c.saveState()
    c.setLineWidth(0.8)
    c.setStrokeColorRGB(0.1, 0.3, 0.5)
    c.setFillColorRGB(0.1, 0.3, 0.5)
    c.circle(x + radius, y + radius, radius - 0.4, stroke=1, fill=0)
    c.rect(x + radius - arm, y + radius * 0.4, 2 * arm, radius * 1.2, stroke=0, fill=1)
    c.rect(x + radius * 0.4, y + radius - arm, radius * 1.2, 2 * arm, stroke=0, fill=1)
    c.restoreState()
    return height


def render(
    *,
    title: str,
    printed_by: str,
    pagesize: tuple[float, float],
    draw_body: Callable[[rl_canvas.Canvas, float], None],
    margin: float = 8 * mm,
    verify_url: str = "",
) -> bytes:
    """Draw a document and return its PDF bytes. `draw_body(canvas, top_y)` draws the
    content starting below the header, and calls `canvas.showPage()` between pages.
    `verify_url` (from `ledger.papers.verify_url`) goes in a QR code on every page."""
    _register_fonts()
    width, height = pagesize
    printed_at = clock.local(clock.now()).strftime("%d-%m-%Y %H:%M IST")

    def header(c: rl_canvas.Canvas) -> float:
        logo = draw_logo(c, margin, height - margin - LOGO_HEIGHT + 0.5 * mm, height=LOGO_HEIGHT)
        c.setFont(FONT_BOLD, 11)
        c.drawString(margin + logo + 2 * mm, height - margin - 4 * mm, settings.AJEYA_HOSPITAL_NAME)
        c.setFont(FONT, 9)
        c.drawRightString(width - margin, height - margin - 4 * mm, title)
        c.setLineWidth(0.6)
        c.line(margin, height - margin - 6 * mm, width - margin, height - margin - 6 * mm)
        return height - margin - 11 * mm

    def footer(c: rl_canvas.Canvas, number: int, total: int) -> None:
        c.setFont(FONT, 6.5)
        c.drawString(margin, margin - 3 * mm, f"Printed by {printed_by} at {printed_at}")
        c.drawRightString(width - margin, margin - 3 * mm, f"Page {number} of {total}")
        if verify_url:
            x = width - margin - VERIFY_QR_SIZE
            draw_qr(c, verify_url, x, margin + 0.5 * mm, size=VERIFY_QR_SIZE)
            c.drawRightString(x - 1 * mm, margin + 1.5 * mm, "Scan to check this paper")

    buffer = io.BytesIO()
    c = _NumberedCanvas(buffer, pagesize=pagesize, footer=footer)
    c.setTitle(title)
    c.setAuthor(settings.AJEYA_HOSPITAL_NAME)
    c.setCreator("Ajeya")
    top = header(c)
    draw_body(c, top)
    c.showPage()
    c.save()
    return buffer.getvalue()


def draw_code128(c: rl_canvas.Canvas, value: str, x: float, y: float, *, height: float) -> float:
    """Draw a Code 128 barcode with its bottom-left at (x, y); return its width."""
    barcode = code128.Code128(value, barHeight=height, barWidth=0.33 * mm, quiet=False)
    barcode.drawOn(c, x, y)
    return barcode.width


def draw_qr(c: rl_canvas.Canvas, value: str, x: float, y: float, *, size: float) -> None:
    """A QR code (error correction M, 4-module quiet zone) as one filled path: segno
    encodes, the canvas draws each dark run of a row as one rectangle. reportlab's own
    QR widget built a validated shape per module: 90 ms of a 105 ms lab report."""
    code = segno.make(value, error="m", micro=False, boost_error=False)
    matrix = code.matrix
    border = 4
    modules = len(matrix) + 2 * border
    unit = size / modules
    path = c.beginPath()
    for row_number, row in enumerate(matrix):
        top = y + size - (row_number + border + 1) * unit
        start = None
        for col, dark in enumerate([*row, 0]):
            if dark and start is None:
                start = col
            elif not dark and start is not None:
                path.rect(x + (start + border) * unit, top, (col - start) * unit, unit)
                start = None
    c.saveState()
    c.setFillColorRGB(0, 0, 0)
    c.drawPath(path, stroke=0, fill=1)
    c.restoreState()


class Flow:
    """Lines of text down the page, wrapped to the page's width and continued on a new
    page when one is full: nothing a doctor wrote is cut off."""

    def __init__(
        self,
        c: rl_canvas.Canvas,
        *,
        top: float,
        pagesize: tuple[float, float],
        margin: float,
        bottom: float = 12 * mm,
    ) -> None:
        self.c, self.y, self.margin, self.bottom = c, top, margin, bottom
        self.width, self.height = pagesize

    def line(self, text: str = "", *, size: float = 9.5, bold: bool = False, indent: float = 0):
        from reportlab.lib.utils import simpleSplit

        font = FONT_BOLD if bold else FONT
        room = self.width - 2 * self.margin - indent
        for piece in simpleSplit(text, font, size, room) or [""]:
            if self.y < self.margin + self.bottom:
                self.c.showPage()
                self.y = self.height - self.margin - 8 * mm
            self.c.setFont(font, size)
            self.c.drawString(self.margin + indent, self.y, piece)
            self.y -= size * 0.42 * mm + 2.4 * mm

    def block(self, title: str, text: str, *, indent: float = 4 * mm) -> None:
        """A heading and its paragraphs; nothing at all when the text is empty."""
        if not text.strip():
            return
        self.line(title, bold=True)
        for paragraph in text.splitlines():
            self.line(paragraph, indent=indent)


def watermark(
    c: rl_canvas.Canvas,
    text: str,
    *,
    subtitle: str = "",
    size: float = 60,
    angle: float = 45,
    alpha: float = 0.18,
) -> None:
    """A pale red word across the middle of the page (CANCELLED, SUPERSEDED)."""
    width, height = c._pagesize
    c.saveState()
    c.setFillColorRGB(0.7, 0.1, 0.1)
    c.setFillAlpha(alpha)
    c.translate(width / 2, height / 2)
    c.rotate(angle)
    c.setFont(FONT_BOLD, size)
    c.drawCentredString(0, 0, text)
    if subtitle:
        c.setFont(FONT_BOLD, 22)
        c.drawCentredString(0, -14 * mm, subtitle)
    c.restoreState()


class RunningFlow(Flow):
    """A Flow for documents that run over pages: each new page starts with its mark (a
    watermark, if the document has one) and a small running line naming the patient and
    the document, then whatever the document repeats (`continued`, e.g. a table head)."""

    def __init__(self, c, *, top: float, pagesize, margin: float, running: str) -> None:
        super().__init__(c, top=top, pagesize=pagesize, margin=margin)
        self.running = running

    def mark(self) -> None:
        """Draw the page's mark; nothing by default."""

    def continued(self) -> None:
        """Draw what a continued page repeats under its running line; nothing by default."""

    def need(self, height: float) -> bool:
        """Start a new page unless `height` still fits on this one; True if it did."""
        if self.y - height >= self.margin + self.bottom:
            return False
        self.c.showPage()
        self.mark()
        self.y = self.height - self.margin - 6 * mm
        self.c.setFont(FONT, 7.5)
        self.c.drawString(self.margin, self.y, self.running)
        self.y -= 7 * mm
        self.continued()
        return True

    def line(self, text: str = "", *, size: float = 9.5, bold: bool = False, indent: float = 0):
        from reportlab.lib.utils import simpleSplit

        font = FONT_BOLD if bold else FONT
        for piece in simpleSplit(text, font, size, self.width - 2 * self.margin - indent) or [""]:
            self.need(size * 0.42 * mm + 2.4 * mm)
            super().line(piece, size=size, bold=bold, indent=indent)


def printed_by(request) -> str:
    """The name a printed page's footer gives for who printed it."""
    return request.user.full_name or request.user.username


def response(content: bytes, filename: str):
    """A PDF shown in the browser (the print dialog is one click away)."""
    from django.http import HttpResponse

    reply = HttpResponse(content, content_type="application/pdf")
    reply["Content-Disposition"] = f'inline; filename="{filename}"'
    # A patient's document must not stay in a shared ward PC's browser cache.
    reply["Cache-Control"] = "no-store, private"
    return reply
