"""Anyone holding a printed paper scans its QR code with a phone: no login, a verdict."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ajeya.ledger import papers
from ajeya.patients import services as patients
from tests.patients.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_scanned_slip_is_authentic_then_superseded_after_a_correction(page, clerk):
    patient = PatientFactory(actor=clerk)
    printed, fingerprint = papers.verify_path(patient), papers.fingerprint(patient)
    page.goto(printed)
    expect(page.locator("#verdict")).to_contain_text("AUTHENTIC")
    expect(page.locator("#paper")).to_have_text(f"Registration slip {patient.uhid}")
    expect(page.locator("#superseded")).to_have_count(0)

    patients.patient_update(actor=clerk, patient=patient, reason="spelling", name="Asha Devii")
    page.goto(printed)
    expect(page.locator("#superseded")).to_contain_text("The record has changed")
    expect(page.locator("#changes li")).to_have_count(1)

    page.goto(printed.replace(fingerprint, "f" * 32))
    expect(page.locator("#verdict")).to_contain_text("DOES NOT MATCH")
