"""A clerk's main path in a real browser: log in, register, find by phone, print the slip."""

from __future__ import annotations

import pytest

from ajeya.core.roles import Role
from ajeya.patients.models import Patient
from tests.accounts.factories import TEST_PASSWORD
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clerk_registers_finds_and_prints(page, make_user):
    make_user(Role.REGISTRATION_CLERK, username="counter3", full_name="Sunita Verma")

    log_in(page, "counter3", TEST_PASSWORD)

    page.get_by_role("link", name="Register patient").first.click()
    page.wait_for_selector("#id_name:focus")
    page.keyboard.type("Kavita Joshi")
    page.check("#id_sex_1")
    page.fill("#id_age_years", "34")
    page.fill("#id_phone", "98111 22334")
    page.fill("#id_district", "South Delhi")
    page.fill("#id_pincode", "110024")
    page.fill("#id_guardian_name", "Mohan Joshi")
    page.press("#id_pincode", "Enter")

    page.wait_for_selector("text=UHID")
    patient = Patient.objects.get()
    assert page.locator(".uhid strong").inner_text() == patient.uhid_display

    page.get_by_role("link", name="Find patient").click()
    page.wait_for_url("**/patients/")
    page.wait_for_load_state("load")
    page.fill("input[name=q]", "9811122334")
    row = page.locator("#results table tbody tr")
    row.first.wait_for()  # htmx swapped the results in without a reload
    assert row.count() == 1
    assert "Kavita Joshi" in row.inner_text()
    page.locator("#results a", has_text="Kavita Joshi").click()

    slip_link = page.locator("#print-slip")
    response = page.request.get(slip_link.get_attribute("href"))
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")


def test_a_refused_field_keeps_what_was_typed(page, make_user):
    make_user(Role.REGISTRATION_CLERK, username="counter4")
    log_in(page, "counter4", TEST_PASSWORD)
    page.goto("/patients/register/")
    page.fill("#id_name", "Arjun Mehta")
    page.check("#id_sex_0")
    page.fill("#id_age_years", "40")
    page.fill("#id_district", "Gurugram")
    page.fill("#id_pincode", "12AB01")
    page.press("#id_pincode", "Enter")
    page.wait_for_selector(".errors-box")
    assert "6 digits" in page.locator(".has-error").inner_text()
    assert page.input_value("#id_name") == "Arjun Mehta"
    assert Patient.objects.count() == 0
