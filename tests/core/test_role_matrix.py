"""Every page declares the permission it needs, and every role is refused what it lacks:
a 403 page, and nothing in the database changed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from ajeya.core import clock
from ajeya.core.roles import AUTHENTICATED, PUBLIC, ROLE_PERMISSIONS, Perm, Role
from ajeya.ledger.models import LedgerEntry
from ajeya.patients.models import Patient
from tests.conftest import verified_client
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

# Views that are not ours: Django's admin keeps its own staff-only checks.
FOREIGN_NAMESPACES = {"admin"}


def walk(patterns, namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            if ns in FOREIGN_NAMESPACES:
                continue
            yield from walk(entry.url_patterns, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name}", entry.callback


ALL_VIEWS = list(walk(get_resolver().url_patterns))


def test_every_page_declares_what_it_needs():
    undeclared = [name for name, view in ALL_VIEWS if not hasattr(view, "required_permission")]
    assert undeclared == []


POST_ONLY = {
    "accounts:staff_unlock",
    "accounts:staff_reset_mfa",
    "appointments:cancel",
    "appointments:no_show",
    "opd:arrive",
    "opd:call_next",
    "opd:call",
    "opd:skip",
    "opd:no_show",
    "opd:transfer",
    "opd:follow_up",
    "ipd:observation",
    "ipd:fluid",
    "ipd:note",
    "ipd:medication",
    "ipd:medication_stop",
    "ipd:dose",
    "ipd:transfer",
    "ipd:bed_status",
    "lab:collect",
    "lab:reject",
    "lab:results_enter",
    "lab:results_verify",
    "lab:results_authorise",
    "lab:result_amend",
    "lab:acknowledge",
    "lab:message_match",
    "lab:message_dismiss",
    "billing:charge_add",
    "billing:bill_make",
    "billing:payment",
    "billing:refund",
    "billing:package",
    "billing:charge_reverse",
    "billing:charge_reprice",
    "billing:bill_payment",
    "billing:bill_discount",
    "billing:bill_cancel",
    "billing:refund_decide",
    "billing:discount_decide",
    "reports:schedule_stop",
    "downtime:kit_create",
    "downtime:kit_void",
    "patients:merge_decide",
    "defense:incident_update",
    "defense:incident_evidence",
}


@dataclass
class World:
    """One of everything a page can be about."""

    patient: Patient
    appointment: object
    visit: object
    admission: object
    lab_order: object = None
    lab_sample: object = None
    lab_report: object = None
    bill: object = None
    receipt: object = None
    kit: object = None


def make_world(make_user) -> World:
    from ajeya.appointments import services as appointments
    from ajeya.opd import services as opd
    from tests.appointments import factories

    clerk = make_user(Role.REGISTRATION_CLERK, username="world-clerk")
    doctor = make_user(Role.DOCTOR, username="world-doctor")
    patient = PatientFactory(actor=clerk)
    clinic = factories.clinic()
    today = clock.today()
    session = factories.session(clinic, weekday=today.weekday(), start="00:00", end="23:45")
    later = clock.local(clock.now()).replace(second=0, microsecond=0) + dt.timedelta(minutes=30)
    slot = next((t for t in session.slot_times() if t >= later.time()), None)
    appointment = (
        appointments.appointment_book(
            actor=clerk, patient=patient, session=session, date=today, slot_time=slot
        )
        if slot and later.date() == today
        else None
    )
    other = PatientFactory(actor=clerk)
    visit = opd.visit_check_in(actor=clerk, patient=other, clinic=clinic)
    opd.visit_call_next(actor=doctor, clinic=clinic)
    opd.consultation_save(actor=doctor, visit=visit, complaints="fever", diagnoses=["R50.9"])
    admission = make_admission(clerk, doctor, clinic, other)
    return World(
        patient,
        appointment,
        visit,
        admission,
        *make_lab(make_user, patient),
        *make_billing(make_user, patient),
        make_kit(clinic),
    )


def make_kit(clinic):
    from ajeya.downtime import services

    return services.kit_create(actor=None, department=clinic.department, uhids=2, accessions=2,
                               receipts=1, system=True)  # fmt: skip


def make_billing(make_user, patient):
    """The patient's registration fee and lab tests billed and part paid in cash."""
    from ajeya.billing import capture, services
    from tests.billing import factories

    factories.load_tariff()
    factories.counter("OPD-1")
    cashier = make_user(Role.BILLING_CLERK, username="world-cashier")
    capture.capture(patient=patient)
    bill = services.bill_create(actor=cashier, account=services.account_for(patient=patient))
    receipt = services.payment_receive(
        actor=cashier, account=bill.account, counter="OPD-1", amount="10", mode="cash", bill=bill
    )
    return bill, receipt


