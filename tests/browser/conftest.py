"""A real browser for the pages staff use: Playwright driving Debian's chromium.

Playwright's own browser download cannot work here, so the system chromium is
launched. Without it the tests skip, unless AJEYA_REQUIRE_BROWSER=1 (CI), where a
missing browser is a failure.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread

# The live server shares the test's SQLite connection across threads. A page that
# fires two requests at once (an htmx lookup while a form posts) would then run two
# transactions on one connection, and one's commit ends the other's atomic block.
# One request at a time, as a single connection can serve.


class OneRequestAtATime(ThreadedWSGIServer):
    """Connections stay threaded (a browser keeps several open); requests take turns."""

    def set_app(self, application):
        turn = threading.Lock()

        def app(environ, start_response):
            with turn:
                # The whole response, and its close (request_finished), inside the turn.
                result = application(environ, start_response)
                try:
                    return list(result)
                finally:
                    if hasattr(result, "close"):
                        result.close()

        super().set_app(app)


LiveServerThread.server_class = OneRequestAtATime

CHROMIUM = Path(os.environ.get("AJEYA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("AJEYA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"no browser at {CHROMIUM}: apt-get install chromium")
        pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests
    # make around it are ordinary synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh page that may talk only to the test server: anything else is recorded
    and refused, so a page that reaches for the internet fails its test."""
    context = browser.new_context(base_url=live_server.url, locale="en-IN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    allowed = urlparse(live_server.url).netloc
    page.outside_requests = []

    def guard(route):
        url = urlparse(route.request.url)
        if url.scheme in ("data", "blob") or url.netloc == allowed:
            route.continue_()
        else:
            page.outside_requests.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    yield page
    context.close()
    assert page.outside_requests == []


def code_for(secret_base32: str) -> str:
    """The authenticator app's current code for a TOTP secret shown at enrolment."""
    import base64

    from django_otp.oath import totp

    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    return f"{totp(key):06d}"


def log_in_enrolling(page, username: str, password: str) -> None:
    """Log in as a two-factor role for the first time: enrol the authenticator, go on."""
    log_in(page, username, password)
    page.wait_for_url("**/two-factor/setup/**")
    page.fill("#id_token", code_for(page.locator("code.secret").inner_text()))
    page.press("#id_token", "Enter")
    page.wait_for_url(lambda url: "two-factor" not in url)


def log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
