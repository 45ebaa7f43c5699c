"""The billing counter through Django's full HTTP stack: finding the patient, the
outpatient and inpatient accounts, charges, bills, money in and out, discounts,
cancellations — and every refusal drawn as a page, never a traceback."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ajeya.billing import capture, services
from ajeya.billing.models import (
    ApprovalStatus,
    Bill,
    Charge,
    Discount,
    Payment,
    PaymentKind,
)
from ajeya.core import clock
from ajeya.core.roles import Role
from ajeya.ledger.models import AccessEntry, AccessKind
from tests.billing import factories as f
from tests.conftest import verified_client
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

D = Decimal
HOME = reverse("billing:home")


# -- helpers ----------------------------------------------------------------------------


def text(response) -> str:
    return response.content.decode()


def flashed(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def login(user) -> Client:
    return verified_client(Client(), user)


def account_url(patient) -> str:
    return reverse("billing:account", args=[patient.uhid])


def action(name: str, account) -> str:
    return reverse(f"billing:{name}", args=[account.number])


def pay(client, account, amount, **extra):
    data = {"counter": "OPD-1", "amount": amount, "mode": "cash", "kind": "payment", **extra}
    return client.post(action("payment", account), data)


def opd(patient):
    return services.account_for(patient=patient)


@pytest.fixture
def tariff():
    f.load_tariff()
    f.counter()


@pytest.fixture
def cashier(tariff):
    return f.cashier()


@pytest.fixture
def counter_client(cashier):
    return login(cashier)


@pytest.fixture
def patient(tariff):
    return PatientFactory(name="Kavita Joshi", sex="F")


@pytest.fixture
def billed(patient, cashier):
    """Kavita's registration fee and an ECG on one OPD bill (₹60.00)."""
    capture.capture(patient=patient)
    account = opd(patient)
    services.charge_post(actor=cashier, account=account, code="PROC-ECG")
    return services.bill_create(actor=cashier, account=account)


def stay(patient=None, *, discharged=False):
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
        patient=patient,
        admitted_at=clock.now() - dt.timedelta(days=2),
    )
    if discharged:
        ipd.discharge(doctor, admission)
    return admission


# -- finding the patient ---------------------------------------------------------------


def test_a_uhid_opens_the_account(counter_client, patient):
    response = counter_client.get(HOME, {"q": patient.uhid_display})
    assert response.status_code == 302
    assert response["Location"] == account_url(patient)


def test_a_name_lists_the_matches_and_records_the_listing(counter_client, patient):
    PatientFactory(name="Kavita Sharma")
    response = counter_client.get(HOME, {"q": "kavita"})
    assert response.status_code == 200
    assert "Kavita Joshi" in text(response)
    assert "Kavita Sharma" in text(response)
    assert AccessEntry.objects.filter(what=AccessKind.LISTED).count() == 2


def test_an_ip_number_opens_the_stay_and_an_unknown_one_is_named(counter_client, tariff):
    admission = stay()
    response = counter_client.get(HOME, {"q": admission.number.lower()})
    assert response["Location"] == reverse("billing:stay", args=[admission.number])
    missing = counter_client.get(HOME, {"q": "IP2699999999"})
    assert missing.status_code == 200
    assert "No admission has number IP2699999999" in text(missing)


def test_unknown_patient_bill_and_receipt_are_404(counter_client, tariff):
    assert counter_client.get(reverse("billing:account", args=["999999999999"])).status_code == 404
    assert counter_client.get(reverse("billing:bill", args=[999])).status_code == 404
    assert counter_client.get(reverse("billing:receipt_pdf", args=[999])).status_code == 404


# -- the outpatient account ------------------------------------------------------------


def test_account_captures_the_registration_fee_and_records_the_view(counter_client, patient):
    response = counter_client.get(account_url(patient))
    assert response.status_code == 200
    page = text(response)
    assert "Registration (new UHID)" in page
    assert "₹10.00" in page
    charge = Charge.objects.get(account__patient=patient)
    assert charge.code == "REG"
    assert AccessEntry.objects.filter(
        what=AccessKind.VIEWED, patient_uhid=patient.uhid, actor_username="cashier-deepak"
    ).exists()
    # Opening it again posts nothing twice.
    counter_client.get(account_url(patient))
    assert Charge.objects.filter(account__patient=patient).count() == 1


