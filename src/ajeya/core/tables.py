"""A report's tables, and their exports: CSV, XLSX (openpyxl) and PDF (the shared layout
in core.pdf). A report builds `Table`s; everything that shows or exports it reads them.

Cells are str, int, Decimal (money: two places) or date. Text that a spreadsheet would
run as a formula ("=…", "+…", "-…", "@…") is kept as text in every export.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

Cell = str | int | Decimal | dt.date | None
FORMULA_STARTS = ("=", "+", "-", "@")


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    total: list[Cell] | None = None
    note: str = ""


def text(value: Cell) -> str:
    """A cell as it is printed: money with two places, dates DD-MM-YYYY."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, dt.date):
        return f"{value:%d-%m-%Y}"
    return str(value)


def safe_text(value: str) -> str:
    """Text a spreadsheet would run as a formula, quoted so it stays text (CSV)."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def csv_bytes(title: str, tables: list[Table], *, heading: list[list[str]] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title])
    for line in heading or []:
        writer.writerow(line)
    for table in tables:
        writer.writerow([])
        writer.writerow([table.title])
        writer.writerow(table.header)
        for row in [*table.rows, *([table.total] if table.total else [])]:
            writer.writerow(
                [
                    safe_text(v)
                    if isinstance(v, str)
                    else (f"{v:.2f}" if isinstance(v, Decimal) else text(v))
                    for v in row
                ]
            )
    return ("\ufeff" + out.getvalue()).encode()  # a BOM: spreadsheets then read UTF-8 (₹, names)


def xlsx_bytes(
    title: str,
    tables: list[Table],
    *,
    heading: list[list[Cell]] | None = None,
    sheet_name: str = "",
    widths: dict[str, float] | None = None,
) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = (sheet_name or title)[:31]
    bold = Font(bold=True)

    def put(line: list[Cell], *, strong: bool = False) -> None:
        sheet.append(list(line))
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.data_type == "f":
                cell.data_type = "s"  # never a formula
            elif isinstance(cell.value, Decimal):
                cell.number_format = "#,##0.00"
            elif isinstance(cell.value, dt.date):
                cell.number_format = "DD-MM-YYYY"
            if strong:
                cell.font = bold

    put([title], strong=True)
    for line in heading or []:
        put(line)
    for table in tables:
        sheet.append([])
        put([table.title], strong=True)
        put(table.header, strong=True)
        for row in table.rows:
            put(row)
        if table.total:
            put(table.total, strong=True)
    for letter, width in (widths or {}).items():
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pdf_bytes(
    title: str, tables: list[Table], *, printed_by: str, heading: list[str] | None = None
) -> bytes:
    """The tables on A4 pages in the shared layout; a long table runs on to the next page
    with its header repeated."""
    from ajeya.core import pdf  # reportlab loads on first use, not with every command

    size = A4
    margin = 12 * mm

    def body(c, top: float) -> None:
        page = _Page(c, top, size, margin)
        for line in heading or []:
            page.text(line, size=9)
        for table in tables:
            page.gap()
            page.text(table.title, size=11, bold=True)
            widths = _widths(table, size[0] - 2 * margin)
            page.row(table.header, widths, bold=True)
            for row in table.rows:
                if page.full():
                    page.next()
                    page.row(table.header, widths, bold=True)
                page.row(row, widths)
            if table.total:
                page.row(table.total, widths, bold=True)
            if table.note:
                page.text(table.note, size=8)

    return pdf.render(
        title=title, printed_by=printed_by, pagesize=size, draw_body=body, margin=margin
    )


class _Page:
    LINE = 4.6 * mm

    def __init__(self, c, top: float, size, margin: float) -> None:
        self.c, self.y, self.size, self.margin = c, top, size, margin

    def full(self) -> bool:
        return self.y < self.margin + 14 * mm

    def next(self) -> None:
        self.c.showPage()
        self.y = self.size[1] - self.margin - 8 * mm

    def gap(self) -> None:
        self.y -= self.LINE / 2

    def text(self, value: str, *, size: float = 9, bold: bool = False) -> None:
        from ajeya.core import pdf

        if self.full():
            self.next()
        self.c.setFont(pdf.FONT_BOLD if bold else pdf.FONT, size)
        self.c.drawString(self.margin, self.y, value)
        self.y -= self.LINE + (1.5 * mm if size > 10 else 0)

    def row(self, cells: list[Cell], widths: list[float], *, bold: bool = False) -> None:
        from ajeya.core import pdf

        if self.full():
            self.next()
        self.c.setFont(pdf.FONT_BOLD if bold else pdf.FONT, 8)
        x = self.margin
        for value, width in zip(cells, widths, strict=False):
            shown = text(value).replace("₹", "Rs ")  # the bundled font has no rupee sign
            while shown and self.c.stringWidth(shown, pdf.FONT, 8) > width - 1.5 * mm:
                shown = shown[:-1]
            if isinstance(value, int | Decimal) and not isinstance(value, bool):
                self.c.drawRightString(x + width - 1.5 * mm, self.y, shown)
            else:
                self.c.drawString(x, self.y, shown)
            x += width
        self.y -= self.LINE


def _widths(table: Table, usable: float) -> list[float]:
    longest = [
        max(len(text(r[i])) if i < len(r) else 0 for r in [table.header, *table.rows])
        for i in range(len(table.header))
    ]
    whole = sum(max(n, 4) for n in longest) or 1
    return [usable * max(n, 4) / whole for n in longest]
