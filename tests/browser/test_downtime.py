"""The downtime snapshot in a real browser with the network switched off, as a ward PC
opens it when the servers are down: the passphrase opens it, nothing is fetched, the
search finds a patient; a wrong passphrase and a damaged file are told apart."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ajeya.downtime import snapshots
from tests.downtime import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

PASSPHRASE = "WARD-PC-OPEN-SESAME-1"


@pytest.fixture
def offline_page(browser):
    """A page with the network off; every request it makes is recorded."""
    context = browser.new_context(locale="en-IN", offline=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    yield page
    context.close()


@pytest.fixture
def snapshot(db, make_user, clinic, tmp_path):
    made = factories.small_hospital(make_user, clinic, PASSPHRASE)
    (ward,) = snapshots.write([snapshots.find_location(ward="W1")], directory=tmp_path)
    return made, ward.path


def test_the_ward_pc_opens_the_snapshot_offline(offline_page, snapshot):
    _, path = snapshot
    page = offline_page
    page.goto(path.as_uri())
    expect(page.locator("#age")).to_contain_text("old")
    page.fill("#passphrase", "not the passphrase")
    page.click("#open")
    expect(page.locator("#problem")).to_contain_text("Wrong passphrase for Ward Ward W1")
    # Typed in lower case with spaces, as people do: still opens.
    page.fill("#passphrase", PASSPHRASE.lower().replace("-", " "))
    page.click("#open")
    expect(page.locator("#census")).to_contain_text("Kamala Devi")
    expect(page.locator("#census")).to_contain_text("Penicillin")
    expect(page.locator(".critical").first).to_be_visible()
    page.fill("#search", "kamala")
    expect(page.locator("#search-count")).to_have_text(re.compile(r"[1-9]\d* found"))
    expect(page.locator("#census tr[data-row]:not(.hidden)")).to_have_count(1)
    page.fill("#search", "nobody-by-this-name")
    expect(page.locator("#search-count")).to_have_text("0 found")
    assert page.requests == [path.as_uri()]  # the file itself, and nothing else


def test_a_damaged_file_says_so(offline_page, snapshot, tmp_path):
    _, path = snapshot
    text = path.read_text()
    body = re.search(r'id="snapshot-body">([^<]*)<', text).group(1)
    damaged = tmp_path / "damaged.html"
    damaged.write_text(text.replace(body, body[:200] + body[201:]))
    offline_page.goto(damaged.as_uri())
    offline_page.fill("#passphrase", PASSPHRASE)
    offline_page.click("#open")
    expect(offline_page.locator("#problem")).to_contain_text("damaged")