def test_the_whole_counter_path_charge_bill_cash_receipt(counter_client, patient):
    counter_client.get(account_url(patient))
    account = opd(patient)
    added = counter_client.post(
        action("charge_add", account), {"charge-code": "proc-ecg", "charge-quantity": "1"}
    )
    assert added.status_code == 302
    assert added["Location"] == account_url(patient)
    made = counter_client.post(action("bill_make", account), follow=True)
    bill = Bill.objects.get()
    assert made.redirect_chain[-1][0] == reverse("billing:bill", args=[bill.pk])
    assert f"Bill {bill.number} made: the patient pays ₹60.00." in flashed(made)
    page = text(made)
    assert "Electrocardiogram" in page or "ECG" in page
    assert 'value="60.00"' in page  # the amount due is offered
    paid = counter_client.post(
        reverse("billing:bill_payment", args=[bill.pk]),
        {"counter": "OPD-1", "amount": "60.00", "mode": "cash", "kind": "payment"},
        follow=True,
    )
    receipt = Payment.objects.get()
    assert receipt.number.startswith("R/OPD-1/")
    assert receipt.bill == bill
    assert f"Receipt {receipt.number}: ₹60.00 cash (payment)." in flashed(paid)
    assert reverse("billing:receipt_pdf", args=[receipt.pk]) in text(paid)
    assert counter_client.session["billing_counter"] == "OPD-1"


def test_the_counter_is_remembered_for_the_next_payment(counter_client, patient, cashier):
    f.counter("OPD-2")
    account = opd(patient)
    pay(counter_client, account, "100", kind="deposit", counter="OPD-2")
    page = text(counter_client.get(account_url(patient)))
    assert re.search(r'<option value="OPD-2" selected>', page)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("abc", "is not a number"),
        ("-5", "cannot be negative"),
        ("1.005", "more than two decimal places"),
        ("0", "must be more than zero"),
    ],
)
def test_bad_amounts_are_refused_on_the_form(counter_client, patient, amount, message):
    account = opd(patient)
    response = pay(counter_client, account, amount, kind="deposit")
    assert response.status_code == 422
    assert message in text(response)
    assert 'id="payment-form"' in text(response)
    assert not Payment.objects.exists()


def test_paying_more_than_is_due_is_refused(counter_client, billed):
    response = pay(counter_client, billed.account, "60.01")
    assert response.status_code == 422
    assert "take the rest as an advance deposit" in text(response)
    assert not Payment.objects.exists()


def test_upi_without_its_utr_is_refused(counter_client, billed):
    response = pay(counter_client, billed.account, "60", mode="upi")
    assert response.status_code == 422
    assert "12-digit UTR" in text(response)
    upi = pay(counter_client, billed.account, "60", mode="upi", reference="412345678901")
    assert upi.status_code == 302
    assert Payment.objects.get().reference == "412345678901"


def test_refund_more_than_paid_is_refused_and_within_it_paid(counter_client, patient):
    account = opd(patient)
    pay(counter_client, account, "100", kind="deposit")
    data = {"refund-counter": "OPD-1", "refund-amount": "100.01", "refund-mode": "cash"}
    too_big = counter_client.post(action("refund", account), {**data, "refund-reason": "leaving"})
    assert too_big.status_code == 422
    assert "more than was paid and not used" in text(too_big)
    no_reason = counter_client.post(action("refund", account), {**data, "refund-amount": "50"})
    assert no_reason.status_code == 422
    done = counter_client.post(
        action("refund", account),
        {**data, "refund-amount": "90", "refund-reason": "patient leaving"},
        follow=True,
    )
    voucher = Payment.objects.get(kind=PaymentKind.REFUND)
    assert voucher.number.startswith("RF/OPD-1/")
    assert f"Refund voucher {voucher.number}: ₹90.00 paid back." in flashed(done)


def test_a_big_refund_waits_and_has_no_voucher_yet(counter_client, patient, settings):
    settings.AJEYA_BILLING_APPROVAL_LIMIT = D("50")
    account = opd(patient)
    pay(counter_client, account, "100", kind="deposit")
    done = counter_client.post(
        action("refund", account),
        {"refund-counter": "OPD-1", "refund-amount": "80", "refund-mode": "cash",
         "refund-reason": "patient leaving"},
        follow=True,
    )  # fmt: skip
    refund = Payment.objects.get(kind=PaymentKind.REFUND)
    assert refund.status == ApprovalStatus.AWAITING
    assert any("awaiting a second person's approval" in m for m in flashed(done))
    assert counter_client.get(reverse("billing:receipt_pdf", args=[refund.pk])).status_code == 404


@pytest.fixture
def unpriced(db):
    """A registration fee posted before the tariff was loaded: no price."""
    patient = PatientFactory(name="Early Bird")
    capture.capture(patient=patient)
    charge = Charge.objects.get(account__patient=patient)
    assert not charge.priced
    return charge


