"""The OPD counted once per closed day: the stored counts are the visits' own, a change
the ledger records to a counted day is counted again before the next report, and today
is always live."""

from __future__ import annotations

import datetime as dt

import pytest

from ajeya.opd import services as opd
from ajeya.opd.models import Visit
from ajeya.patients import services as patients
from ajeya.reports import rollup
from ajeya.reports.models import OpdDay, RollupDay
from tests.reports.test_clinical import MONDAY, TUESDAY, run

pytestmark = pytest.mark.django_db


def frozen(cells) -> list[tuple]:
    """Cells as comparable tuples (no doctor sorts first)."""
    return sorted(
        (c.date, c.clinic, c.doctor or 0, c.category, c.scheme,
         *(getattr(c, name) for name in rollup.COUNTS), tuple(sorted(c.patients)))
        for c in cells
    )  # fmt: skip


def test_counted_days_hold_exactly_what_the_visits_say(opd_world, clock_at):
    clock_at(2026, 12, 2, 9, 0)
    assert rollup.refresh(MONDAY, TUESDAY) == 2
    assert set(RollupDay.objects.values_list("date", flat=True)) == {MONDAY, TUESDAY}
    for day in (MONDAY, TUESDAY):
        stored = [c for c in rollup.cells(day, day)]
        assert frozen(stored) == frozen(rollup.count_day(day))
        assert stored  # the day had visits
    assert rollup.refresh(MONDAY, TUESDAY) == 0  # nothing changed: nothing counted again


def test_today_is_never_stored(opd_world, clock_at):
    clock_at(2026, 12, 1, 17, 0)  # Tuesday, the clinics still open
    [table] = run("opd-census")
    assert table.rows[-1][0] == TUESDAY  # today's visits are in the report
    assert not OpdDay.objects.filter(date=TUESDAY).exists()
    assert OpdDay.objects.filter(date=MONDAY).exists()


def test_a_visit_changed_after_its_day_was_counted_is_counted_again(opd_world, clock_at, doctor):
    clock_at(2026, 12, 2, 9, 0)
    [before] = run("opd-census")
    monday = {r[1]: r for r in before.rows if r[0] == MONDAY}
    assert monday["Department MED"][6] == 1  # P3 did not answer
    # A change reaching a counted day (here: Monday's clinic, replayed after the count;
    # in a hospital, a correction or an entry made after downtime).
    clock_at(2026, 11, 30, 17, 0)
    waiting = Visit.objects.get(date=MONDAY, patient=opd_world["p1"])
    opd.visit_call(actor=doctor, visit=waiting)
    opd.visit_skip(actor=doctor, visit=waiting)
    opd.visit_mark_no_show(actor=doctor, visit=waiting)
    clock_at(2026, 12, 2, 9, 30)
    [after] = run("opd-census")
    monday = {r[1]: r for r in after.rows if r[0] == MONDAY}
    assert monday["Department MED"][6] == 2


def test_a_patients_new_category_moves_them_in_counted_days(opd_world, clock_at, clerk):
    clock_at(2026, 12, 2, 9, 0)
    [before] = run("scheme-patients")
    assert ["BPL / free", 1, 2, 0] in before.rows  # P2, seen Monday and Tuesday
    patients.patient_update(
        actor=clerk, patient=opd_world["p2"], reason="card verified", category="general"
    )
    [after] = run("scheme-patients")
    groups = {r[0]: r[1:] for r in after.rows}
    assert "BPL / free" not in groups
    assert groups["General"][:2] == [2, 3]  # P1 and P2; P1's visit and P2's two


def test_doctor_patients_are_distinct_across_counted_days(opd_world, clock_at):
    clock_at(2026, 12, 2, 9, 0)
    [table] = run("doctor-consultations")
    asha = next(r for r in table.rows if r[0] == "Dr. Asha Rao")
    assert asha[2:4] == [2, 1]  # two consultations of one patient (P2, Monday and Tuesday)
    assert table.total[3] == 2  # P2 and P4


def test_a_period_reads_counted_days_without_touching_visits(
    opd_world, clock_at, django_assert_max_num_queries
):
    clock_at(2026, 12, 2, 9, 0)
    first = MONDAY - dt.timedelta(days=60)
    rollup.refresh(first, TUESDAY)  # sixty days without visits, counted once
    assert RollupDay.objects.count() == 62
    with django_assert_max_num_queries(5):
        assert len(list(rollup.cells(first, TUESDAY))) == OpdDay.objects.count()


def test_the_worker_counts_the_closed_days_a_report_may_ask_for(opd_world, clock_at):
    from ajeya.reports import tasks

    clock_at(2026, 12, 2, 9, 0)
    assert tasks.reports_opd_rollup.call_local() == 92  # the 92 days up to yesterday
    assert RollupDay.objects.filter(date=MONDAY).exists()
    assert not RollupDay.objects.filter(date=dt.date(2026, 12, 2)).exists()  # today: live
    assert tasks.reports_opd_rollup.call_local() == 0
