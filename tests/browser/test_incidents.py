"""An investigation in a real browser: IT/security opens an incident from an alert, sees
the timeline with the outside address's country and the CERT-In deadline, and takes the
evidence bundle away."""

from __future__ import annotations

import re
import zipfile

import pytest
from playwright.sync_api import expect

from ajeya.core.roles import Role
from ajeya.defense.models import Incident
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.browser.conftest import log_in_enrolling
from tests.defense.incident_scene import OUTSIDE, night, use_keys

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_incident_is_opened_from_an_alert_and_investigated(page, clock_at, settings, tmp_path):
    use_keys(settings, tmp_path)
    scene = night(clock_at)  # 03:00 IST; a brute-force alert from 223.5.5.5 at 02:20
    UserFactory(role=Role.IT_SECURITY, username="sec-night", full_name="Sunil Security")
    log_in_enrolling(page, "sec-night", TEST_PASSWORD)

    page.goto(f"/defense/incidents/new/?alerts={scene.alert.pk}")
    expect(page.locator("#id_title")).to_have_value(f"Password guessing from {OUTSIDE}")
    expect(page.locator(f"input[name=alerts][value='{scene.alert.pk}']")).to_be_checked()
    page.fill("#id_detected_at", "2026-11-30T02:30:00")
    page.click("#incident-form button[type=submit]")
    page.wait_for_url(re.compile(r"/defense/incidents/INC-2026-0001/$"))

    deadline = page.locator("#certin-deadline")
    expect(deadline).to_contain_text("5 h 30 min left (due 30-11-2026 08:30 IST)")
    expect(page.locator("#certin-ips")).to_contain_text(f"{OUTSIDE} (CN)")
    outside = page.locator("#timeline tr.event-login_failed")
    expect(outside).to_contain_text("failed login as admin (locked out)")
    expect(outside.locator("td.place")).to_have_text("CN")
    expect(page.locator("#timeline tr.event-login td.place")).to_have_text("internal (LAN)")
    expect(page.locator("svg#events-chart")).to_be_visible()

    page.fill("#id_user", "mallory")
    page.click("#timeline-filter button[type=submit]")
    expect(page.locator("#timeline tbody tr")).to_have_count(1)
    expect(page.locator("#timeline tbody tr")).to_contain_text("mallory viewed patient")

    with page.expect_download() as download:
        page.click("#export-evidence")
    saved = tmp_path / "evidence.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        names = {name.split("/", 1)[1] for name in archive.namelist()}
    assert {"manifest.json", "timeline.jsonl", "indicators.stix.json", "ledger-slice.json"} <= names
    assert Incident.objects.get().alerts.get() == scene.alert

    page.click("header nav >> text=Incidents")
    expect(page.locator("#incidents tbody tr")).to_contain_text("5 h 30 min left")
