"""Printed papers checked against the ledger: every document's QR code opens a public
page that says whether the paper is what the hospital recorded, superseded, forged, or
printed from a record someone has since tampered with."""

from __future__ import annotations

import io
import logging
import operator

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from ajeya.core import pdf
from ajeya.core.roles import Role
from ajeya.ipd.models import Bed
from ajeya.ledger import papers
from ajeya.ledger.models import LedgerEntry
from ajeya.patients import services as patients
from tests.conftest import verified_client
from tests.core.test_role_matrix import make_world
from tests.ledger.conftest import raw
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


def scan(path: str):
    """What anyone (not logged in) sees when they scan the paper's code."""
    return Client().get(path)


def test_a_fresh_slip_matches_the_record_and_shows_no_patient_details(clerk):
    patient = PatientFactory(actor=clerk, name="Kamla Devi Sharma")
    page = scan(papers.verify_path(patient))
    assert page.status_code == 200
    text = page.content.decode()
    assert "AUTHENTIC" in text
    assert "SUPERSEDED" not in text
    assert f"Registration slip {patient.uhid}" in text
    assert "Kamla" not in text
    assert patient.phone not in text
    assert page["X-Robots-Tag"] == "noindex, nofollow"


def test_a_slip_printed_before_a_correction_is_superseded_and_says_by_what(clerk):
    patient = PatientFactory(actor=clerk)
    old = papers.verify_path(patient)
    patients.patient_update(actor=clerk, patient=patient, reason="spelling", name="Asha Devii")
    page = scan(old).content.decode()
    assert "AUTHENTIC" in page
    assert "SUPERSEDED" in page
    assert "Updated" in page
    assert "by registration clerk" in page
    assert "clerk1" not in page  # staff by role only, never by name
    assert "Sunita" not in page
    patient.refresh_from_db()
    fresh = scan(papers.verify_path(patient)).content.decode()
    assert "AUTHENTIC" in fresh
    assert "SUPERSEDED" not in fresh


def test_a_code_the_hospital_never_recorded_does_not_match(clerk):
    patient = PatientFactory(actor=clerk)
    forged = papers.verify_path(patient).replace(papers.fingerprint(patient), "0" * 32)
    page = scan(forged)
    assert page.status_code == 200
    assert "DOES NOT MATCH" in page.content.decode()
    assert "never recorded this registration slip" in page.content.decode()


def test_a_record_changed_behind_the_apps_back_fails_the_paper_and_warns(clerk, caplog):
    patient = PatientFactory(actor=clerk)
    path = papers.verify_path(patient)
    raw("UPDATE patients_patient SET name = %s WHERE uhid = %s", ["Someone Else", patient.uhid])
    with caplog.at_level(logging.WARNING, logger="ajeya.ledger.papers"):
        page = scan(path).content.decode()
    assert "DOES NOT MATCH" in page
    assert "changed outside the application" in page
    assert any(patient.uhid in r.getMessage() for r in caplog.records)


def test_a_record_deleted_behind_the_apps_back_fails_the_paper(clock_at, make_user):
    from ajeya.appointments.models import Appointment

    clock_at(2026, 11, 30, 9, 0)  # slots left today: the world books one
    appointment = make_world(make_user).appointment
    path = papers.verify_path(appointment)
    raw("DELETE FROM appointments_appointment WHERE id = %s", [appointment.pk])
    assert not Appointment.objects.filter(pk=appointment.pk).exists()
    page = scan(path).content.decode()
    assert "DOES NOT MATCH" in page
    assert "printed from is missing" in page


def test_an_altered_ledger_entry_fails_the_paper(clerk, without_guards):
    patient = PatientFactory(actor=clerk)
    path = papers.verify_path(patient)
    entry = LedgerEntry.objects.get(subject_type="patients.patient", subject_id=patient.uhid)
    raw(
        "UPDATE ledger_ledgerentry SET actor_username = %s WHERE seq = %s",
        ["intruder", entry.seq],
    )
    page = scan(path).content.decode()
    assert "DOES NOT MATCH" in page
    assert f"ledger entry #{entry.seq} for this record was altered" in page


@pytest.mark.parametrize(
    "path",
    [
        "/verify/ipd.bed/" + "a" * 32 + "/1/",  # ledgered, but nothing is printed from it
        "/verify/patients.patient/not-a-digest/100000000001/",
        "/verify/patients.patient/" + "a" * 32 + "/100000000001/",  # no such patient
        "/verify/nothing.here/" + "a" * 32 + "/x/",
    ],
)
def test_codes_for_nothing_printed_are_unknown_not_errors(path):
    page = scan(path)
    assert page.status_code == 404
    assert "UNKNOWN DOCUMENT" in page.content.decode()


def test_a_nul_in_the_number_is_unknown_not_a_database_error():
    found = papers.check("patients.patient", "a" * 32, "1000\x0000001")
    assert found.status == papers.PaperStatus.UNKNOWN


def test_only_papers_get_a_verification_address(make_user, db):
    from ajeya.ipd import services as ipd
    from tests.appointments import factories

    clinic = factories.clinic()
    ward = ipd.ward_create(actor=None, code="W", name="Ward", department=clinic.department)
    room = ipd.room_create(actor=None, ward=ward, number="1")
    ipd.bed_create(actor=None, room=room, label="W-1", category="general")
    with pytest.raises(LookupError, match=r"ipd\.bed is not registered as a printed paper"):
        papers.verify_path(Bed.objects.get())


# -- every printed document carries its check, on every page ------------------------------

CLERK, DOCTOR, CASHIER = Role.REGISTRATION_CLERK, Role.DOCTOR, Role.BILLING_CLERK
DOCUMENTS = {
    # name: (role that prints it, URL name, its argument from the world, title when checked)
    "registration slip": (CLERK, "patients:slip", "patient.uhid", "Registration slip"),
    "appointment slip": (CLERK, "appointments:slip", "appointment.number", "Appointment slip"),
    "prescription": (DOCTOR, "opd:prescription", "visit.pk", "OPD prescription"),
    "admission sheet": (CLERK, "ipd:sheet", "admission.number", "Admission sheet"),
    "discharge summary": (DOCTOR, "ipd:discharge_pdf", "admission.number", "Discharge summary"),
    "bill": (CASHIER, "billing:bill_pdf", "bill.pk", "Bill"),
    "interim bill": (CASHIER, "billing:interim_pdf", "admission.number", "Interim bill"),
    "receipt": (CASHIER, "billing:receipt_pdf", "receipt.pk", "Receipt"),
}  # fmt: skip


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_document_carries_a_code_that_checks_it(
    name, client, make_user, clock_at, monkeypatch
):
    role, url, argument, title = DOCUMENTS[name]
    clock_at(2026, 11, 30, 9, 0)
    world = make_world(make_user)
    drawn: list[str] = []
    real = pdf.draw_qr

    def spy(c, value, *args, **kwargs):
        drawn.append(value)
        return real(c, value, *args, **kwargs)

    monkeypatch.setattr(pdf, "draw_qr", spy)
    verified_client(client, make_user(role, username=f"printer-{role}"))
    response = client.get(reverse(url, args=[operator.attrgetter(argument)(world)]))
    assert response.status_code == 200, response.content[:300]
    pages = len(PdfReader(io.BytesIO(response.content)).pages)
    checks = [v for v in drawn if v.startswith("http://testserver/verify/")]
    assert len(checks) == pages  # one on every page
    assert len(set(checks)) == 1
    page = scan(checks[0].removeprefix("http://testserver"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "AUTHENTIC" in text
    assert "SUPERSEDED" not in text
    assert title in text
