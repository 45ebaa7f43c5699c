"""The pre-filled CERT-In report: the fields CERT-In asks for, and the 6-hour deadline
counted from detection (red under an hour, OVERDUE after, settled once reported)."""

from __future__ import annotations

import datetime as dt

import pytest

from ajeya.core.roles import Role
from ajeya.defense import certin, incidents
from ajeya.defense.certin import IncidentKind
from ajeya.defense.models import Incident
from tests.defense.incident_scene import FILE_SHA, OUTSIDE, T0, night

pytestmark = pytest.mark.django_db

DETECTED = T0 + dt.timedelta(minutes=30)


@pytest.fixture
def incident(clock_at, make_user, settings) -> Incident:
    settings.AJEYA_CERTIN_CONTACT_NAME = "Sunil Security"
    settings.AJEYA_CERTIN_CONTACT_ROLE = "CISO"
    settings.AJEYA_CERTIN_CONTACT_EMAIL = "ciso@hospital.example"
    settings.AJEYA_CERTIN_CONTACT_PHONE = "+91 11 2658 8500"
    scene = night(clock_at)
    return incidents.incident_open(
        actor=make_user(Role.IT_SECURITY, username="sec"),
        title="Password guessing",
        kind=IncidentKind.UNAUTHORISED_ACCESS,
        detected_at=DETECTED,
        alerts=[scene.alert],
        summary="Passwords guessed from abroad; one record opened.",
    )


def test_the_deadline_is_six_hours_after_detection(incident):
    due = certin.deadline(incident, now=DETECTED + dt.timedelta(hours=2))
    assert due.at == DETECTED + dt.timedelta(hours=6)
    assert (due.left, due.overdue, due.urgent) == (dt.timedelta(hours=4), False, False)
    assert due.text == "4 h 0 min left (due 30-11-2026 08:30 IST)"


def test_under_an_hour_left_is_urgent_and_after_it_overdue(incident):
    close = certin.deadline(incident, now=DETECTED + dt.timedelta(hours=5, minutes=20))
    assert (close.urgent, close.overdue, close.text.split(" (")[0]) == (True, False, "40 min left")
    late = certin.deadline(incident, now=DETECTED + dt.timedelta(hours=7, minutes=5))
    assert (late.urgent, late.overdue) == (True, True)
    assert late.text == "OVERDUE by 1 h 5 min (was due 30-11-2026 08:30 IST)"


def test_once_reported_it_is_neither(incident):
    incident.reported_at = DETECTED + dt.timedelta(hours=7)
    due = certin.deadline(incident, now=DETECTED + dt.timedelta(hours=9))
    assert (due.urgent, due.overdue) == (False, False)
    assert due.text == "reported 30-11-2026 09:30 IST (LATE)"


def test_the_report_has_every_field_cert_in_asks_for(incident):
    data = certin.report(incident)
    assert data["organisation"] == "Ajeya Demo Hospital"
    assert data["sector"] == "Health"
    assert data["contact"] == {
        "name": "Sunil Security",
        "role": "CISO",
        "phone": "+91 11 2658 8500",
        "email": "ciso@hospital.example",
    }
    assert data["incident_type"] == IncidentKind.UNAUTHORISED_ACCESS
    assert data["occurred_at"] == T0 + dt.timedelta(minutes=20)  # the earliest alert
    assert data["detected_at"] == DETECTED
    assert data["ips"] == [{"ip": OUTSIDE, "place": "CN", "country": "CN", "internal": False}]
    assert data["accounts"] == ["admin"]
    assert data["files"] == [{"path": "/docs/ab/scan.pdf", "sha256": FILE_SHA}]
    assert data["deadline"].at == DETECTED + dt.timedelta(hours=6)
    text = certin.report_text(data)
    for needed in (
        "Organisation:",
        "Contact:",
        "Incident type (Annexure I):",
        "Time of occurrence:",
        "Time of detection:",
        "Affected systems:",
        "Indicators: IP addresses:",
        "Actions taken:",
        "incident@cert-in.org.in",
        "223.5.5.5 (CN)",
        "30-11-2026 02:30 IST",
    ):
        assert needed in text, needed


def test_an_unset_contact_says_so(incident, settings):
    settings.AJEYA_CERTIN_CONTACT_NAME = settings.AJEYA_CERTIN_CONTACT_ROLE = ""
    settings.AJEYA_CERTIN_CONTACT_EMAIL = settings.AJEYA_CERTIN_CONTACT_PHONE = ""
    assert "NOT SET" in certin.report_text(certin.report(incident))


def test_the_report_prints(incident):
    assert certin.report_pdf(incident, printed_by="Sunil Security")[:4] == b"%PDF"


def test_the_types_are_annexure_one_and_fit_the_column():
    assert len(IncidentKind.values) == 20
    assert max(len(v) for v in IncidentKind.values) <= Incident._meta.get_field("kind").max_length
    assert "Data breach" in IncidentKind.values
