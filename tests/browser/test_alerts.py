"""The IT/security desk in a real browser: a canary record was opened; the watcher's
alert is on the alerts page with its evidence; IT acknowledges and resolves it with
notes, and the administrators' banner goes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ajeya.core.roles import Role
from ajeya.defense import services, watch
from ajeya.defense.models import Alert, AlertStatus
from ajeya.ledger.models import AccessKind
from ajeya.ledger.services import patients_accessed
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.browser.conftest import log_in_enrolling
from tests.patients.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_handles_a_canary_alert(page):
    decoy = PatientFactory(name="Decoy Person")
    services.canary_add(actor=None, patient=decoy, system=True)
    nosy = UserFactory(role=Role.DOCTOR, username="dr-nosy", full_name="Dr. Nosy")
    patients_accessed(actor=nosy, uhids=[decoy.uhid], what=AccessKind.VIEWED)
    watch.run_rules()  # the worker's watcher does this every 5 s

    UserFactory(role=Role.IT_SECURITY, username="it-desk", full_name="Priya Nair")
    log_in_enrolling(page, "it-desk", TEST_PASSWORD)
    expect(page.locator(".critical-banner")).to_contain_text("1 critical security alert open")
    page.click("header nav >> text=Alerts")
    expect(page.locator("#alerts")).to_contain_text("dr-nosy viewed canary record")
    expect(page.locator("svg.chart")).to_be_visible()
    page.click("#alerts tbody a")
    expect(page.locator("#alert-evidence")).to_contain_text('"chain": "accesses"')
    page.select_option("#id_action", "acknowledge")
    page.fill("#id_note", "Calling the ward in charge about Dr. Nosy")
    page.click("#alert-form button[type=submit]")
    expect(page.locator("#alert-facts")).to_contain_text("acknowledged")
    page.select_option("#id_action", "resolve")
    page.fill("#id_note", "Looked up the wrong patient; reminded of the access policy")
    page.click("#alert-form button[type=submit]")
    expect(page.locator("#alert-facts")).to_contain_text("Resolved")
    assert Alert.objects.get().status == AlertStatus.RESOLVED
    page.goto("/")
    expect(page.locator(".critical-banner")).to_have_count(0)
