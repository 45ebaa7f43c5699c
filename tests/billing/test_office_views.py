"""The billing back office through Django's full HTTP stack: the collection report and
its CSV and XLSX, the cashier's day-end close, approvals, the tariff and its prices —
refusals, bad input and query counts included."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from ajeya.billing import capture, services
from ajeya.billing.models import (
    ApprovalStatus,
    DayClose,
    Discount,
    Payment,
    PaymentKind,
    TariffPrice,
)
from ajeya.core.roles import Role
from ajeya.ledger.models import AccessEntry, AccessKind, LedgerEntry
from tests.billing import factories as f
from tests.conftest import verified_client
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

D = Decimal
COLLECTIONS = reverse("billing:collections")
CSV = reverse("billing:collections_csv")
XLSX = reverse("billing:collections_xlsx")
DAY_CLOSE = reverse("billing:day_close")
APPROVALS = reverse("billing:approvals")
TARIFF = reverse("billing:tariff")


def text(response) -> str:
    return response.content.decode()


def flashed(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def login(user) -> Client:
    return verified_client(Client(), user)


@pytest.fixture
def morning(clock_at):
    return clock_at(2026, 11, 27, 9, 0)


@pytest.fixture
def clerk(db):
    return f.cashier()


@pytest.fixture
def admin(db):
    return f.supervisor()


def deposit(clerk, amount="500", *, counter="OPD-1", mode="cash", patient=None):
    account = services.account_for(patient=patient or PatientFactory())
    return services.payment_receive(
        actor=clerk, account=account, counter=f.counter(counter), amount=amount, mode=mode,
        kind=PaymentKind.DEPOSIT, reference="412345678901" if mode == "upi" else "",
    )  # fmt: skip


def waiting_refund(clerk, settings, amount="80"):
    settings.AJEYA_BILLING_APPROVAL_LIMIT = D("50")
    paid = deposit(clerk, "100")
    return services.refund_request(
        actor=clerk, account=paid.account, counter=f.counter(), amount=amount, mode="cash",
        reason="patient leaving",
    )  # fmt: skip


# -- the collection report ----------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.BILLING_CLERK, Role.HOSPITAL_ADMIN, Role.AUDITOR])
def test_report_readers_see_collections(client_as, morning, role):
    deposit(f.cashier(), "500")
    response = client_as(role).get(COLLECTIONS)
    assert response.status_code == 200
    body = text(response)
    assert "₹500.00" in body
    assert "Advance deposits / not yet billed" in body
    assert "<svg" in body  # the chart, drawn on the server
    assert 'id="collections-xlsx"' in body


@pytest.mark.parametrize("role", [Role.DOCTOR, Role.REGISTRATION_CLERK, Role.IT_SECURITY])
def test_others_may_not_see_collections(client_as, role):
    client = client_as(role)
    for url in (COLLECTIONS, CSV, XLSX):
        assert client.get(url).status_code == 403


def test_refund_shows_negative_and_reduces_cash(morning, clerk):
    paid = deposit(clerk, "500")
    services.refund_request(
        actor=clerk, account=paid.account, counter=f.counter(), amount="120", mode="cash",
        reason="not admitted",
    )  # fmt: skip
    response = login(clerk).get(COLLECTIONS)
    mode_table = text(response).split("<h2>By mode</h2>")[1].split("</table>")[0]
    cash_row = mode_table.split("<tr>")[2]
    assert "Cash" in cash_row
    assert "-₹120.00" in cash_row
    assert "₹380.00" in cash_row


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-11-27&end=2026-11-20", "before the first"),
        ("start=2026-01-01&end=2026-11-27", "at most 92 days"),
        ("start=27-11-2026", "Enter a valid date"),
        ("counter=NOPE", "Select a valid choice"),
    ],
)
def test_bad_report_periods_are_named(morning, clerk, query, message):
    client = login(clerk)
    response = client.get(f"{COLLECTIONS}?{query}")
    assert response.status_code == 422
    assert message in text(response)
    exported = client.get(f"{CSV}?{query}")
    assert exported.status_code == 422
    assert message in text(exported)


def test_csv_download(morning, clerk):
    deposit(clerk, "500")
    deposit(clerk, "250", counter="OPD-2", mode="upi")
    response = login(clerk).get(f"{CSV}?start=2026-11-27&end=2026-11-27&counter=OPD-2")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "collections-20261127-20261127-OPD-2.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text(response))))
    assert ["Counter", "Counter OPD-2 (OPD-2)"] in rows
    assert ["UPI", "1", "250.00", "0", "0.00", "250.00", "0", "0.00"] in rows
    assert ["Total", "1", "250.00", "0", "0.00", "250.00", "0", "0.00"] in rows


def test_xlsx_download(morning, clerk):
    deposit(clerk, "1234.50")
    response = login(clerk).get(XLSX)
    assert response.status_code == 200
    assert "spreadsheetml" in response["Content-Type"]
    sheet = load_workbook(io.BytesIO(response.content))["Collections"]
    total = next(row for row in sheet.iter_rows() if row[0].value == "Total")
    assert total[2].value == D("1234.50")
    assert total[2].number_format == "#,##0.00"


def _payments(clerk, n: int) -> None:
    """n payments: half against bills of two departments, half deposits, one refund."""
    for i in range(n):
        patient = PatientFactory()
        account = services.account_for(patient=patient)
        if i % 2:
            capture.capture(patient=patient)
            services.charge_post(actor=clerk, account=account, code="PROC-ECG")
            bill = services.bill_create(actor=clerk, account=account)
            services.payment_receive(
                actor=clerk, account=account, counter=f.counter(), amount="60", mode="cash",
                bill=bill,
            )  # fmt: skip
        else:
            paid = deposit(clerk, "100", patient=patient, counter="OPD-2" if i % 4 else "OPD-1")
    services.refund_request(
        actor=clerk, account=paid.account, counter=f.counter(), amount="10", mode="cash",
        reason="change",
    )  # fmt: skip


@pytest.mark.parametrize("n", [5, 50])
def test_collections_page_queries_do_not_grow_with_payments(
    morning, clerk, django_assert_max_num_queries, n
):
    f.load_tariff()
    _payments(clerk, n)
    client = login(clerk)
    with django_assert_max_num_queries(16):
        response = client.get(COLLECTIONS)
    assert response.status_code == 200
    assert response.context["report"].total.receipts == n
    with django_assert_max_num_queries(15):  # 14 + the lockdown check (defense.middleware)
        assert client.get(XLSX).status_code == 200


# -- the day-end close ------------------------------------------------------------------


def test_day_close_shows_expected_and_records_the_difference(morning, clerk):
    deposit(clerk, "500")
    deposit(clerk, "200", mode="upi")
    client = login(clerk)
    page = client.get(DAY_CLOSE)
    assert page.status_code == 200
    body = text(page)
    assert 'data-mode="cash"' in body
    assert "₹500.00" in body
    assert "₹700.00" in body
    response = client.post(
        DAY_CLOSE,
        {"counter": "OPD-1", "date": "2026-11-27", "cash": "480", "card": "", "upi": "200",
         "note": "₹20 short"},
    )  # fmt: skip
    assert response.status_code == 302
    close = DayClose.objects.get(cashier=clerk)
    lines = {ln.mode: (ln.expected, ln.counted, ln.difference) for ln in close.lines.all()}
    assert lines == {
        "cash": (D("500.00"), D("480.00"), D("-20.00")),
        "card": (D("0.00"), D("0.00"), D("0.00")),
        "upi": (D("200.00"), D("200.00"), D("0.00")),
    }
    after = client.get(response.url)
    assert "differences Cash -₹20.00" in " ".join(flashed(after))
    assert 'id="already-closed"' in text(after)
    assert "-₹20.00" in text(after).split('id="past-closes"')[1]


def test_closing_twice_shows_the_services_refusal(morning, clerk):
    deposit(clerk, "500")
    client = login(clerk)
    form = {"counter": "OPD-1", "date": "2026-11-27", "cash": "500"}
    assert client.post(DAY_CLOSE, form).status_code == 302
    again = client.post(DAY_CLOSE, form)
    assert again.status_code == 422
    assert "already closed" in text(again)
    assert DayClose.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cash", "abc", "is not a number"),
        ("card", "-5", "cannot be negative"),
        ("upi", "1.005", "two decimal places"),
        ("date", "2026-11-28", "before it has happened"),
        ("counter", "NOPE", "No open cash counter NOPE"),
    ],
)
def test_bad_counts_are_named_and_nothing_saved(morning, clerk, field, value, message):
    form = {"counter": "OPD-1", "date": "2026-11-27", "cash": "0", field: value}
    f.counter()
    before = LedgerEntry.objects.count()
    response = login(clerk).post(DAY_CLOSE, form)
    assert response.status_code == 422
    assert message in text(response)
    assert not DayClose.objects.exists()
    assert LedgerEntry.objects.count() == before


def test_day_close_of_another_day_and_counter(morning, clerk):
    deposit(clerk, "300", counter="OPD-2")
    response = login(clerk).get(f"{DAY_CLOSE}?counter=OPD-2&date=2026-11-27")
    assert response.status_code == 200
    assert response.context["counter"].code == "OPD-2"
    assert response.context["rows"][0][2] == D("300.00")


def test_day_close_without_counters(clerk):
    response = login(clerk).get(DAY_CLOSE)
    assert response.status_code == 200
    assert "no open cash counter" in text(response)


@pytest.mark.parametrize("role", [Role.HOSPITAL_ADMIN, Role.AUDITOR, Role.DOCTOR])
def test_only_cashiers_close_a_day(client_as, role):
    client = client_as(role)
    assert client.get(DAY_CLOSE).status_code == 403
    assert client.post(DAY_CLOSE, {"counter": "OPD-1", "date": "2026-11-27"}).status_code == 403
    assert not DayClose.objects.exists()


# -- approvals ---------------------------------------------------------------------------


def test_admin_approves_a_refund_and_it_gets_its_voucher(morning, clerk, admin, settings):
    refund = waiting_refund(clerk, settings)
    client = login(admin)
    page = client.get(APPROVALS)
    assert page.status_code == 200
    assert f'id="refund-{refund.pk}"' in text(page)
    patient = refund.account.patient
    assert AccessEntry.objects.filter(patient_uhid=patient.uhid, what=AccessKind.LISTED).exists()
    url = reverse("billing:refund_decide", args=[refund.pk])
    response = client.post(url, {"decision": "approve"}, follow=True)
    refund.refresh_from_db()
    assert (refund.status, refund.decided_by) == (ApprovalStatus.DONE, admin)
    assert refund.number.startswith("RF/OPD-1/")
    assert f"voucher {refund.number}" in " ".join(flashed(response))
    again = client.post(url, {"decision": "approve"}, follow=True)
    assert "already done" in " ".join(flashed(again))


def test_rejecting_needs_a_note(morning, clerk, admin, settings):
    refund = waiting_refund(clerk, settings)
    client = login(admin)
    url = reverse("billing:refund_decide", args=[refund.pk])
    response = client.post(url, {"decision": "reject", "note": ""}, follow=True)
    assert "Add a note" in " ".join(flashed(response))
    refund.refresh_from_db()
    assert refund.status == ApprovalStatus.AWAITING
    client.post(url, {"decision": "reject", "note": "deposit still needed"})
    refund.refresh_from_db()
    assert (refund.status, refund.number) == (ApprovalStatus.REJECTED, None)


def test_admin_approves_a_discount(morning, clerk, admin, settings):
    f.load_tariff()
    settings.AJEYA_BILLING_APPROVAL_LIMIT = D("20")
    patient = PatientFactory()
    capture.capture(patient=patient)
    account = services.account_for(patient=patient)
    services.charge_post(actor=clerk, account=account, code="PROC-PLASTER")
    bill = services.bill_create(actor=clerk, account=account)
    discount = services.discount_request(actor=clerk, bill=bill, amount="100", reason="BPL card")
    client = login(admin)
    assert f'id="discount-{discount.pk}"' in text(client.get(APPROVALS))
    client.post(reverse("billing:discount_decide", args=[discount.pk]), {"decision": "approve"})
    discount.refresh_from_db()
    assert discount.status == ApprovalStatus.DONE


def test_the_requester_may_not_approve(morning, clerk, settings):
    refund = waiting_refund(clerk, settings)
    client = login(clerk)
    assert client.get(APPROVALS).status_code == 403
    url = reverse("billing:refund_decide", args=[refund.pk])
    assert client.post(url, {"decision": "approve"}).status_code == 403
    refund.refresh_from_db()
    assert (refund.status, refund.number) == (ApprovalStatus.AWAITING, None)


def test_decisions_are_post_only_and_name_what_exists(admin):
    client = login(admin)
    assert client.get(reverse("billing:refund_decide", args=[1])).status_code == 405
    assert client.post(reverse("billing:refund_decide", args=[999])).status_code == 404
    assert client.post(reverse("billing:discount_decide", args=[999])).status_code == 404
    assert not Payment.objects.exists()
    assert not Discount.objects.exists()


# -- the tariff -------------------------------------------------------------------------


def test_tariff_search_shows_current_prices(clerk, admin):
    f.load_tariff()
    response = login(clerk).get(f"{TARIFF}?q=ecg")
    assert response.status_code == 200
    body = text(response)
    assert 'id="item-PROC-ECG"' in body
    assert "₹50.00" in body
    assert 'id="item-REG"' not in body
    assert "/price/" not in body  # a clerk may not set prices
    assert "/tariff/PROC-ECG/price/" in text(login(admin).get(f"{TARIFF}?q=ECG"))


def test_tariff_list_queries_are_bounded(clerk, django_assert_max_num_queries):
    f.load_tariff()
    client = login(clerk)
    with django_assert_max_num_queries(10):
        assert client.get(TARIFF).status_code == 200


def test_price_revision_and_overlap_shown_on_the_form(admin):
    f.load_tariff()
    client = login(admin)
    url = reverse("billing:tariff_price", args=["PROC-ECG"])
    assert client.get(url).status_code == 200
    clash = client.post(
        url, {"rate_class": "general", "amount": "70", "effective_from": "2026-05-01",
              "effective_to": "2026-06-30"},
    )  # fmt: skip
    assert clash.status_code == 422
    assert "overlaps the price" in text(clash)
    bad = client.post(
        url, {"rate_class": "general", "amount": "-1", "effective_from": "2027-01-01"}
    )
    assert bad.status_code == 422
    assert "cannot be negative" in text(bad)
    share = client.post(
        url, {"rate_class": "general", "amount": "60", "effective_from": "2027-01-01",
              "scheme_share": "50"},
    )  # fmt: skip
    assert share.status_code == 422
    assert "Only a scheme" in text(share)
    done = client.post(
        url, {"rate_class": "general", "amount": "60", "effective_from": "2027-01-01"}
    )
    assert done.status_code == 302
    periods = TariffPrice.objects.filter(item__code="PROC-ECG", rate_class="general")
    assert [(p.amount, p.effective_from, p.effective_to) for p in periods] == [
        (D("50.00"), dt.date(2026, 4, 1), dt.date(2026, 12, 31)),
        (D("60.00"), dt.date(2027, 1, 1), None),
    ]


def test_only_tariff_managers_set_prices(clerk, client_as):
    f.load_tariff()
    url = reverse("billing:tariff_price", args=["PROC-ECG"])
    before = TariffPrice.objects.count()
    for client in (login(clerk), client_as(Role.AUDITOR)):
        assert client.get(url).status_code == 403
        assert client.post(url, {"rate_class": "general", "amount": "1",
                                 "effective_from": "2027-01-01"}).status_code == 403  # fmt: skip
    assert TariffPrice.objects.count() == before
    assert client_as(Role.DOCTOR).get(TARIFF).status_code == 403


def test_unknown_tariff_item_is_not_found(admin):
    f.load_tariff()
    assert login(admin).get(reverse("billing:tariff_price", args=["NOPE"])).status_code == 404
