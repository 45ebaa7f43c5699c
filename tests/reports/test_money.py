"""The money standard reports on billing's worked day (tests/billing/test_reports.py's
`day`, its numbers worked out by hand there): collections as tables, the department
filter, department-wise revenue, and their bounded queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ajeya.billing import reports as billing_reports
from ajeya.core.errors import ValidationFailed
from ajeya.core.models import Department
from ajeya.core.periods import Period, department
from ajeya.core.roles import Perm
from ajeya.core.tables import csv_bytes, pdf_bytes, xlsx_bytes
from ajeya.reports import registry
from tests.billing.test_reports import DAY, day  # noqa: F401  (the worked day, a fixture)

D = Decimal
ONE_DAY = Period(DAY, DAY)


def by_title(tables):
    return {t.title: t for t in tables}


def test_both_are_registered_for_billing_reports():
    for slug, title in (("collections", "Collections"), ("department-revenue",
                                                         "Department-wise revenue")):  # fmt: skip
        report = registry.get(slug)
        assert report.title == title
        assert report.perm == Perm.BILLING_REPORTS


def test_collections_tables(day):  # noqa: F811
    tables = by_title(registry.run("collections", ONE_DAY))
    assert list(tables) == ["By counter", "By cashier", "By mode", "By department"]
    counter = tables["By counter"]
    assert counter.header[0] == "Counter"
    assert counter.rows == [
        ["Counter OPD-1 (OPD-1)", 2, D("90.00"), 0, D("0.00"), D("90.00"), 1, D("10.00")],
        ["Counter OPD-2 (OPD-2)", 1, D("500.00"), 1, D("-100.00"), D("400.00"), 0, D("0.00")],
    ]
    assert counter.total == ["Total", 3, D("590.00"), 1, D("-100.00"), D("490.00"), 1,
                             D("10.00")]  # fmt: skip
    assert [r[0] for r in tables["By cashier"].rows] == ["Deepak Cashier", "Rani Cashier"]
    modes = {r[0]: r[5] for r in tables["By mode"].rows}
    assert modes == {"Cash": D("450.00"), "Card": D("0.00"), "UPI": D("40.00"),
                     "Scheme": D("0.00")}  # fmt: skip
    depts = {r[0]: r[2] for r in tables["By department"].rows}
    assert depts == {
        "Department CARD": D("50.00"),
        "Department MRD": D("10.00"),
        "Department SURG": D("30.00"),
        billing_reports.NO_BILL: D("500.00"),
    }


def test_collections_for_one_department_keeps_its_row_and_says_so(day):  # noqa: F811
    card = department("card")
    tables = by_title(registry.run("collections", ONE_DAY, card))
    dept = tables["By department"]
    assert dept.rows == [["Department CARD", 2, D("50.00"), 0, D("0.00"), D("50.00"), 0,
                          D("0.00")]]  # fmt: skip
    assert dept.total is None
    assert "Department CARD" in dept.note
    assert "whole hospital" in dept.note
    assert len(tables["By counter"].rows) == 2  # the other tables are the hospital's


def test_department_revenue(day):  # noqa: F811
    (table,) = registry.run("department-revenue", ONE_DAY)
    assert table.header == ["Department", "Gross", "Tax", "Total", "Scheme pays", "Patient pays"]
    assert table.rows == [
        ["Department CARD", D("50.00"), D("0.00"), D("50.00"), D("0.00"), D("50.00")],
        ["Department MRD", D("130.00"), D("18.00"), D("148.00"), D("10.00"), D("138.00")],
        ["Department SURG", D("30.00"), D("0.00"), D("30.00"), D("0.00"), D("30.00")],
    ]
    assert table.total == ["Total", D("210.00"), D("18.00"), D("228.00"), D("10.00"),
                           D("218.00")]  # fmt: skip
    c = billing_reports.collections(start=DAY, end=DAY)  # agrees with billing's own
    assert table.total[1] == c.billed_total.gross
    assert table.total[5] == c.billed_total.patient


def test_department_revenue_for_one_department(day):  # noqa: F811
    (table,) = registry.run("department-revenue", ONE_DAY, department("MRD"))
    assert table.rows == [
        ["Department MRD", D("130.00"), D("18.00"), D("148.00"), D("10.00"), D("138.00")]
    ]
    assert table.total == ["Total", D("130.00"), D("18.00"), D("148.00"), D("10.00"),
                           D("138.00")]  # fmt: skip
    assert "Department MRD" in table.note


def test_a_day_without_bills_is_empty(day):  # noqa: F811
    later = DAY + dt.timedelta(days=3)
    (table,) = registry.run("department-revenue", Period(later, later))
    assert table.rows == []
    assert table.total == ["Total", *[D("0.00")] * 5]
    tables = by_title(registry.run("collections", Period(later, later)))
    assert tables["By counter"].rows == []


def test_exports_carry_the_numbers(day):  # noqa: F811
    tables = registry.run("department-revenue", ONE_DAY)
    text = csv_bytes("Department-wise revenue", tables).decode("utf-8-sig")
    assert "Department MRD,130.00,18.00,148.00,10.00,138.00" in text
    assert xlsx_bytes("Department-wise revenue", tables)[:2] == b"PK"
    assert pdf_bytes("Department-wise revenue", tables, printed_by="test")[:5] == b"%PDF-"


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["collections", "department-revenue"])
def test_bad_input_is_refused(slug):
    with pytest.raises(ValidationFailed, match="before the first") as caught:
        registry.run(slug, Period(DAY, DAY - dt.timedelta(days=1)))
    assert "end" in caught.value.errors
    with pytest.raises(ValidationFailed, match="at most 92 days"):
        registry.run(slug, Period(DAY - dt.timedelta(days=92), DAY))
    with pytest.raises(ValidationFailed, match="no department"):
        department("NOPE")


@pytest.mark.parametrize("slug", ["collections", "department-revenue"])
def test_queries_are_bounded(day, slug, django_assert_max_num_queries):  # noqa: F811
    card = Department.objects.get(code="CARD")
    with django_assert_max_num_queries(12):
        registry.run(slug, Period(DAY - dt.timedelta(days=30), DAY))
    with django_assert_max_num_queries(12):
        registry.run(slug, ONE_DAY, card)
