"""Lockdown in a real browser: IT/security switches it on with a fresh two-factor code and
is logged out with everyone else, logs back in to a banner on every page, asks to switch
off; a hospital administrator, the second person, confirms with their own code."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ajeya.core.roles import Role
from ajeya.defense import lockdown
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.browser.conftest import log_in, log_in_enrolling
from tests.conftest import enrolled_device
from tests.defense.test_lockdown import code_now

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BANNER = "by Priya Nair: read-only except emergency functions"


def _give_code(page, user) -> None:
    page.fill("#id_token", code_now(user))
    page.press("#id_token", "Enter")


def test_lockdown_on_then_off_by_two_people(page):
    priya = UserFactory(role=Role.IT_SECURITY, username="itdesk", full_name="Priya Nair")
    arun = UserFactory(role=Role.HOSPITAL_ADMIN, username="admin-arun", full_name="Arun Mehta")
    enrolled_device(arun)  # enrolling is a write: not possible once lockdown is on
    log_in_enrolling(page, "itdesk", TEST_PASSWORD)

    page.get_by_role("link", name="Lockdown").first.click()
    expect(page.locator("#lockdown-state")).to_contain_text("running normally")
    page.fill("#id_reason", "Files renamed .locked on the lab server")
    page.fill("#id_token", "000000")
    page.click("#lockdown-form button[type=submit]")
    expect(page.locator("#lockdown-form .error")).to_be_visible()
    page.fill("#id_token", code_now(priya))
    page.click("#lockdown-form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/login/\?next="))
    expect(page.locator(".messages")).to_contain_text("Every session has ended")
    expect(page.locator("#lockdown-banner")).to_contain_text(BANNER)
    assert lockdown.active().started_by == priya

    log_in(page, "itdesk", TEST_PASSWORD)
    _give_code(page, priya)
    page.wait_for_url(lambda url: "two-factor" not in url)
    expect(page.locator("#lockdown-banner")).to_contain_text(BANNER)
    page.get_by_role("link", name="Lockdown").first.click()
    page.fill("#id_note", "Lab server rebuilt, all passwords reset")
    _give_code(page, priya)
    expect(page.locator("#off-requested")).to_contain_text("A second person")
    expect(page.locator("#lockdown-form")).to_have_count(0)

    page.context.clear_cookies()
    log_in(page, "admin-arun", TEST_PASSWORD)
    _give_code(page, arun)
    page.wait_for_url(lambda url: "two-factor" not in url)
    expect(page.locator("#lockdown-banner")).to_contain_text(BANNER)
    page.get_by_role("link", name="Lockdown").first.click()
    expect(page.locator("#lockdown-form button")).to_have_text("Confirm switch off")
    page.fill("#id_note", "Checked the rebuilt server myself")
    _give_code(page, arun)
    expect(page.locator(".messages")).to_contain_text("Lockdown is off")
    expect(page.locator("#lockdown-banner")).to_have_count(0)
    expect(page.locator("#lockdown-history")).to_contain_text("Arun Mehta")
    assert lockdown.active() is None
