"""The collection report against numbers worked out by hand: per counter, cashier, mode
and department (a payment shared among a bill's departments to the paisa), refunds
negative, scheme settlements apart, revenue billed; its CSV and XLSX; bad periods."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db.models import Q
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from ajeya.billing import capture, reports, services
from ajeya.billing.models import PaymentKind
from ajeya.core import money
from ajeya.core.errors import ValidationFailed
from ajeya.core.roles import Role
from tests.billing import factories as f
from tests.patients.factories import PatientFactory

D = Decimal
DAY = dt.date(2026, 11, 27)


# -- splitting a payment (no database) --------------------------------------------------


def test_allocate_by_largest_remainder_worked_by_hand():
    # 50.00 over 10 : 50 : 30 is 5.5555…, 27.7777…, 16.6666…: two paise left over go
    # to the largest remainders (.78 and .67), the smallest stays rounded down.
    assert money.allocate(D("50.00"), [D(10), D(50), D(30)]) == [
        D("5.55"),
        D("27.78"),
        D("16.67"),
    ]
    assert money.allocate(D("40.00"), [D(10), D(50), D(30)]) == [
        D("4.45"),
        D("22.22"),
        D("13.33"),
    ]
    assert money.allocate(D("-0.01"), [D(1), D(1)]) == [D("-0.01"), D("0.00")]


@given(
    st.decimals(min_value=D("-99999.99"), max_value=D("99999.99"), places=2),
    st.lists(st.decimals(min_value=0, max_value=D("100000"), places=2), min_size=1, max_size=8),
)
def test_allocate_always_adds_up_to_the_paisa(amount, weights):
    if sum(weights) <= 0:
        weights = [*weights, D("1")]
    parts = money.allocate(amount, weights)
    assert sum(parts) == amount
    assert all(p == p.quantize(D("0.01")) for p in parts)
    whole = sum(weights)
    for part, weight in zip(parts, weights, strict=True):  # each within a paisa of exact
        assert abs(part - amount * weight / whole) < D("0.01")


def test_allocate_refuses_weights_that_cannot_share():
    with pytest.raises(ValueError, match="weights"):
        money.allocate(D("1.00"), [D(0), D(0)])


# -- the report -------------------------------------------------------------------------


@pytest.fixture
def day(db, clock_at, settings):
    """A day at two counters, worked out by hand:

    OPD-1, cashier Deepak: Asha's bill (registration ₹10 MRD, ECG ₹50 CARD, dressing
    ₹30 SURG) paid ₹50 cash and ₹40 UPI; a CGHS patient's registration (₹10, all the
    scheme's) settled by CGHS. OPD-2, cashier Rani: Ravi's ₹500 cash deposit, ₹100 of
    it refunded. Also a bill for a certificate (₹100 + 18% GST, MRD) not yet paid, a
    deposit the day before, and a refund waiting for approval."""
    f.load_tariff()
    deepak, rani = f.cashier(), f.staff(Role.BILLING_CLERK, "cashier-rani", "Rani Cashier")
    one, two = f.counter("OPD-1"), f.counter("OPD-2")

    clock_at(2026, 11, 26, 18, 0)  # the day before: not in the report
    early = services.account_for(patient=PatientFactory(name="Early Bird"))
    services.payment_receive(
        actor=deepak, account=early, counter=one, amount="70", mode="cash",
        kind=PaymentKind.DEPOSIT,
    )  # fmt: skip

    clock_at(2026, 11, 27, 9, 0)
    asha = PatientFactory(name="Asha")
    capture.capture(patient=asha)
    account = services.account_for(patient=asha)
    services.charge_post(actor=deepak, account=account, code="PROC-ECG")
    services.charge_post(actor=deepak, account=account, code="PROC-DRESS")
    bill = services.bill_create(actor=deepak, account=account)
    services.payment_receive(
        actor=deepak, account=account, counter=one, amount="50", mode="cash", bill=bill
    )
    services.payment_receive(
        actor=deepak, account=account, counter=one, amount="40", mode="upi",
        reference="412345678901", bill=bill,
    )  # fmt: skip

    cghs = PatientFactory(category="scheme", scheme="cghs", scheme_beneficiary_id="CG1")
    capture.capture(patient=cghs)
    scheme_account = services.account_for(patient=cghs)
    scheme_bill = services.bill_create(actor=deepak, account=scheme_account)
    services.payment_receive(
        actor=deepak, account=scheme_account, counter=one, amount="10", mode="scheme",
        kind=PaymentKind.SETTLEMENT, reference="CGHS-CLAIM-9", bill=scheme_bill,
    )  # fmt: skip

    clerk_patient = PatientFactory(name="Certificate")
    capture.capture(patient=clerk_patient)
    cert = services.account_for(patient=clerk_patient)
    services.charge_post(actor=deepak, account=cert, code="PROC-CERT")
    services.bill_create(actor=deepak, account=cert)

    ravi = services.account_for(patient=PatientFactory(name="Ravi"))
    services.payment_receive(
        actor=rani, account=ravi, counter=two, amount="500", mode="cash",
        kind=PaymentKind.DEPOSIT,
    )  # fmt: skip
    services.refund_request(
        actor=rani, account=ravi, counter=two, amount="100", mode="cash",
        reason="tests not needed",
    )  # fmt: skip
    settings.AJEYA_BILLING_APPROVAL_LIMIT = D("10")
    services.refund_request(
        actor=rani, account=ravi, counter=two, amount="50", mode="cash",
        reason="waits for approval",
    )  # fmt: skip
    clock_at(2026, 11, 27, 20, 0)
    return {"deepak": deepak, "rani": rani}


def cells(row: reports.Row) -> tuple:
    return (row.receipts, row.collected, row.refund_count, row.refunds, row.net,
            row.settlement_count, row.settlements)  # fmt: skip


def test_per_counter_cashier_and_total(day):
    c = reports.collections(start=DAY, end=DAY)
    by_counter = {r.label: cells(r) for r in c.by_counter}
    assert by_counter == {
        "Counter OPD-1 (OPD-1)": (2, D("90.00"), 0, D("0.00"), D("90.00"), 1, D("10.00")),
        "Counter OPD-2 (OPD-2)": (1, D("500.00"), 1, D("-100.00"), D("400.00"), 0, D("0.00")),
    }
    assert {r.label: cells(r) for r in c.by_cashier} == {
        "Deepak Cashier": by_counter["Counter OPD-1 (OPD-1)"],
        "Rani Cashier": by_counter["Counter OPD-2 (OPD-2)"],
    }
    assert cells(c.total) == (3, D("590.00"), 1, D("-100.00"), D("490.00"), 1, D("10.00"))


def test_per_mode_refund_reduces_cash_and_settlements_kept_apart(day):
    c = reports.collections(start=DAY, end=DAY)
    modes = {r.key: cells(r) for r in c.by_mode}
    assert modes == {
        "cash": (2, D("550.00"), 1, D("-100.00"), D("450.00"), 0, D("0.00")),
        "card": (0, D("0.00"), 0, D("0.00"), D("0.00"), 0, D("0.00")),
        "upi": (1, D("40.00"), 0, D("0.00"), D("40.00"), 0, D("0.00")),
        "scheme": (0, D("0.00"), 0, D("0.00"), D("0.00"), 1, D("10.00")),
    }


def test_per_department_split_adds_up_exactly(day):
    c = reports.collections(start=DAY, end=DAY)
    depts = {r.label: (r.receipts, r.collected, r.refunds, r.settlements) for r in c.by_department}
    # ₹50 → 5.55 / 27.78 / 16.67 and ₹40 → 4.45 / 22.22 / 13.33 (see the allocate test)
    assert depts == {
        "Department CARD": (2, D("50.00"), D("0.00"), D("0.00")),
        "Department MRD": (2, D("10.00"), D("0.00"), D("10.00")),
        "Department SURG": (2, D("30.00"), D("0.00"), D("0.00")),
        reports.NO_BILL: (1, D("500.00"), D("-100.00"), D("0.00")),
    }
    assert [r.label for r in c.by_department][-1] == reports.NO_BILL
    assert sum(r.net for r in c.by_department) == c.total.net
    assert sum(r.settlements for r in c.by_department) == c.total.settlements


def test_one_payment_split_to_the_paisa(db, clock_at):
    clock_at(2026, 11, 27, 9, 0)
    f.load_tariff()
    clerk = f.cashier()
    patient = PatientFactory()
    capture.capture(patient=patient)
    account = services.account_for(patient=patient)
    services.charge_post(actor=clerk, account=account, code="PROC-ECG")
    services.charge_post(actor=clerk, account=account, code="PROC-DRESS")
    bill = services.bill_create(actor=clerk, account=account)
    services.payment_receive(
        actor=clerk, account=account, counter=f.counter(), amount="50", mode="cash", bill=bill
    )
    c = reports.collections(start=DAY, end=DAY)
    assert [(r.label, r.collected) for r in c.by_department] == [
        ("Department CARD", D("27.78")),
        ("Department MRD", D("5.55")),
        ("Department SURG", D("16.67")),
    ]


def test_a_later_cancellation_does_not_change_a_past_day(day, clock_at):
    from ajeya.billing.models import Bill

    before = reports.collections(start=DAY, end=DAY)
    clock_at(2026, 11, 28, 9, 0)
    bill = Bill.objects.get(account__patient__name="Asha")
    services.bill_cancel(actor=day["deepak"], bill=bill, reason="entered twice")
    after = reports.collections(start=DAY, end=DAY)
    assert [cells(r) for r in after.by_department] == [cells(r) for r in before.by_department]


def test_revenue_billed_by_department(day):
    c = reports.collections(start=DAY, end=DAY)
    billed = {b.label: (b.gross, b.tax, b.scheme, b.patient) for b in c.billed}
    # Registrations: Asha, CGHS (the scheme's), certificate patient; the certificate
    # ₹100 + 18% GST.
    assert billed == {
        "Department CARD": (D("50.00"), D("0.00"), D("0.00"), D("50.00")),
        "Department MRD": (D("130.00"), D("18.00"), D("10.00"), D("138.00")),
        "Department SURG": (D("30.00"), D("0.00"), D("0.00"), D("30.00")),
    }
    t = c.billed_total
    assert (t.gross, t.tax, t.total, t.scheme, t.patient) == (
        D("210.00"), D("18.00"), D("228.00"), D("10.00"), D("218.00"),
    )  # fmt: skip
    assert (c.bills, c.bills_cancelled) == (3, 0)


def test_one_counter_only(day):
    c = reports.collections(start=DAY, end=DAY, counter="opd-2")
    assert c.counter.code == "OPD-2"
    assert [r.label for r in c.by_counter] == ["Counter OPD-2 (OPD-2)"]
    assert cells(c.total) == (1, D("500.00"), 1, D("-100.00"), D("400.00"), 0, D("0.00"))
    assert [r.label for r in c.by_department] == [reports.NO_BILL]
    assert c.notes  # revenue billed is hospital-wide


def test_two_days_include_the_day_before(day):
    c = reports.collections(start=DAY - dt.timedelta(days=1), end=DAY)
    assert c.total.collected == D("660.00")
    assert c.days == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        (DAY, DAY - dt.timedelta(days=1), "end", "before the first"),
        (DAY - dt.timedelta(days=92), DAY, "start", "at most 92 days"),
        (dt.date(1, 1, 1), DAY, "start", "Choose a day between"),
        (DAY, dt.date(9999, 12, 31), "end", "Choose a day between"),
    ],
)
def test_bad_periods_are_named(start, end, field, message):
    with pytest.raises(ValidationFailed, match=message) as caught:
        reports.collections(start=start, end=end)
    assert field in caught.value.errors


@pytest.mark.django_db
def test_92_days_is_allowed_and_unknown_counter_refused():
    reports.collections(start=DAY - dt.timedelta(days=91), end=DAY)
    with pytest.raises(ValidationFailed, match="no cash counter 'NOPE'") as caught:
        reports.collections(start=DAY, end=DAY, counter="NOPE")
    assert "counter" in caught.value.errors


# -- exports ------------------------------------------------------------------------------


def test_csv_has_every_section_with_money_as_text(day):
    rows = reports.csv_rows(reports.collections(start=DAY, end=DAY))
    assert rows[:4] == [
        ["Collections report"], ["From", "2026-11-27"], ["To", "2026-11-27"],
        ["Counter", "All counters"],
    ]  # fmt: skip
    titles = [r[0] for r in rows if len(r) == 1]
    assert titles[1:] == [
        "By counter", "By cashier", "By mode", "By department",
        "Revenue billed (3 bills, 0 cancelled)",
    ]  # fmt: skip
    assert ["Cash", "2", "550.00", "1", "-100.00", "450.00", "0", "0.00"] in rows
    assert ["Department CARD", "2", "50.00", "0", "0.00", "50.00", "0", "0.00"] in rows
    assert ["Total", "3", "590.00", "1", "-100.00", "490.00", "1", "10.00"] in rows
    assert ["Department MRD", "130.00", "18.00", "148.00", "10.00", "138.00"] in rows
    assert all(isinstance(v, str) for r in rows for v in r)


def test_exports_keep_text_a_spreadsheet_would_run_as_text(day):
    day["rani"].full_name = "=HYPERLINK(1)"
    day["rani"].save()
    c = reports.collections(start=DAY, end=DAY)
    assert any(r and r[0] == "'=HYPERLINK(1)" for r in reports.csv_rows(c))
    sheet = load_workbook(io.BytesIO(reports.xlsx_bytes(c)))["Collections"]
    cell = next(row[0] for row in sheet.iter_rows() if row[0].value == "=HYPERLINK(1)")
    assert cell.data_type == "s"  # text in the spreadsheet, not a formula


def test_xlsx_has_the_same_sections_with_money_as_numbers(day):
    c = reports.collections(start=DAY, end=DAY)
    book = load_workbook(io.BytesIO(reports.xlsx_bytes(c)))
    sheet = book["Collections"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    texts = [[v for v in row if v is not None] for row in values]
    assert texts[1][0] == "From"
    assert texts[1][1].date() == DAY
    csv_titles = [r[0] for r in reports.csv_rows(c) if len(r) == 1]
    assert [r[0] for r in texts if len(r) == 1] == csv_titles
    cash = next(row for row in sheet.iter_rows() if row[0].value == "Cash")
    assert [cell.value for cell in cash] == [
        "Cash",
        2,
        D("550.00"),
        1,
        D("-100.00"),
        D("450.00"),
        0,
        D("0.00"),
    ]
    assert cash[2].number_format == "#,##0.00"
    assert cash[1].number_format == "General"  # a count is not money
    mrd = next(row for row in sheet.iter_rows() if row[0].value == "Department MRD" and
               len([x for x in row if x.value is not None]) == 6)  # fmt: skip
    assert [cell.value for cell in mrd[:6]] == [
        "Department MRD",
        D("130.00"),
        D("18.00"),
        D("148.00"),
        D("10.00"),
        D("138.00"),
    ]


def test_bills_paid_in_full_are_summed_in_sql_exactly_as_split_one_by_one(
    db, clock_at, monkeypatch
):
    """The SQL shortcut for payments of a whole bill gives what allocating each payment
    would: the lines' shares exactly, counted once per department with money in it."""
    f.load_tariff()
    deepak, counter = f.cashier(), f.counter("OPD-1")
    clock_at(2026, 11, 27, 9, 0)
    for name, codes, payments in (
        ("Full One", ["PROC-ECG", "PROC-DRESS"], ["90"]),  # REG 10 + 50 + 30, one payment
        ("Full Two", ["PROC-ECG"], ["60"]),
        ("Part Paid", ["PROC-DRESS"], ["15", "25"]),
    ):
        patient = PatientFactory(name=name)
        capture.capture(patient=patient)
        account = services.account_for(patient=patient)
        for code in codes:
            services.charge_post(actor=deepak, account=account, code=code)
        bill = services.bill_create(actor=deepak, account=account)
        for amount in payments:
            services.payment_receive(
                actor=deepak, account=account, counter=counter, amount=amount, mode="cash",
                bill=bill,
            )  # fmt: skip
    clock_at(2026, 11, 27, 20, 0)

    def by_department():
        return {
            r.label: (r.receipts, r.collected)
            for r in reports.collections(start=DAY, end=DAY).by_department
        }

    fast = by_department()
    monkeypatch.setattr(reports, "_paid_in_full", lambda: Q(pk__in=[]))
    assert by_department() == fast
    assert fast["Department CARD"] == (2, D("100.00"))
    assert fast["Department MRD"] == (4, D("30.00"))
    assert fast["Department SURG"] == (3, D("60.00"))