def make_lab(make_user, patient):
    """A walk-in CBC, received, with one result authorised (so a report exists), and an
    analyzer message waiting to be matched."""
    from ajeya.lab import services as lab
    from tests.lab import factories

    factories.load_catalogue()
    technician = make_user(Role.LAB_TECHNICIAN, username="world-tech")
    pathologist = make_user(Role.PATHOLOGIST, username="world-path")
    order = factories.walk_in(["CBC"], patient=patient, actor=technician)
    (sample,) = factories.received(order, actor=technician)
    factories.enter(sample, {"HB": "13.5"}, actor=technician)
    lab.results_verify(actor=technician, sample=sample)
    report = lab.results_authorise(actor=pathologist, sample=sample)
    lab.analyzer_message_store(
        lab.AnalyzerMessage(
            sending_application="XN-1000",
            sending_facility="LAB",
            control_id="WORLD-1",
            accession="0000000000",
            observations=[],
            raw="MSH|^~\\&|XN-1000|LAB\r",
        )
    )
    return order, sample, report


def make_admission(clerk, doctor, clinic, patient):
    from ajeya.ipd import services as ipd
    from ajeya.ipd.models import Admission

    ward = ipd.ward_create(actor=None, code="MW", name="Medical ward", department=clinic.department)
    bed = ipd.bed_create(
        actor=None,
        room=ipd.room_create(actor=None, ward=ward, number="1"),
        label="MW-1",
        category="general",
    )
    admission = ipd.admission_create(
        actor=clerk,
        patient=patient,
        bed=bed,
        attending_doctor=doctor,
        unit=clinic,
        provisional_icd10="R50.9",
    )
    ipd.discharge_create(
        actor=doctor,
        admission=admission,
        kind="normal",
        diagnoses=["R50.9"],
        course="settled",
        condition="well",
    )
    return Admission.objects.get(pk=admission.pk)


def sample_kwargs(name: str, world: World, user) -> dict:
    app, _, page = name.partition(":")
    if app == "patients" and page == "merge_decide":
        return {"pk": 1}
    if app == "patients" and page not in {"search", "register", "duplicates", "merges"}:
        return {"uhid": world.patient.uhid}
    if app == "downtime" and page in {"kit", "kit_void", "kit_pdf"}:
        return {"number": world.kit.number}
    if (
        app == "accounts"
        and page.startswith("staff_")
        and page
        not in {
            "staff_list",
            "staff_create",
        }
    ):
        return {"user_id": user.pk}
    if app == "appointments" and page not in {"clinics", "book", "slots", "schedules"}:
        if page == "clinic_day":
            return {"code": world.visit.clinic.code}
        return {"number": world.appointment.number if world.appointment else "A00000000"}
    if app == "opd":
        if page in {"worklist", "call_next"}:
            return {"code": world.visit.clinic.code}
        if page == "timeline":
            return {"uhid": world.patient.uhid}
        if page not in {"index", "check_in", "arrive", "display", "icd10"}:
            return {"pk": world.visit.pk}
    if app == "ipd":
        if page == "ward":
            return {"code": "MW"}
        if page == "bed_status":
            return {"label": "MW-1"}
        if page in {"medication_stop", "dose"}:
            return {"number": world.admission.number, "pk": 1}
        if page not in {"board", "admit", "census", "setup"}:
            return {"number": world.admission.number}
    if app == "lab":
        return lab_kwargs(page, world)
    if app == "billing":
        return billing_kwargs(page, world)
    if app == "reports" and page in {"schedule_stop", "archive_file"}:
        from ajeya.reports import services as reports

        if page == "archive_file" and Perm.REPORTS_SCHEDULE in ROLE_PERMISSIONS[Role(user.role)]:
            reports.schedule_create(actor=user, slug="department-revenue", frequency="daily")
            (run,) = reports.run_due()  # a real archived file to download
            return {"pk": run.pk, "fmt": "csv"}
        return {"pk": 1, **({"fmt": "csv"} if page == "archive_file" else {})}
    if app == "defense" and page == "alert":
        return {"pk": alert_pk()}
    incident_pages = {"incident", "incident_update", "incident_evidence", "certin_text"}
    if app == "defense" and page in {*incident_pages, "certin_pdf"}:
        return {"number": incident_number(user)}
    if app == "reports" and page in {"report", "report_export"}:
        return {"slug": "opd-census", **({"fmt": "csv"} if page == "report_export" else {})}
    return {}


