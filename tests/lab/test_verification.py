"""The public report check behind a printed report's QR code: authentic, superseded, does
not match (a forged code, or the laboratory's record changed behind its back) and
unknown — and the patient's details only ever after a matching code."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.urls import reverse

from ajeya.lab import selectors, services
from ajeya.lab.models import Report
from ajeya.lab.selectors import CheckStatus, report_check
from ajeya.ledger import guards
from ajeya.ledger.canonical import state_hash
from ajeya.ledger.models import AccessEntry, LedgerEntry
from ajeya.ledger.registry import state_of
from tests.lab import factories as lab
from tests.lab.test_documents import authorise, stat_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(clock_at):
    """Version 1 of Kamala Devi's report: a critically low fasting glucose."""
    order, samples = stat_order(clock_at)
    clock_at(2026, 11, 30, 9, 10)
    report = authorise(samples["fluoride"], {"FBS": "35"})
    return order, samples, report


def verify_url(report: Report, digest: str | None = None) -> str:
    return reverse("lab:verify", args=[report.number, digest or report.content_hash])


def raw(sql: str, params: list) -> None:
    """Play the intruder: SQL straight at the database, past every service."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def accesses() -> list[tuple[str, str, str]]:
    return list(AccessEntry.objects.values_list("patient_uhid", "what", "actor_username"))


def page(response) -> str:
    """The page's text without its CSRF token: a random token once held "95", which a
    test looks for as a result's value."""
    return re.sub(r'"X-CSRFToken": "[^"]*"', "", response.content.decode())


def test_an_authentic_report_shows_what_the_paper_must_say(issued, client):
    order, samples, report = issued
    response = client.get(verify_url(report))  # nobody logged in: a QR scanned anywhere
    assert response.status_code == 200
    text = page(response)
    assert "AUTHENTIC" in text
    assert "DOES NOT MATCH" not in text
    assert "SUPERSEDED" not in text
    assert f"{report.number} (version 1, partial: tests were pending)" in text
    assert "30-11-2026 09:10 IST" in text
    assert "Kamala Devi" in text
    assert order.patient.uhid_display in text
    assert "56 y / Female" in text
    assert "Glucose, fasting" in text
    assert "<strong>35</strong>" in text
    assert "mg/dL" in text
    assert samples["fluoride"].accession in text
    assert report.content_hash in text
    assert response["Cache-Control"].startswith("max-age=0")
    assert "no-store" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    # The look is recorded with the patient's UHID and no one's name.
    assert accesses() == [(order.patient.uhid, "viewed", "")]


def test_a_logged_in_reader_is_named_in_the_access_entry(issued, client_as):
    order, _, report = issued
    client = client_as("doctor")
    assert "AUTHENTIC" in page(client.get(verify_url(report)))
    assert accesses() == [(order.patient.uhid, "viewed", client.user.username)]


def test_the_digest_is_read_in_either_case(issued, client):
    _, _, report = issued
    assert "AUTHENTIC" in page(client.get(verify_url(report, report.content_hash.upper())))


def test_a_superseded_version_is_authentic_but_says_what_replaced_it(issued, client, clock_at):
    order, samples, first = issued
    clock_at(2026, 11, 30, 10, 0)
    result = lab.results_of(samples["fluoride"])["FBS"]
    services.result_amend(
        actor=lab.pathologist(), result=result, value="85", reason="sample was diluted"
    )
    second = services.results_authorise(
        actor=lab.pathologist("dr-second"), sample=samples["fluoride"]
    )
    text = page(client.get(verify_url(first)))
    assert "AUTHENTIC" in text
    assert "SUPERSEDED" in text
    assert f"replaced by <strong>version 2</strong> ({second.number})" in text
    assert "issued 30-11-2026 10:00 IST" in text
    assert "FBS amended: sample was diluted" in text
    assert "<strong>35</strong>" in text  # what version 1 said, to compare with the paper
    assert accesses() == [(order.patient.uhid, "viewed", "")]

    text = page(client.get(verify_url(second)))
    assert "AUTHENTIC" in text
    assert "SUPERSEDED" not in text
    assert "Glucose, fasting [amended]" in text