def test_an_unpriced_charge_blocks_billing_until_re_priced(unpriced):
    f.load_tariff()
    f.counter()
    client = login(f.cashier())
    account = unpriced.account
    page = client.get(account_url(account.patient))
    assert "no tariff price" in text(page)
    assert 'id="unpriced"' in text(page)
    refused = client.post(action("bill_make", account))
    assert refused.status_code == 409
    assert "have no tariff price (REG)" in text(refused)
    assert not Bill.objects.exists()
    priced = client.post(reverse("billing:charge_reprice", args=[unpriced.pk]), follow=True)
    assert "priced from the tariff: ₹10.00" in " ".join(flashed(priced))
    assert client.post(action("bill_make", account)).status_code == 302
    assert Bill.objects.get().patient_amount == D("10.00")


def test_reversing_a_charge_needs_a_reason_and_is_marked(counter_client, patient):
    counter_client.get(account_url(patient))
    charge = Charge.objects.get(account__patient=patient)
    url = reverse("billing:charge_reverse", args=[charge.pk])
    refused = counter_client.post(url, {"reason": ""})
    assert refused.status_code == 422
    assert "Say why the charge is reversed" in text(refused)
    done = counter_client.post(url, {"reason": "registered twice"}, follow=True)
    assert any("reversed" in m for m in flashed(done))
    assert re.search(rf'id="charge-{charge.pk}".*?reversed</span>', text(done), re.S)
    again = counter_client.post(url, {"reason": "again"})
    assert again.status_code == 409
    assert "already reversed" in text(again)


def test_a_bad_tariff_code_or_quantity_is_named(counter_client, patient):
    account = opd(patient)
    response = counter_client.post(
        action("charge_add", account), {"charge-code": "NOPE", "charge-quantity": "-1"}
    )
    assert response.status_code == 422
    page = text(response)
    assert "No active tariff item has the code" in page
    assert "Quantity must be a number" in page


def test_making_a_bill_with_nothing_to_bill_is_a_conflict(counter_client, billed):
    response = counter_client.post(action("bill_make", billed.account))
    assert response.status_code == 409
    assert "There are no unbilled charges" in text(response)


# -- a bill ----------------------------------------------------------------------------


def test_bill_page_shows_lines_totals_and_records_the_view(counter_client, billed):
    response = counter_client.get(reverse("billing:bill", args=[billed.pk]))
    assert response.status_code == 200
    page = text(response)
    assert billed.number in page
    assert "₹60.00" in page
    assert "PROC-ECG" in page
    assert AccessEntry.objects.filter(
        what=AccessKind.VIEWED, patient_uhid=billed.account.patient.uhid
    ).exists()


def test_discount_too_big_refused_and_within_given(counter_client, billed):
    url = reverse("billing:bill_discount", args=[billed.pk])
    too_big = counter_client.post(
        url, {"discount-amount": "60.01", "discount-reason": "poor patient"}
    )
    assert too_big.status_code == 422
    assert "more than the patient&#x27;s share" in text(too_big)
    no_reason = counter_client.post(url, {"discount-amount": "10"})
    assert no_reason.status_code == 422
    done = counter_client.post(url, {"discount-amount": "10", "discount-reason": "BPL card"})
    assert done.status_code == 302
    assert Discount.objects.get().status == ApprovalStatus.DONE


def test_cancel_a_bill_needs_a_reason_then_frees_the_money(counter_client, billed):
    pay(counter_client, billed.account, "60")
    url = reverse("billing:bill_cancel", args=[billed.pk])
    refused = counter_client.post(url, {"cancel-reason": ""})
    assert refused.status_code == 422
    done = counter_client.post(url, {"cancel-reason": "wrong patient"}, follow=True)
    assert f"Bill {billed.number} cancelled" in " ".join(flashed(done))
    assert 'id="cancelled"' in text(done)
    assert 'id="payment-form"' not in text(done)  # nothing more is taken on it
    again = counter_client.post(url, {"cancel-reason": "again"})
    assert again.status_code == 409
    account = text(counter_client.get(account_url(billed.account.patient)))
    assert re.search(r'id="credit">₹60.00<', account)


# -- an inpatient stay -----------------------------------------------------------------