def alert_pk() -> int:
    from ajeya.defense import services
    from ajeya.defense.models import Rule, Severity

    alert = services.alert_raise(rule=Rule.LEDGER, severity=Severity.WARNING, key="matrix",
                                 title="matrix", occurred_at=clock.now())  # fmt: skip
    return alert.pk


def incident_number(user) -> str:
    """A real incident for those who may see one (their page must show it); any number
    for the others (they are refused before it is looked up)."""
    from ajeya.defense import incidents

    if Perm.DEFENSE_INCIDENTS not in ROLE_PERMISSIONS[Role(user.role)]:
        return "INC-2026-0001"
    opened = incidents.incident_open(
        actor=user, title="Matrix", detected_at=clock.now(), kind="Data breach"
    )
    return opened.number


def billing_kwargs(page: str, world: World) -> dict:
    if page == "account":
        return {"uhid": world.patient.uhid}
    if page in {"stay", "interim_pdf"}:
        return {"number": world.admission.number}
    if page in {"charge_add", "bill_make", "payment", "refund", "package"}:
        return {"number": world.bill.account.number}
    if page in {"charge_reverse", "charge_reprice", "refund_decide", "discount_decide"}:
        return {"pk": 1}
    if page in {"bill", "bill_payment", "bill_discount", "bill_cancel", "bill_pdf"}:
        return {"pk": world.bill.pk}
    if page == "receipt_pdf":
        return {"pk": world.receipt.pk}
    if page == "tariff_price":
        return {"code": "REG"}
    return {}


def lab_kwargs(page: str, world: World) -> dict:
    if page in {"order", "placed", "labels"}:
        return {"number": world.lab_order.number}
    if page == "report_pdf":
        return {"number": world.lab_report.number}
    if page == "order_admission":
        return {"number": world.admission.number}
    if page in {"sample", "collect", "results_enter", "results_verify", "results_authorise"}:
        return {"accession": world.lab_sample.accession}
    if page in {"result_amend", "acknowledge", "message_match", "message_dismiss"}:
        return {"pk": 1}
    if page == "section":
        return {"section": "haematology"}
    if page == "analyzer":
        return {"code": "XN1000"}
    if page == "patient_orders":
        return {"uhid": world.patient.uhid}
    return {}


PROTECTED = [
    (name, view.required_permission)
    for name, view in ALL_VIEWS
    if view.required_permission not in (PUBLIC, AUTHENTICATED)
]


@pytest.mark.parametrize("role", list(Role))
def test_each_role_is_refused_exactly_what_it_lacks(client, make_user, role):
    user = make_user(role, username=f"matrix-{role}")
    world = make_world(make_user)
    patient = world.patient
    verified_client(client, user)
    allowed = ROLE_PERMISSIONS[role]
    checked = 0
    for name, perm in PROTECTED:
        url = reverse(name, kwargs=sample_kwargs(name, world, user))
        if perm in allowed:
            if name in POST_ONLY:
                continue  # actions, tested with their apps
            if name.startswith("appointments:") and world.appointment is None:
                continue  # too late in the day for a bookable slot: nothing to show
            if name == "patients:duplicates":
                assert client.post(url, {"name": "x"}).status_code == 200
            else:
                assert client.get(url).status_code == 200, (role, name)
            continue
        before = (Patient.objects.count(), LedgerEntry.objects.count(), patient.version)
        get = client.get(url)
        post = client.post(url, {"name": "Intruder", "reason": "testing", "q": "x"})
        assert get.status_code == 403, (role, name, get.status_code)
        assert post.status_code in (403, 405), (role, name, post.status_code)
        assert b"Not allowed" in get.content
        patient.refresh_from_db()
        assert (Patient.objects.count(), LedgerEntry.objects.count(), patient.version) == before
        checked += 1
    assert checked == sum(1 for _, perm in PROTECTED if perm not in allowed)


def test_the_matrix_gives_every_permission_to_someone():
    held = set().union(*ROLE_PERMISSIONS.values())
    assert held == set(Perm)


def test_it_security_cannot_read_patient_records():
    # Least privilege: those who run the machines do not browse patients.
    assert Perm.PATIENT_VIEW not in ROLE_PERMISSIONS[Role.IT_SECURITY]


def test_anonymous_visitors_are_sent_to_login(client, make_user):
    world = make_world(make_user)
    for name, _ in PROTECTED:
        if name in POST_ONLY or name == "patients:duplicates":
            continue
        kwargs = sample_kwargs(name, world, world.patient.registered_by)
        response = client.get(reverse(name, kwargs=kwargs))
        assert response.status_code == 302, name
        assert response["Location"].startswith("/accounts/login/")


def test_the_roles_page_names_every_permission():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "roles.md").read_text()
    assert [p.value for p in Perm if f"`{p.value}`" not in text] == []
