"""After a downtime, in a real browser: the administrator makes a kit and sees it
reconciled; the clerk enters a paper registration form against a kit's UHID, is shown
that the person may already have a record and asks for a merge; the administrator
approves it and the surviving record shows both registrations."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ajeya.core.roles import Role
from ajeya.downtime import numbers, services
from ajeya.downtime.models import Kit, NumberKind
from ajeya.patients.models import MergeStatus, PatientMerge
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.appointments import factories as schedule
from tests.browser.conftest import log_in, log_in_enrolling
from tests.patients.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _admin_logs_in(page, username: str) -> None:
    UserFactory(role=Role.HOSPITAL_ADMIN, username=username, full_name="Kiran Admin")
    log_in_enrolling(page, username, TEST_PASSWORD)


def _log_out(page) -> None:
    page.context.clear_cookies()


def test_a_kit_is_made_and_reconciled(page):
    schedule.department("MED")
    _admin_logs_in(page, "admin-kit")
    page.click("header nav >> text=Downtime")
    page.select_option("#id_department", "MED")
    page.fill("#id_uhids", "4")
    page.fill("#id_accessions", "0")
    page.fill("#id_receipts", "2")
    page.click("#kit-form button[type=submit]")
    page.wait_for_url(re.compile(r"/downtime/kits/K\d+/$"))
    kit = Kit.objects.get()
    uhid_row = page.locator("#tally tbody tr").first.locator("td")
    expect(uhid_row).to_have_text(["UHIDs", "4", "0", "0", "4"])
    expect(page.locator("svg.chart")).to_be_visible()
    uhid = numbers.numbers(kit, NumberKind.UHID)[1]
    page.select_option("#id_kind", "uhid")
    page.fill("#id_value", uhid)
    page.fill("#id_reason", "form torn")
    page.click("#void-form button[type=submit]")
    expect(uhid_row).to_have_text(["UHIDs", "4", "0", "1", "3"])
    expect(page.locator(".voided-uhid")).to_contain_text("form torn")
    pdf = page.request.get(page.locator("#kit-pdf").get_attribute("href"))
    assert (pdf.headers["content-type"], pdf.body()[:4]) == ("application/pdf", b"%PDF")


def test_a_paper_registration_is_entered_and_merged(page, clock_at):
    clock_at(2026, 11, 30, 8, 0)
    schedule.department("MED")
    kit = services.kit_create(actor=None, department="MED", uhids=3, system=True)
    existing = PatientFactory(name="Lakshmi Narayan", phone="9810099999")
    clock_at(2026, 12, 2, 9, 0)  # the system is back
    UserFactory(role=Role.REGISTRATION_CLERK, username="clerk-back", full_name="Back Clerk")
    log_in(page, "clerk-back", TEST_PASSWORD)
    page.goto("/downtime/back-entry/registration/")
    uhid = numbers.numbers(kit, NumberKind.UHID)[0]
    page.fill("#id_uhid", uhid)
    page.fill("#id_form_number", "R-7")
    page.fill("#id_written_at", "2026-12-01T10:32")
    page.fill("#id_name", "Lakshmi Narayan")
    page.check("input[name=sex][value=F]")
    page.fill("#id_date_of_birth", "1980-05-17")
    page.fill("#id_phone", "9810099999")
    page.fill("#id_district", "South Delhi")
    page.select_option("#id_state", "DL")
    page.fill("#id_pincode", "110029")
    page.click("#backentry-form button[type=submit]")
    expect(page.locator("#entered")).to_contain_text("from form R-7")
    expect(page.locator("#backentry-duplicates")).to_contain_text(existing.uhid_display)
    page.click("#backentry-duplicates >> text=request merge")
    page.fill("#id_reason", "Same name and phone; the patient showed her old card")
    page.click("#merge-form button[type=submit]")
    expect(page.locator("#merged-into")).to_contain_text("waiting for review")
    _log_out(page)

    _admin_logs_in(page, "admin-merge")
    page.click("header nav >> text=Merges")
    expect(page.locator("#merges-waiting")).to_contain_text("Lakshmi Narayan")
    page.click("#merges-waiting button[value=approve]")
    expect(page.locator("#merges-decided")).to_contain_text("Merged")
    assert PatientMerge.objects.get().status == MergeStatus.APPROVED
    page.goto(f"/patients/{existing.uhid}/")
    expect(page.locator("#merged-records")).to_contain_text(uhid[:3])
