"""Scheduled reports: creating and stopping a schedule, the periods a run covers (worked
out on the calendar), the files in the archive, idempotence, a failing report among
working ones, downloads re-hashed (a changed file is refused), and who may do what."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ajeya.core.errors import Conflict, PermissionRefused, ValidationFailed
from ajeya.core.roles import Perm, Role
from ajeya.ledger.models import LedgerEntry
from ajeya.reports import registry, services
from ajeya.reports.models import ReportRun, ReportSchedule, RunStatus
from tests.appointments.factories import department

# Friday 27 November 2026; Monday 30 November 2026.


@pytest.fixture(autouse=True)
def archive(settings, tmp_path):
    settings.AJEYA_REPORTS_ARCHIVE_DIR = tmp_path / "reports-archive"
    return tmp_path / "reports-archive"


@pytest.fixture
def admin(make_user):
    return make_user(Role.HOSPITAL_ADMIN, username="admin-mis", full_name="MIS Officer")


@pytest.fixture
def friday(clock_at):
    return clock_at(2026, 11, 27, 9, 0)


def schedule(admin, slug="collections", frequency="daily", dept=None):
    return services.schedule_create(actor=admin, slug=slug, frequency=frequency, department=dept)


# -- schedules ------------------------------------------------------------------------------


def test_create_a_schedule(admin, friday):
    made = schedule(admin, frequency="weekly", dept=department("CARD"))
    made.refresh_from_db()
    assert (made.report, made.frequency, made.department.code) == ("collections", "weekly", "CARD")
    assert made.active
    assert made.next_run_on == dt.date(2026, 11, 27)  # the worker's next round today
    assert made.created_by == admin
    entry = LedgerEntry.objects.get(subject_type="reports.schedule", subject_id=str(made.pk))
    assert entry.actor_username == "admin-mis"
    assert made.seal


@pytest.mark.parametrize(
    ("slug", "frequency", "fields"),
    [
        ("no-such-report", "daily", {"report"}),
        ("collections", "hourly", {"frequency"}),
        ("nope", "yearly", {"report", "frequency"}),
    ],
)
def test_bad_report_or_frequency_refused(admin, friday, slug, frequency, fields):
    with pytest.raises(ValidationFailed) as caught:
        schedule(admin, slug, frequency)
    assert set(caught.value.errors) == fields
    assert not ReportSchedule.objects.exists()


def test_the_same_schedule_twice_refused(admin, friday):
    schedule(admin)
    with pytest.raises(ValidationFailed, match="already scheduled"):
        schedule(admin)
    schedule(admin, frequency="monthly")  # another frequency is another schedule


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.BILLING_CLERK, Role.DOCTOR])
def test_only_an_administrator_schedules(make_user, friday, role):
    with pytest.raises(PermissionRefused):
        schedule(make_user(role))


def test_stop_needs_a_reason_and_happens_once(admin, friday):
    made = schedule(admin)
    with pytest.raises(ValidationFailed, match="why"):
        services.schedule_stop(actor=admin, schedule=made, reason=" ")
    services.schedule_stop(actor=admin, schedule=made, reason="not needed")
    made.refresh_from_db()
    assert not made.active
    entry = LedgerEntry.objects.filter(subject_type="reports.schedule").order_by("seq").last()
    assert entry.reason == "not needed"
    assert entry.after["active"] is False
    with pytest.raises(Conflict):
        services.schedule_stop(actor=admin, schedule=made, reason="again")
    assert services.run_due() == []  # a stopped schedule does not run


# -- the calendar ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "frequency", "start", "end", "next_run"),
    [
        ((2026, 11, 27), "daily", (2026, 11, 26), (2026, 11, 26), (2026, 11, 28)),
        ((2026, 11, 27), "weekly", (2026, 11, 16), (2026, 11, 22), (2026, 11, 30)),
        ((2026, 11, 30), "weekly", (2026, 11, 23), (2026, 11, 29), (2026, 12, 7)),
        ((2026, 11, 27), "monthly", (2026, 10, 1), (2026, 10, 31), (2026, 12, 1)),
        ((2027, 1, 1), "monthly", (2026, 12, 1), (2026, 12, 31), (2027, 2, 1)),
        ((2028, 3, 1), "monthly", (2028, 2, 1), (2028, 2, 29), (2028, 4, 1)),
        ((2026, 3, 1), "daily", (2026, 2, 28), (2026, 2, 28), (2026, 3, 2)),
    ],
)
def test_run_due_periods(admin, clock_at, archive, today, frequency, start, end, next_run):
    clock_at(*today, 0, 30)  # 00:30 IST: still the same IST day (the day before in UTC)
    made = schedule(admin, frequency=frequency)
    (run,) = services.run_due()
    assert run.status == RunStatus.DONE, run.error
    assert (run.period_start, run.period_end) == (dt.date(*start), dt.date(*end))
    made.refresh_from_db()
    assert made.next_run_on == dt.date(*next_run)
    assert sorted(run.files) == ["csv", "pdf", "xlsx"]
    for fmt, entry in run.files.items():
        stored = archive / f"{entry['sha256']}.{fmt}"
        data = stored.read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["size"] == len(data)
        assert entry["name"] == (
            f"collections-{dt.date(*start):%Y%m%d}-{dt.date(*end):%Y%m%d}.{fmt}"
        )
    assert LedgerEntry.objects.filter(subject_type="reports.run", subject_id=str(run.pk)).exists()


def test_next_round_runs_the_next_period(admin, clock_at):
    clock_at(2026, 11, 27, 9, 0)
    schedule(admin)
    services.run_due()
    clock_at(2026, 11, 28, 0, 20)
    (run,) = services.run_due()
    assert (run.period_start, run.period_end) == (dt.date(2026, 11, 27), dt.date(2026, 11, 27))
    assert ReportRun.objects.count() == 2


def test_run_due_twice_the_same_day_runs_once(admin, friday):
    made = schedule(admin)
    assert len(services.run_due()) == 1
    assert services.run_due() == []
    # Even a schedule put back to today (a restored database) does not run the period again.
    ReportSchedule.objects.filter(pk=made.pk).update(next_run_on=dt.date(2026, 11, 27))
    assert services.run_due() == []
    assert ReportRun.objects.count() == 1
    made.refresh_from_db()
    assert made.next_run_on == dt.date(2026, 11, 28)


def test_run_due_takes_a_moment(admin, clock_at):
    clock_at(2026, 11, 27, 9, 0)
    schedule(admin)
    later = dt.datetime(2026, 11, 29, 4, 0, tzinfo=dt.UTC)  # 09:30 IST, 29 November
    (run,) = services.run_due(now=later)
    assert run.period_start == dt.date(2026, 11, 28)


def test_a_failing_report_is_recorded_and_the_others_run(admin, friday, monkeypatch):
    def broken(period, department):
        raise RuntimeError("the lab's data is unreadable")

    monkeypatch.setitem(
        registry.REPORTS,
        "broken",
        registry.Report("broken", "Broken", "Always fails.", Perm.REPORTS_VIEW, broken),
    )
    bad = schedule(admin, slug="broken")
    good = schedule(admin, slug="department-revenue")
    runs = {r.schedule_id: r for r in services.run_due()}
    assert runs[bad.pk].status == RunStatus.FAILED
    assert runs[bad.pk].error == "RuntimeError: the lab's data is unreadable"
    assert runs[bad.pk].files == {}
    assert runs[good.pk].status == RunStatus.DONE
    assert sorted(runs[good.pk].files) == ["csv", "pdf", "xlsx"]
    bad.refresh_from_db()
    assert bad.next_run_on == dt.date(2026, 11, 28)  # tried again tomorrow, not in a loop


def test_same_bytes_stored_once(archive, friday):
    first = services._store(b"one report", "csv")
    again = services._store(b"one report", "csv")
    assert first == again
    assert [p.name for p in archive.iterdir()] == [f"{first[0]}.csv"]


# -- pages ----------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client_as, friday):
    return client_as(Role.HOSPITAL_ADMIN, username="admin-web", full_name="Web Admin")


def test_schedule_from_the_page(admin_client):
    department("CARD")
    response = admin_client.get(reverse("reports:schedules"))
    assert response.status_code == 200
    assert "Department-wise revenue" in response.text
    response = admin_client.post(
        reverse("reports:schedules"),
        {"report": "collections", "frequency": "daily", "department": "card"},
    )
    assert response.status_code == 302
    made = ReportSchedule.objects.get()
    assert made.department.code == "CARD"
    page = admin_client.get(reverse("reports:schedules"))
    assert f'id="schedule-{made.pk}"' in page.text


def test_page_refusals_are_shown(admin_client):
    url = reverse("reports:schedules")
    response = admin_client.post(url, {"report": "collections", "frequency": "daily",
                                       "department": "XYZ"})  # fmt: skip
    assert response.status_code == 422
    assert "There is no department" in response.text
    response = admin_client.post(url, {"report": "nope", "frequency": "hourly"})
    assert response.status_code == 422
    assert 'data-field="report"' in response.text
    assert 'data-field="frequency"' in response.text
    assert not ReportSchedule.objects.exists()


def test_stop_from_the_page(admin_client):
    made = schedule(admin_client.user)
    url = reverse("reports:schedule_stop", args=[made.pk])
    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url, {"reason": ""}, follow=True)
    assert "Say why" in response.text
    made.refresh_from_db()
    assert made.active
    admin_client.post(url, {"reason": "replaced by weekly"})
    made.refresh_from_db()
    assert not made.active
    assert admin_client.post(reverse("reports:schedule_stop", args=[999])).status_code == 404


def test_archive_lists_and_downloads(admin_client, archive):
    schedule(admin_client.user)
    (run,) = services.run_due()
    page = admin_client.get(reverse("reports:archive"))
    assert page.status_code == 200
    assert f'id="run-{run.pk}"' in page.text
    assert "26-11-2026" in page.text
    for fmt in ("csv", "xlsx", "pdf"):
        response = admin_client.get(reverse("reports:archive_file", args=[run.pk, fmt]))
        assert response.status_code == 200
        entry = run.files[fmt]
        assert response.content == (archive / f"{entry['sha256']}.{fmt}").read_bytes()
        assert response["Content-Disposition"] == f'attachment; filename="{entry["name"]}"'
    csv_text = admin_client.get(reverse("reports:archive_file", args=[run.pk, "csv"])).content
    assert "Collections, 26-11-2026" in csv_text.decode("utf-8-sig")
    assert (
        admin_client.get(reverse("reports:archive_file", args=[run.pk, "doc"])).status_code == 404
    )
    assert admin_client.get(reverse("reports:archive_file", args=[999, "csv"])).status_code == 404


def test_a_changed_file_is_refused(admin_client, archive):
    schedule(admin_client.user)
    (run,) = services.run_due()
    stored = archive / f"{run.files['csv']['sha256']}.csv"
    stored.write_bytes(stored.read_bytes().replace(b"Collections", b"Collectionz"))
    response = admin_client.get(reverse("reports:archive_file", args=[run.pk, "csv"]))
    assert response.status_code == 409
    assert "has been changed since it was made" in response.text
    assert "Collectionz" not in response.text
    stored.unlink()
    response = admin_client.get(reverse("reports:archive_file", args=[run.pk, "csv"]))
    assert response.status_code == 409
    assert "missing from the archive" in response.text


def test_a_failed_run_shows_its_error(admin_client, monkeypatch):
    def broken(period, department):
        raise ValueError("no such ward")

    monkeypatch.setitem(
        registry.REPORTS,
        "broken",
        registry.Report("broken", "Broken", "Always fails.", Perm.REPORTS_VIEW, broken),
    )
    schedule(admin_client.user, slug="broken")
    services.run_due()
    page = admin_client.get(reverse("reports:archive"))
    assert "Failed: ValueError: no such ward" in page.text


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.BILLING_CLERK, Role.REGISTRATION_CLERK])
def test_pages_refused_to_other_roles(client_as, admin, friday, role):
    made = schedule(admin)
    (run,) = services.run_due()
    client = client_as(role)
    for url, method in (
        (reverse("reports:schedules"), "get"),
        (reverse("reports:schedules"), "post"),
        (reverse("reports:schedule_stop", args=[made.pk]), "post"),
        (reverse("reports:archive"), "get"),
        (reverse("reports:archive_file", args=[run.pk, "csv"]), "get"),
    ):
        assert getattr(client, method)(url).status_code == 403, url
    made.refresh_from_db()
    assert made.active


def test_pages_send_strangers_to_log_in(client, admin, friday):
    for url in (reverse("reports:schedules"), reverse("reports:archive")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_archive_queries_do_not_grow_with_runs(admin_client, clock_at, make_user):
    for dept in ("CARD", "MRD"):
        schedule(admin_client.user, dept=department(dept))
    services.run_due()

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(reverse("reports:archive")).status_code == 200
        return len(queries)

    few = count()
    for n, slug in enumerate(("department-revenue", "collections")):
        schedule(admin_client.user, slug=slug, frequency=("weekly", "monthly")[n])
    for day in (28, 29, 30):
        clock_at(2026, 11, day, 9, 0)
        services.run_due()
    assert ReportRun.objects.count() > 6
    assert count() == few
    assert few <= 9  # 8 + the lockdown check every request makes (defense.middleware)


def test_demo_schedules_are_made_once_and_run_into_the_archive(make_user):
    from ajeya.reports.models import ReportRun, ReportSchedule
    from ajeya.reports.seed import seed_reports

    make_user(Role.HOSPITAL_ADMIN, username="admin")
    first = seed_reports()
    assert first == {"schedules": 3, "runs": 3}
    assert set(ReportSchedule.objects.values_list("report", flat=True)) == {
        "collections",
        "opd-census",
        "department-revenue",
    }
    assert all(run.status == "done" for run in ReportRun.objects.all())
    assert seed_reports() == first  # nothing twice
