"""The dashboards on a small hospital whose day is counted by hand: each panel's numbers
and charts, the resilience panel's honest "not configured yet" and its providers, which
panels each role sees, and query counts that do not grow with the data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ajeya.appointments import services as appointments
from ajeya.billing import services as billing
from ajeya.core.roles import Role
from ajeya.ledger.models import VerificationRun
from ajeya.opd import services as opd
from ajeya.reports import dashboard_charts, dashboards
from tests.appointments import factories as schedule
from tests.billing import factories as money
from tests.ipd import factories as ipd
from tests.lab import factories as lab
from tests.lab.test_tat import t, through
from tests.opd import factories as visits
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 30)
URL = reverse("reports:dashboard")
D = Decimal


@pytest.fixture
def hospital(clock_at, clerk, doctor, clinic, surgery):
    """Sunday 29th: a walk-in in Medicine; P and Q admitted to ward W1 (2 general beds);
    an FBS received, never authorised. Monday 30th (today): in Medicine a booked patient
    arrives 09:10, a walk-in 09:30, a walk-in 10:40, a walk-in 11:05 who is sent on to
    Surgery; in Surgery a walk-in 10:15. Q goes home at 11:00 (bed to cleaning); R is
    admitted to ICU ward I1 (2 ICU beds) at 12:00. Lab: CBC 08:00 to 08:50 (50 min), FBS
    08:10 to 09:30 (80 min), FBS ordered 10:00 and not received. Money: an ECG (₹50,
    CARD) billed and paid ₹30 cash and ₹20 UPI."""
    lab.load_catalogue()
    money.load_tariff()
    general = ipd.beds(ipd.ward("W1", dept="MED"))
    icu = ipd.beds(ipd.ward("I1", dept="MED", rooms={"1": ["icu", "icu"]}))

    clock_at(2026, 11, 29, 9, 0)
    visits.checked_in(clerk, clinic, PatientFactory())
    ipd.admit(doctor, general[0], doctor=doctor, unit=clinic)
    q = ipd.admit(doctor, general[1], doctor=doctor, unit=clinic)
    through(clock_at, "FBS", t(29, 15), t(29, 15, 20))

    clock_at(2026, 11, 30, 8, 0)
    session = schedule.session(clinic, weekday=0)
    booked_patient = PatientFactory()
    booked = appointments.appointment_book(
        actor=clerk, patient=booked_patient, session=session, date=TODAY,
        slot_time=dt.time(9, 0),
    )  # fmt: skip
    through(clock_at, "CBC", t(30, 8), t(30, 8, 5), t(30, 8, 50))
    through(clock_at, "FBS", t(30, 8, 10), t(30, 8, 30), t(30, 9, 30))
    clock_at(2026, 11, 30, 9, 10)
    visits.checked_in(clerk, clinic, booked_patient, appointment=booked)
    clock_at(2026, 11, 30, 9, 30)
    visits.checked_in(clerk, clinic, PatientFactory())
    through(clock_at, "FBS", t(30, 10))
    clock_at(2026, 11, 30, 10, 15)
    visits.checked_in(clerk, surgery, PatientFactory())
    clock_at(2026, 11, 30, 10, 40)
    visits.checked_in(clerk, clinic, PatientFactory())
    clock_at(2026, 11, 30, 11, 0)
    ipd.discharge(doctor, q)
    clock_at(2026, 11, 30, 11, 5)
    sent = visits.checked_in(clerk, clinic, PatientFactory())
    clock_at(2026, 11, 30, 11, 20)
    opd.visit_transfer(actor=doctor, visit=sent, to_clinic=surgery, reason="Hernia")
    clock_at(2026, 11, 30, 12, 0)
    ipd.admit(doctor, icu[0], doctor=doctor, unit=clinic)

    clock_at(2026, 11, 30, 13, 0)
    cashier = money.cashier()
    account = billing.account_for(patient=PatientFactory(name="Meena"))
    billing.charge_post(actor=cashier, account=account, code="PROC-ECG")
    bill = billing.bill_create(actor=cashier, account=account)
    for amount, mode, ref in (("30", "cash", ""), ("20", "upi", "412345678901")):
        billing.payment_receive(
            actor=cashier, account=account, counter=money.counter(), amount=amount,
            mode=mode, reference=ref, bill=bill,
        )  # fmt: skip
    clock_at(2026, 11, 30, 16, 0)
    return {"general": general, "icu": icu}


# -- OPD ----------------------------------------------------------------------------------


def test_opd_counts_arrivals_by_department_and_hour(hospital):
    data = dashboards.opd(TODAY)
    assert data.departments == ["Department MED", "Department SURG"]
    assert data.hours == [9, 10, 11]
    assert data.by_hour == {
        ("Department MED", 9): 2,
        ("Department MED", 10): 1,
        ("Department SURG", 10): 1,
        ("Department MED", 11): 1,  # sent on to Surgery: counted once, where they came
    }
    assert data.by_department == [("Department MED", 1, 3), ("Department SURG", 0, 1)]
    assert (data.total, data.booked, data.walk_in) == (5, 1, 4)


def test_opd_charts_draw_the_hours_and_departments(hospital):
    hours, split = dashboard_charts.opd_charts(dashboards.opd(TODAY))
    assert hours.startswith("<svg")
    for label in ("09:00", "10:00", "11:00", "Department MED", "Department SURG"):
        assert label in hours
    assert "Department MED 09:00-10:00: 2" in hours
    assert "Department SURG 10:00-11:00: 1" in hours
    assert hours.count("<rect") == 4 + 2  # four stacked pieces, two legend keys
    assert "Department MED: 1 by appointment" in split
    assert "Department MED: 3 walk-in" in split
    assert "Department SURG: 1 walk-in" in split
    assert "1 + 3" in split


def test_an_empty_day_has_no_opd_chart(db):
    data = dashboards.opd(TODAY)
    assert (data.total, data.hours, data.by_department) == (0, [], [])
    assert dashboard_charts.opd_charts(data) == ["", ""]


# -- beds ---------------------------------------------------------------------------------


def test_beds_by_ward_and_category_with_todays_movements(hospital):
    data = dashboards.beds(TODAY)
    shown = [(o.label, o.beds, o.occupied, o.free, o.other, o.percent) for o in data.by_ward]
    assert shown == [("Ward I1 (I1)", 2, 1, 1, 0, 50), ("Ward W1 (W1)", 2, 1, 0, 1, 50)]
    by_category = [(o.label, o.beds, o.occupied, o.free) for o in data.by_category]
    assert by_category == [("General", 2, 1, 0), ("ICU", 2, 1, 1)]
    t_ = data.total
    assert (t_.beds, t_.occupied, t_.free, t_.other, t_.percent) == (4, 2, 1, 1, 50)
    assert (data.admissions, data.discharges, data.deaths) == (1, 1, 0)
    ward_svg, category_svg = dashboard_charts.bed_charts(data)
    assert "Ward W1 (W1)" in ward_svg
    assert "Ward I1 (I1)" in ward_svg
    assert "1/2 (50%)" in ward_svg
    assert "ICU: 1/2 (50%) occupied" in category_svg
    assert "General" in category_svg


def test_a_full_ward_is_drawn_red(hospital, doctor, clinic):
    ipd.admit(doctor, hospital["icu"][1], doctor=doctor, unit=clinic)
    svg = dashboard_charts.occupancy_svg(dashboards.beds(TODAY).by_ward, title="Wards")
    assert 'fill="#b42318"><title>Ward I1 (I1): 2/2 (100%)' in svg


# -- the laboratory -------------------------------------------------------------------------


def test_lab_workload_turnaround_and_pending(hospital):
    data = dashboards.lab(TODAY)
    rows = [
        (s.label, s.ordered, s.authorised, s.cancelled, s.median_minutes, s.pending)
        for s in data.sections
    ]
    assert rows == [("Haematology", 1, 1, 0, 50, 0), ("Biochemistry", 2, 1, 0, 80, 2)]
    total = data.total
    assert (total.ordered, total.authorised, total.cancelled, total.pending) == (3, 2, 0, 2)
    assert total.median_minutes == 65
    assert total.oldest == dt.datetime(2026, 11, 29, 9, 30, tzinfo=dt.UTC)  # 15:00 IST
    ordered, tat, pending = dashboard_charts.lab_charts(data)
    assert "Haematology: 1" in ordered
    assert "Biochemistry: 2" in ordered
    assert "Biochemistry: 80" in tat
    assert "Haematology: 50" in tat
    assert "Biochemistry: 2" in pending
    assert "Haematology" not in pending  # nothing waits there


# -- collections ----------------------------------------------------------------------------


def test_collections_by_mode_and_department(hospital):
    data = dashboards.collections(TODAY)
    assert {r.label: r.net for r in data.by_mode} == {
        "Cash": D("30.00"), "Card": D("0.00"), "UPI": D("20.00"), "Scheme": D("0.00"),
    }  # fmt: skip
    assert {r.label: r.net for r in data.by_department} == {"Department CARD": D("50.00")}
    assert data.total.net == D("50.00")
    modes, departments = dashboard_charts.collection_charts(data)
    assert "Cash: ₹30.00" in modes
    assert "UPI: ₹20.00" in modes
    assert "Department CARD: ₹50.00" in departments
    assert dashboards.collections(TODAY - dt.timedelta(days=1)).total.net == 0


# -- resilience -----------------------------------------------------------------------------


def test_resilience_lines_come_from_their_providers(db, clock_at):
    clock_at(2026, 11, 30, 16, 0)
    data = dashboards.resilience(TODAY)
    assert data.ledger.last_run is None
    # Backups and drills answer from the resilience app, snapshots from downtime, alerts
    # from defense.
    assert [(c.title, c.ok) for c in data.checks] == [
        ("Last backup", False),
        ("Last verified restore", False),
        ("Downtime snapshots", False),
        ("Open security alerts", True),
    ]
    assert data.checks[0].text.startswith("never backed up")
    assert data.checks[1].text.startswith("never drilled")
    assert data.checks[2].text == "no active wards or OPD clinics"
    assert data.checks[3].text == "none"

    saved = dict(dashboards._resilience)
    dashboards.register_resilience(
        "backup", lambda day: dashboards.Check("Last backup", f"{day:%d-%m-%Y} 02:00", ok=True)
    )

    def broken(day):
        raise RuntimeError("target unreachable")

    dashboards.register_resilience("alerts", broken)
    try:
        backup, _, _, alerts = dashboards.resilience(TODAY).checks
    finally:
        dashboards._resilience.clear()
        dashboards._resilience.update(saved)
    assert (backup.text, backup.ok) == ("30-11-2026 02:00", True)
    assert (alerts.title, alerts.ok) == ("Open security alerts", False)
    with pytest.raises(ValueError, match="unknown"):
        dashboards.register_resilience("coffee", broken)
    dashboards.unregister_resilience("alerts")
    try:
        assert dashboards.resilience(TODAY).checks[3].text.startswith("Not configured yet")
    finally:
        dashboards.register_resilience("alerts", saved["alerts"])


def test_resilience_panel_shows_the_last_verification(client_as, clock_at):
    clock_at(2026, 11, 30, 16, 0)
    client = client_as(Role.IT_SECURITY)
    page = client.get(URL).content.decode()
    assert "never verified" in page
    assert "never backed up" in page
    assert "never drilled" in page
    assert "Not configured yet" not in page  # every line answers now
    assert "Open security alerts:</strong>" in page
    VerificationRun.objects.create(**_clean_run())
    page = client.get(URL).content.decode()
    assert "never verified" not in page
    assert "clean, 30-11-2026 15:00 IST" in page


def _clean_run() -> dict:
    at = dt.datetime(2026, 11, 30, 9, 30, tzinfo=dt.UTC)  # 15:00 IST
    return {"started_at": at, "finished_at": at, "ok": True, "entries_checked": 10,
            "rows_checked": 5, "findings": [], "trigger": "manual"}  # fmt: skip


# -- who sees what ----------------------------------------------------------------------------

EXPECTED = {
    Role.HOSPITAL_ADMIN: ["opd", "beds", "lab", "collections", "resilience"],
    Role.AUDITOR: ["opd", "beds", "lab", "collections", "resilience"],
    Role.DOCTOR: ["opd", "beds"],
    Role.NURSE: ["opd", "beds"],
    Role.REGISTRATION_CLERK: ["opd", "beds"],
    Role.LAB_TECHNICIAN: ["lab"],
    Role.PATHOLOGIST: ["lab"],
    Role.BILLING_CLERK: ["collections"],
    Role.IT_SECURITY: ["resilience"],
}


def test_every_role_is_listed():
    assert set(EXPECTED) == set(Role)


@pytest.mark.parametrize("role", list(EXPECTED))
def test_each_role_sees_exactly_its_panels(role, make_user, client, clock_at):
    from tests.conftest import verified_client

    clock_at(2026, 11, 30, 16, 0)
    user = make_user(role)
    assert [p.key for p in dashboards.panels_for(user)] == EXPECTED[role]
    page = verified_client(client, user).get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    for panel in dashboards.PANELS:
        assert (f'id="panel-{panel.key}"' in html) == (panel.key in EXPECTED[role])


def test_a_role_without_panels_is_told_so(client_as, monkeypatch, clock_at):
    clock_at(2026, 11, 30, 16, 0)
    monkeypatch.setattr(dashboards, "PANELS", [])
    page = client_as(Role.DOCTOR).get(URL)
    assert page.status_code == 200
    assert "Your role has no dashboard" in page.content.decode()


def test_the_dashboard_needs_a_login(client):
    page = client.get(URL)
    assert page.status_code == 302
    assert "/login" in page["Location"] or "login" in page["Location"]


def test_the_administrators_page_shows_every_number_and_chart(hospital, client_as):
    html = client_as(Role.HOSPITAL_ADMIN).get(URL).content.decode()
    assert "Monday 30-11-2026" in html
    assert "<strong>5</strong> patients arrived: 1 by appointment, 4 walk-in." in html
    assert "<strong>2</strong> of 4 beds occupied (50%), 1 free" in html
    assert "1 admission, 1 discharge" in html
    assert "<strong>3</strong> tests ordered, 2 authorised (median 65 min from order)" in html
    assert "<strong>2</strong> results pending, the oldest ordered 29-11-2026 15:00 IST" in html
    assert "Net collected today: <strong>₹50.00</strong> on 2 receipts" in html
    assert html.count('<svg class="chart"') == 2 + 2 + 3 + 2
    assert "Open security alerts" in html


def test_the_home_page_links_to_the_dashboard(client_as):
    html = client_as(Role.BILLING_CLERK).get(reverse("core:home")).content.decode()
    assert URL in html


# -- query counts -----------------------------------------------------------------------------


def queries(read) -> int:
    with CaptureQueriesContext(connection) as captured:
        read(TODAY)
    return len(captured)


READS = [dashboards.opd, dashboards.beds, dashboards.lab, dashboards.collections]


def page_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL).status_code == 200
    return len(captured)


def test_query_counts_do_not_grow_with_the_data(hospital, clock_at, clerk, doctor, clinic,
                                                surgery, client_as):  # fmt: skip
    client = client_as(Role.HOSPITAL_ADMIN)
    small = [queries(read) for read in READS]
    small_page = page_queries(client)
    assert small[:3] == [1, 3, 3]
    assert max(small) <= 8
    clock_at(2026, 11, 30, 14, 0)
    for clinic_ in (clinic, surgery, clinic):
        visits.checked_in(clerk, clinic_, PatientFactory())
    ward = ipd.beds(ipd.ward("W2", dept="SURG", rooms={"1": ["private", "hdu"]}))
    ipd.admit(doctor, ward[0], doctor=doctor, unit=surgery)
    for _ in range(2):
        through(clock_at, "CBC", t(30, 14), t(30, 14, 5), t(30, 14, 30))
    through(clock_at, "RBS", t(30, 15))
    cashier = money.cashier()
    account = billing.account_for(patient=PatientFactory())
    billing.charge_post(actor=cashier, account=account, code="PROC-DRESS")
    bill = billing.bill_create(actor=cashier, account=account)
    billing.payment_receive(
        actor=cashier, account=account, counter=money.counter(), amount="30", mode="card",
        reference="CARD-1", bill=bill,
    )  # fmt: skip
    clock_at(2026, 11, 30, 16, 0)
    assert [queries(read) for read in READS] == small
    assert page_queries(client) == small_page
    later = dashboards.opd(TODAY)
    assert later.total == 8  # the new data was counted
    assert later.hours == [9, 10, 11, 12, 13, 14]  # the quiet hours between have a place
    assert "12:00" in dashboard_charts.opd_charts(later)[0]