@pytest.mark.parametrize(
    "digest",
    [
        "0" * 64,
        "not-a-digest",
        "AUTHENTIC",
    ],
)
def test_a_forged_code_does_not_match_and_shows_nothing_of_the_patient(issued, client, digest):
    order, _, report = issued
    response = client.get(verify_url(report, digest))
    assert response.status_code == 200
    text = page(response)
    assert "DOES NOT MATCH" in text
    assert "the paper was not printed from the report the laboratory issued" in text
    assert "Kamala Devi" not in text
    assert order.patient.uhid_display not in text
    assert "Glucose" not in text
    assert report.content_hash not in text
    assert accesses() == []


def test_one_changed_character_of_the_real_digest_does_not_match(issued, client):
    _, _, report = issued
    digest = report.content_hash
    forged = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    assert "DOES NOT MATCH" in page(client.get(verify_url(report, forged)))
    assert accesses() == []


def test_an_unknown_report_number(client, db):
    response = client.get(reverse("lab:verify", args=["L269999999-1", "a" * 64]))
    assert response.status_code == 404
    text = page(response)
    assert "UNKNOWN REPORT" in text
    assert "L269999999-1" in text
    assert accesses() == []


def test_content_changed_behind_the_application_does_not_match(issued, client):
    _, _, report = issued
    raw(
        "UPDATE lab_report SET content = REPLACE(content, '\"35\"', '\"95\"') WHERE id = %s",
        [report.pk],
    )
    text = page(client.get(verify_url(report)))  # the genuine paper's code
    assert "DOES NOT MATCH" in text
    assert "no longer matches its fingerprint" in text
    assert "Kamala Devi" not in text
    assert "95" not in text
    assert accesses() == []


def test_a_forger_who_rehashes_and_reseals_is_caught_by_the_ledger(issued, client):
    """The intruder changes the value, recomputes the content hash and the row's seal,
    and prints a paper with the new hash: only the ledger still knows the real hash."""
    _, _, report = issued
    content = report.content.replace('"35"', '"95"')
    forged = services.content_hash(content)
    report.content, report.content_hash = content, forged
    seal = state_hash(state_of(report))
    raw(
        "UPDATE lab_report SET content = %s, content_hash = %s, seal = %s WHERE id = %s",
        [content, forged, seal, report.pk],
    )
    check = report_check(report.number, forged)
    assert check.status == CheckStatus.MISMATCH
    assert check.content is None
    assert check.report is None
    assert "The fingerprint the ledger recorded at issue is not the stored one." in check.problems
    assert "The report's record differs from its last ledger entry." in check.problems
    text = page(client.get(verify_url(report, forged)))
    assert "DOES NOT MATCH" in text
    assert "Kamala Devi" not in text
    assert accesses() == []


def test_a_broken_seal_does_not_match(issued):
    _, _, report = issued
    raw("UPDATE lab_report SET reason = 'edited' WHERE id = %s", [report.pk])
    check = report_check(report.number, report.content_hash)
    assert check.status == CheckStatus.MISMATCH
    assert check.problems == [
        "The report's record differs from its last ledger entry.",
        "The report's record was changed after it was sealed.",
    ]


def test_an_altered_ledger_entry_does_not_match(issued):
    """An intruder who dropped the ledger's triggers and edited the issuing entry."""
    _, _, report = issued
    entry = LedgerEntry.objects.get(subject_type="lab.report", subject_id=report.number)
    guards.drop(connection)
    try:
        raw(
            "UPDATE ledger_ledgerentry SET actor_username = 'someone-else' WHERE seq = %s",
            [entry.seq],
        )
    finally:
        guards.install(connection)
    check = report_check(report.number, report.content_hash)
    assert check.status == CheckStatus.MISMATCH
    assert check.problems == ["The ledger entry that recorded this report's issue was altered."]


def test_a_report_the_ledger_never_recorded_does_not_match(issued):
    _, _, report = issued
    guards.drop(connection)
    try:
        raw("DELETE FROM ledger_ledgerentry WHERE subject_type = 'lab.report'", [])
    finally:
        guards.install(connection)
    check = report_check(report.number, report.content_hash)
    assert check.status == CheckStatus.MISMATCH
    assert check.problems == ["The ledger has no record of this report being issued."]


def test_the_check_of_an_intact_report(issued):
    _, _, report = issued
    check = selectors.report_check(f" {report.number.lower()} ", report.content_hash)
    assert check.status == CheckStatus.AUTHENTIC
    assert check.report == report
    assert check.problems == []
    assert check.later == []
    assert check.authorisers == [check.content["sections"][0]["results"][0]["authorised_by"]]
