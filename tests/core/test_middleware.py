"""What every request goes through: a NUL character in an address is 'not found' (on
PostgreSQL it would otherwise fail every query), and printed documents are not cached."""

from __future__ import annotations

import pytest

from ajeya.core import pdf
from ajeya.core.roles import Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "address",
    ["/patients/100%0000000427/", "/ipd/admissions/IP%002026/", "/patients/?q=ram%00esh"],
)
def test_a_nul_character_in_an_address_is_not_found(client_as, address):
    client = client_as(Role.REGISTRATION_CLERK)
    response = client.get(address)
    assert response.status_code == 404
    assert b"Traceback" not in response.content


def test_a_printed_document_is_not_kept_in_the_browsers_cache():
    reply = pdf.response(b"%PDF-1.4", "slip.pdf")
    assert reply["Cache-Control"] == "no-store, private"
    assert reply["Content-Disposition"] == 'inline; filename="slip.pdf"'
