"""An auditor's main path in a real browser: two-factor at login, the audit search, a
patient's "who has seen or changed" page."""

from __future__ import annotations

import pytest

from ajeya.core.roles import Role
from ajeya.patients import services
from tests.accounts.factories import TEST_PASSWORD
from tests.browser.conftest import log_in_enrolling
from tests.patients.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_auditor_finds_who_changed_a_patient(page, make_user, clerk):
    patient = PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")
    services.patient_update(
        actor=clerk, patient=patient, reason="as on voter ID", name="Kavita Joshee"
    )
    make_user(Role.AUDITOR, username="audit1", full_name="Harish Gupta")

    log_in_enrolling(page, "audit1", TEST_PASSWORD)
    assert "Never verified" in page.locator("#ledger-status").inner_text()

    page.get_by_role("link", name="Audit").first.click()
    page.select_option("#id_kind", "changes")
    page.fill("#id_uhid", patient.uhid)
    page.press("#id_uhid", "Enter")
    page.wait_for_selector("table.list")
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 2
    assert "Updated" in rows.first.inner_text()

    page.goto(f"/patients/{patient.uhid}/history/")
    history = page.locator("main").inner_text()
    assert "as on voter ID" in history
    assert "Kavita Joshi → Kavita Joshee" in history