def test_stay_takes_a_deposit_and_shows_the_interim_balance(counter_client, tariff):
    admission = stay()
    url = reverse("billing:stay", args=[admission.number])
    page = counter_client.get(url)
    assert page.status_code == 200
    account = page.context["account"]
    assert account.admission == admission
    assert "BED-GEN" in text(page)  # two midnights of bed charges captured
    done = counter_client.post(
        action("payment", account),
        {"counter": "OPD-1", "amount": "1000", "mode": "cash", "kind": "deposit"},
        follow=True,
    )
    deposit = Payment.objects.get()
    assert deposit.kind == PaymentKind.DEPOSIT
    assert done.redirect_chain[-1][0] == url
    assert re.search(r'id="estimated">₹\S+ to return', text(done))


def test_final_bill_before_discharge_is_refused_with_its_reason(counter_client, tariff):
    admission = stay()
    counter_client.get(reverse("billing:stay", args=[admission.number]))
    account = services.account_for(patient=admission.patient, admission=admission)
    response = counter_client.post(action("bill_make", account))
    assert response.status_code == 409
    assert "The final bill is made at discharge" in text(response)
    assert not Bill.objects.exists()


def test_final_bill_after_discharge(counter_client, tariff):
    admission = stay(discharged=True)
    counter_client.get(reverse("billing:stay", args=[admission.number]))
    account = services.account_for(patient=admission.patient, admission=admission)
    response = counter_client.post(action("bill_make", account))
    assert response.status_code == 302
    assert Bill.objects.get().kind == "ipd"


def test_package_for_a_scheme_patient_and_a_bad_code(counter_client, tariff):
    pmjay = PatientFactory(category="scheme", scheme="pmjay", scheme_beneficiary_id="PMJ12345")
    admission = stay(pmjay)
    counter_client.get(reverse("billing:stay", args=[admission.number]))
    account = services.account_for(patient=pmjay, admission=admission)
    bad = counter_client.post(
        action("package", account),
        {"package-code": "PROC-ECG", "package-reason": "PMJAY pre-auth PA-1"},
    )
    assert bad.status_code == 422
    assert "is not a package in the tariff" in text(bad)
    done = counter_client.post(
        action("package", account),
        {"package-code": "PKG-APPX", "package-reason": "PMJAY pre-auth PA-778812"},
        follow=True,
    )
    assert "Package PKG-APPX booked" in " ".join(flashed(done))
    account.refresh_from_db()
    assert account.package.code == "PKG-APPX"
    assert 'id="package-form"' not in text(done)


def test_patient_account_lists_their_stays(counter_client, patient):
    admission = stay(patient)
    page = text(counter_client.get(account_url(patient)))
    assert reverse("billing:stay", args=[admission.number]) in page


# -- who may do what -------------------------------------------------------------------


def test_a_nurse_may_not_open_the_counter(make_user, patient):
    nurse = login(make_user(Role.NURSE))
    assert nurse.get(HOME).status_code == 403
    assert nurse.get(account_url(patient)).status_code == 403


def test_an_auditor_reads_but_may_not_take_money(make_user, patient, billed):
    auditor = login(make_user(Role.AUDITOR))
    page = auditor.get(account_url(patient))
    assert page.status_code == 200
    assert 'id="payment-form"' not in text(page)
    assert 'id="make-bill"' not in text(page)
    assert pay(auditor, billed.account, "10").status_code == 403
    refused = auditor.post(reverse("billing:bill_cancel", args=[billed.pk]), {"cancel-reason": "x"})
    assert refused.status_code == 403
    assert not Payment.objects.exists()
    assert Bill.objects.get().cancelled_at is None


def test_actions_are_post_only(counter_client, billed):
    assert counter_client.get(action("payment", billed.account)).status_code == 405


# -- the account page does not grow its queries with the account -------------------------


def test_account_page_queries_do_not_grow_with_the_account(
    counter_client, patient, cashier, django_assert_max_num_queries
):
    account = opd(patient)
    counter_client.get(account_url(patient))
    with CaptureQueriesContext(connection) as small:
        counter_client.get(account_url(patient))
    for _ in range(6):
        services.charge_post(actor=cashier, account=account, code="PROC-ECG")
        bill = services.bill_create(actor=cashier, account=account)
        services.payment_receive(
            actor=cashier, account=account, counter="OPD-1", amount="50", mode="cash", bill=bill
        )
    for _ in range(5):
        services.charge_post(actor=cashier, account=account, code="PROC-DRESS")
    with django_assert_max_num_queries(len(small)):
        response = counter_client.get(account_url(patient))
    assert response.status_code == 200
    assert len(small) <= 30
    assert (len(response.context["bills"]), len(response.context["payments"])) == (6, 6)
    assert len(response.context["charges"]) == 5
