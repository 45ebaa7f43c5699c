"""The billing counter in a real browser: a cashier opens a patient's account, sees the
registration fee, makes the bill, takes cash and reads the receipt number; a refused
payment is explained on the page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ajeya.billing.models import Bill, Payment
from tests.accounts.factories import TEST_PASSWORD
from tests.billing import factories as f
from tests.browser.conftest import log_in
from tests.patients.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def counter(monday_morning):
    f.load_tariff()
    f.counter()
    return f.cashier()


def test_cashier_bills_the_registration_fee_and_takes_cash(page, counter):
    patient = PatientFactory(name="Kavita Joshi", sex="F")

    log_in(page, "cashier-deepak", TEST_PASSWORD)
    page.get_by_role("link", name="Billing").first.click()
    page.wait_for_url("**/billing/")
    find = page.locator("#find-patient")
    find.get_by_label("UHID, IP number or name").fill(patient.uhid_display)
    find.get_by_label("UHID, IP number or name").press("Enter")
    page.wait_for_url(f"**/billing/patients/{patient.uhid}/")
    expect(page.locator(".patient-head h1")).to_contain_text("Kavita Joshi")
    charges = page.locator("#charges")
    expect(charges).to_contain_text("Registration (new UHID)")
    expect(charges).to_contain_text("₹10.00")
    expect(page.locator("#unbilled")).to_contain_text("₹10.00")

    page.click("#make-bill")
    bill = Bill.objects.get()
    page.wait_for_url(f"**/billing/bills/{bill.pk}/")
    expect(page.locator(".messages")).to_contain_text(f"Bill {bill.number} made")
    expect(page.locator("#bill-number")).to_contain_text(bill.number)
    expect(page.locator("#due")).to_have_text("₹10.00")

    form = page.locator("#payment-form")
    # Too much first: the page says why, and nothing is received.
    form.get_by_label("Amount (₹)").fill("15")
    page.click("#take-payment")
    expect(form.locator(".error")).to_contain_text("advance deposit")
    assert not Payment.objects.exists()

    form.get_by_label("Amount (₹)").fill("10")
    expect(form.get_by_label("Mode")).to_have_value("cash")
    page.click("#take-payment")
    expect(page.locator(".messages")).to_contain_text("Receipt R/OPD-1/")
    receipt = Payment.objects.get()
    assert re.fullmatch(r"R/OPD-1/\d{4}-\d{2}/000001", receipt.number)
    expect(page.locator(".messages")).to_contain_text(f"Receipt {receipt.number}: ₹10.00 cash")
    expect(page.locator("#due")).to_have_text("₹0.00")
    link = page.locator(f"#payment-{receipt.pk} a")
    expect(link).to_have_text(receipt.number)
    response = page.request.get(link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
