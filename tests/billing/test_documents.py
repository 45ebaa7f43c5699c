"""The printed bill, interim bill and receipt: what they say (read back from the PDF),
who may print them, that printing is logged, and amounts in words."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from ajeya.billing import capture, services
from ajeya.billing.documents import amount_in_words, rs
from ajeya.billing.models import PaymentKind
from ajeya.core import clock, money
from ajeya.core.roles import Role
from ajeya.ledger.models import AccessEntry, AccessKind
from tests.billing import factories as f
from tests.conftest import verified_client
from tests.lab.test_documents import pdf_text
from tests.patients.factories import PatientFactory

D = Decimal


# -- amounts in words ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0", "Rupees Zero Only"),
        ("10", "Rupees Ten Only"),
        ("60.00", "Rupees Sixty Only"),
        ("0.50", "Fifty Paise Only"),
        ("101", "Rupees One Hundred One Only"),
        ("1001", "Rupees One Thousand One Only"),
        ("19999", "Rupees Nineteen Thousand Nine Hundred Ninety-Nine Only"),
        (
            "123456.78",
            "Rupees One Lakh Twenty-Three Thousand Four Hundred Fifty-Six and Seventy-Eight "
            "Paise Only",
        ),
        ("1000000", "Rupees Ten Lakh Only"),
        ("10000000", "Rupees One Crore Only"),
        (
            "99999999.99",
            "Rupees Nine Crore Ninety-Nine Lakh Ninety-Nine Thousand Nine Hundred Ninety-Nine "
            "and Ninety-Nine Paise Only",
        ),
        ("1250000000", "Rupees One Hundred Twenty-Five Crore Only"),
    ],
)
def test_amount_in_words_indian_system(amount, words):
    assert amount_in_words(D(amount)) == words


def test_a_negative_amount_has_no_words():
    with pytest.raises(ValueError, match="never negative"):
        amount_in_words(D("-1"))


@given(st.decimals(min_value=0, max_value=money.MAX_AMOUNT, places=2))
def test_words_are_well_formed_for_any_amount(value):
    words = amount_in_words(value)
    assert words.endswith(" Only")
    assert "  " not in words
    assert "Zero" not in words or value == 0
    assert (" Paise" in words) == (value % 1 != 0)


def test_paper_prints_rs_in_indian_grouping():
    assert rs(D("123456.78")) == "Rs 1,23,456.78"
    assert rs(D("-10")) == "-Rs 10.00"


# -- the documents through the pages ---------------------------------------------------


@pytest.fixture
def cashier(db):
    f.load_tariff()
    f.counter()
    return f.cashier()


@pytest.fixture
def client(cashier):
    from django.test import Client

    return verified_client(Client(), cashier)


def _bill(cashier, patient, *codes):
    capture.capture(patient=patient)
    account = services.account_for(patient=patient)
    for code in codes:
        services.charge_post(actor=cashier, account=account, code=code)
    return services.bill_create(actor=cashier, account=account)


def _pay(cashier, account, amount, **kwargs):
    return services.payment_receive(
        actor=cashier, account=account, counter="OPD-1", amount=amount, mode="cash", **kwargs
    )


def printed(uhid: str) -> bool:
    return AccessEntry.objects.filter(what=AccessKind.PRINTED, patient_uhid=uhid).exists()


@pytest.mark.django_db
def test_receipt_shows_its_number_counter_cashier_and_words(client, cashier, clock_at):
    clock_at(2026, 11, 30, 10, 15)
    patient = PatientFactory(name="Kavita Joshi", sex="F")
    bill = _bill(cashier, patient, "PROC-ECG")
    receipt = services.payment_receive(
        actor=cashier,
        account=bill.account,
        counter="OPD-1",
        amount="60",
        mode="upi",
        reference="412345678901",
        bill=bill,
    )
    response = client.get(reverse("billing:receipt_pdf", args=[receipt.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "no-store" in response["Cache-Control"]
    text = pdf_text(response.content)
    assert "RECEIPT" in text
    assert receipt.number in text
    assert "30-11-2026 10:15 IST" in text
    assert "Counter OPD-1 (OPD-1)" in text
    assert "Deepak Cashier" in text
    assert "UPI UTR" in text
    assert "412345678901" in text
    assert bill.number in text
    assert "Rs 60.00" in text
    assert "Rupees Sixty Only" in text
    assert "Kavita Joshi" in text
    assert printed(patient.uhid)


@pytest.mark.django_db
def test_refund_voucher_and_one_awaiting_approval_has_none(client, cashier, settings):
    settings.AJEYA_BILLING_APPROVAL_LIMIT = D("100")
    patient = PatientFactory()
    account = services.account_for(patient=patient)
    _pay(cashier, account, "500", kind=PaymentKind.DEPOSIT)
    done = services.refund_request(
        actor=cashier, account=account, counter="OPD-1", amount="50", mode="cash",
        reason="patient leaving",
    )  # fmt: skip
    text = pdf_text(client.get(reverse("billing:receipt_pdf", args=[done.pk])).content)
    assert "REFUND VOUCHER" in text
    assert done.number in text
    assert done.number.startswith("RF/OPD-1/")
    assert "patient leaving" in text
    assert "Rupees Fifty Only" in text
    waiting = services.refund_request(
        actor=cashier, account=account, counter="OPD-1", amount="300", mode="cash",
        reason="patient leaving",
    )  # fmt: skip
    assert waiting.number is None
    assert client.get(reverse("billing:receipt_pdf", args=[waiting.pk])).status_code == 404


@pytest.mark.django_db
def test_bill_pdf_lines_totals_and_receipts(client, cashier):
    patient = PatientFactory(name="Ramesh Kumar")
    bill = _bill(cashier, patient, "PROC-ECG", "PROC-CERT")
    receipt = _pay(cashier, bill.account, "20", bill=bill)
    response = client.get(reverse("billing:bill_pdf", args=[bill.pk]))
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert bill.number in text
    assert "OPD BILL" in text
    assert "Ramesh Kumar" in text
    assert "[PROC-ECG]" in text
    assert "[REG]" in text
    assert "Patient pays" in text
    assert receipt.number in text
    assert "Balance due" in text
    assert printed(patient.uhid)


@pytest.mark.django_db
def test_scheme_bill_says_what_the_scheme_covers_and_what_the_patient_pays(client, cashier):
    cghs = PatientFactory(category="scheme", scheme="cghs", scheme_beneficiary_id="CG123")
    bill = _bill(cashier, cghs)
    assert (bill.scheme_amount, bill.patient_amount) == (D("10.00"), D("0.00"))
    text = pdf_text(client.get(reverse("billing:bill_pdf", args=[bill.pk])).content)
    assert "CG123" in text
    assert "covers Rs 10.00 of Rs 10.00; the patient pays Rs 0.00." in text


@pytest.mark.django_db
def test_cancelled_bill_prints_as_cancelled(client, cashier):
    bill = _bill(cashier, PatientFactory())
    services.bill_cancel(actor=cashier, bill=bill, reason="registered twice")
    text = pdf_text(client.get(reverse("billing:bill_pdf", args=[bill.pk])).content)
    assert "CANCELLED" in text
    assert "registered twice" in text


@pytest.mark.django_db
def test_a_long_bill_runs_over_pages_with_a_running_line(client, cashier):
    patient = PatientFactory(name="Long Stay")
    bill = _bill(cashier, patient, *["PROC-DRESS"] * 70)
    text = pdf_text(client.get(reverse("billing:bill_pdf", args=[bill.pk])).content)
    assert "Page 2 of" in text
    assert f"bill {bill.number} (continued)" in text
    assert text.count("[PROC-DRESS]") == 70


@pytest.mark.django_db
def test_interim_bill_of_a_stay_with_its_deposit(client, cashier):
    from tests.appointments import factories as schedule
    from tests.ipd import factories as ipd

    ward = ipd.ward("W1", rooms={"1": ["general"]})
    (bed,) = ipd.beds(ward)
    doctor = f.staff(Role.DOCTOR, "dr-ward")
    admission = ipd.admit(
        doctor,
        bed,
        doctor=doctor,
        unit=schedule.clinic("MED-1"),
        admitted_at=clock.now() - dt.timedelta(days=2),
    )
    account = services.account_for(patient=admission.patient, admission=admission)
    deposit = _pay(cashier, account, "1000", kind=PaymentKind.DEPOSIT)
    # Printing posts the bed-days first: the paper is never behind the ward.
    url = reverse("billing:interim_pdf", args=[admission.number])
    text = pdf_text(client.get(url).content)
    assert "INTERIM BILL" in text
    assert "Not a final bill" in text
    assert admission.number in text
    assert "[BED-GEN]" in text
    assert deposit.number in text
    assert "Estimated amount to return" in text
    assert printed(admission.patient.uhid)


@pytest.mark.django_db
def test_a_nurse_may_not_print_billing_papers(make_user, cashier):
    bill = _bill(cashier, PatientFactory())
    receipt = _pay(cashier, bill.account, "10", bill=bill)
    from django.test import Client

    nurse = verified_client(Client(), make_user(Role.NURSE))
    assert nurse.get(reverse("billing:bill_pdf", args=[bill.pk])).status_code == 403
    assert nurse.get(reverse("billing:receipt_pdf", args=[receipt.pk])).status_code == 403
    assert not AccessEntry.objects.filter(what=AccessKind.PRINTED).exists()
