"""A report's period and department checks, and the table exports every report uses."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest

from ajeya.core import periods, tables
from ajeya.core.errors import ValidationFailed
from tests.appointments import factories as schedule

D = Decimal


def test_period_defaults_to_today_and_accepts_both_date_forms(clock_at):
    clock_at(2026, 11, 27, 10, 0)
    assert periods.parse_period("", "") == periods.Period(
        dt.date(2026, 11, 27), dt.date(2026, 11, 27)
    )
    p = periods.parse_period("01-11-2026", "2026-11-07")
    assert (p.start, p.end, p.days) == (dt.date(2026, 11, 1), dt.date(2026, 11, 7), 7)
    first, last = p.bounds()
    assert (first.isoformat(), last.isoformat()) == (
        "2026-11-01T00:00:00+05:30",
        "2026-11-08T00:00:00+05:30",
    )


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        ("2026-11-07", "2026-11-01", "end", "before the first"),
        ("2026-01-01", "2026-11-01", "start", "at most 92 days"),
        ("31-02-2026", "2026-11-01", "start", "is not a date"),
        ("yesterday", "", "start", "is not a date"),
        ("1990-01-01", "1990-01-02", "start", "Choose a day between"),
    ],
)
def test_bad_periods_name_the_field_and_the_problem(clock_at, start, end, field, message):
    clock_at(2026, 11, 27, 10, 0)
    with pytest.raises(ValidationFailed) as caught:
        periods.parse_period(start, end)
    assert message in " ".join(caught.value.errors[field])


@pytest.mark.django_db
def test_department_filter_by_code_and_unknown_refused():
    med = schedule.department("MED")
    assert periods.department(" med ") == med
    assert periods.department("") is None
    with pytest.raises(ValidationFailed, match="no department 'XYZ'"):
        periods.department("XYZ")


TABLE = tables.Table(
    "Collections",
    ["Department", "Receipts", "Amount", "Day"],
    [["=HYPERLINK(x)", 3, D("1234.50"), dt.date(2026, 11, 27)], ["Medicine", 1, D("0.05"), None]],
    total=["Total", 4, D("1234.55"), None],
)


def test_csv_keeps_formulas_as_text_and_money_exact():
    text = tables.csv_bytes("Report", [TABLE]).decode("utf-8-sig")
    assert "'=HYPERLINK(x),3,1234.50,27-11-2026" in text
    assert "Total,4,1234.55," in text


def test_xlsx_has_numbers_for_money_and_text_for_formulas():
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(tables.xlsx_bytes("Report", [TABLE]))).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    data = next(r for r in rows if r[0] == "=HYPERLINK(x)")
    assert data[1:3] == [3, 1234.5]
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == "=HYPERLINK(x)")
    assert cell.data_type == "s"


def test_pdf_runs_on_to_more_pages_with_the_header_repeated():
    from pypdf import PdfReader

    long = tables.Table("Long", ["Day", "Visits"], [[f"day {n}", n] for n in range(150)])
    content = tables.pdf_bytes("OPD census", [long], printed_by="Dr. Admin")
    pages = PdfReader(io.BytesIO(content)).pages
    assert len(pages) >= 3
    assert all("Day" in page.extract_text() for page in pages)
    assert "day 149" in pages[-1].extract_text()
    assert "Page 1 of" in pages[0].extract_text()
