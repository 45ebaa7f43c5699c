"""Turnaround times on a handful of samples with known times: counts, medians, 90th
percentiles and the share within target exactly, IST day boundaries, what is late now,
the chart, the CSV, bad periods and who may see it."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from ajeya.core.roles import Role
from ajeya.lab import charts, services, tat
from ajeya.lab.models import Panel
from tests.lab import factories as lab
from tests.lab.test_documents import authorise

pytestmark = pytest.mark.django_db

URL = reverse("lab:tat")
CSV_URL = reverse("lab:tat_csv")


def at(clock_at, moment: dt.datetime) -> None:
    """Set the clock to a naive IST moment."""
    clock_at(moment.year, moment.month, moment.day, moment.hour, moment.minute)


def through(clock_at, panel: str, collected, received=None, authorised=None, priority="routine"):
    """Order and collect a sample at `collected`, receive it at `received` and authorise
    every result at `authorised` (the steps left out are not done)."""
    at(clock_at, collected)
    order = lab.walk_in([panel], priority=priority)
    sample = order.samples.get()
    services.sample_collect(actor=lab.technician(), sample=sample)
    if received:
        at(clock_at, received)
        sample = services.sample_receive(actor=lab.technician(), accession=sample.accession)
    if authorised:
        at(clock_at, authorised)
        authorise(sample, {code: "1" for code in lab.results_of(sample)})
    return sample


def t(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute)  # noqa: DTZ001 - naive IST, see at()


@pytest.fixture
def week(clock_at):
    """FBS (target 120): receipt to authorisation 60, 90, 180, 120 min; collection to
    receipt 20, 40, 10, 30. CBC (target 120): 45 and 5. RBS (target 60): one just after
    midnight IST on the first day (25 min, in), one just before it (out). Still open at
    12:00 on the 30th: an FBS received at 09:00 (late by 60), a STAT RBS received at
    10:45 (late by 15), a STAT CBC received at 10:30 (not late) and an FBS not received."""
    lab.load_catalogue()
    through(clock_at, "FBS", t(30, 8, 10), t(30, 8, 30), t(30, 9, 30))
    through(clock_at, "FBS", t(29, 10), t(29, 10, 40), t(29, 12, 10))
    through(clock_at, "FBS", t(28, 7, 5), t(28, 7, 15), t(28, 10, 15))
    through(clock_at, "FBS", t(27, 9), t(27, 9, 30), t(27, 11, 30))
    through(clock_at, "CBC", t(30, 8), t(30, 8, 5), t(30, 8, 50))
    through(clock_at, "RBS", t(23, 23, 30), t(23, 23, 40), t(24, 0, 5))
    through(clock_at, "RBS", t(23, 22, 50), t(23, 23), t(23, 23, 55))
    late_fbs = through(clock_at, "FBS", t(30, 8, 45), t(30, 9))
    late_rbs = through(clock_at, "RBS", t(30, 10, 40), t(30, 10, 45), priority="stat")
    through(clock_at, "CBC", t(30, 10, 20), t(30, 10, 30), priority="stat")
    through(clock_at, "FBS", t(30, 6))
    at(clock_at, t(30, 12))
    return late_fbs, late_rbs


def by_line(data: tat.Turnaround) -> dict[str, tat.TatRow]:
    return {row.panel or row.section: row for row in data.rows}


def test_the_catalogue_targets_the_numbers_below_assume(db):
    lab.load_catalogue()
    targets = dict(Panel.objects.values_list("code", "tat_minutes"))
    assert (targets["FBS"], targets["CBC"], targets["RBS"]) == (120, 120, 60)


def test_medians_percentiles_and_within_target_exactly(week, django_assert_num_queries):
    with django_assert_num_queries(3):  # the period's items, the targets, the late items
        data = tat.turnaround(tat.period(dt.date(2026, 11, 24), dt.date(2026, 11, 30)))
    rows = by_line(data)
    assert [r.panel or r.section for r in data.rows] == [
        "haematology",
        "CBC",
        "biochemistry",
        "FBS",
        "RBS",
    ]
    fbs = rows["FBS"]
    assert (fbs.count, fbs.target, fbs.section_label) == (4, 120, "Biochemistry")
    assert sorted(fbs.lab) == [60, 90, 120, 180]
    assert fbs.lab_median == 105
    assert fbs.lab_p90 == 180  # nearest rank: the 4th of 4
    assert fbs.within == 3  # 120 minutes on a 120-minute target is on time
    assert fbs.within_percent == 75.0
    assert (fbs.transit_median, fbs.transit_p90) == (25, 40)
    assert not fbs.late

    rbs = rows["RBS"]  # only the one authorised after midnight IST on the 24th
    assert (rbs.count, rbs.lab, rbs.transit, rbs.within_percent) == (1, [25], [10], 100.0)

    biochemistry = rows["biochemistry"]  # each item judged by its own panel's target
    assert biochemistry.is_section
    assert biochemistry.target is None
    assert (biochemistry.count, biochemistry.lab_median, biochemistry.lab_p90) == (5, 90, 180)
    assert biochemistry.within_percent == 80.0
    assert (biochemistry.transit_median, biochemistry.transit_p90) == (20, 40)

    cbc = rows["CBC"]
    assert (cbc.count, cbc.lab_median, cbc.lab_p90, cbc.transit_median) == (1, 45, 45, 5)
    assert rows["haematology"].count == 1


def test_late_now_lists_stat_first_then_the_most_overdue(week):
    late_fbs, late_rbs = week
    late = tat.late_now()
    assert [(x.accession, x.panel, x.is_stat, x.minutes_over) for x in late] == [
        (late_rbs.accession, "RBS", True, 15),
        (late_fbs.accession, "FBS", False, 60),
    ]
    assert late[0].target == 60
    assert late[1].section_label == "Biochemistry"


def test_a_day_is_an_ist_day(week):
    first_day = tat.turnaround(tat.period(dt.date(2026, 11, 24), dt.date(2026, 11, 24)))
    assert [(r.panel or r.section, r.count) for r in first_day.rows] == [
        ("biochemistry", 1),
        ("RBS", 1),
    ]
    day_before = tat.turnaround(tat.period(dt.date(2026, 11, 23), dt.date(2026, 11, 23)))
    assert [(r.panel, r.lab) for r in day_before.rows if r.panel] == [("RBS", [55])]
    chosen = tat.period(dt.date(2026, 11, 24), dt.date(2026, 11, 24))
    assert chosen.start == dt.datetime(2026, 11, 23, 18, 30, tzinfo=dt.UTC)
    assert chosen.end == dt.datetime(2026, 11, 24, 18, 30, tzinfo=dt.UTC)


def test_percentiles():
    assert tat.median([]) is None
    assert tat.p90([]) is None
    assert tat.median([5.0]) == tat.p90([5.0]) == 5.0
    values = [float(n) for n in range(1, 11)]  # 1 … 10
    assert tat.median(values) == 5.5
    assert tat.p90(values) == 9.0
    assert tat.p90([*values, 11.0]) == 10.0  # ceil(9.9) = the 10th of 11


def test_periods(clock_at):
    clock_at(2026, 11, 30, 23, 50)
    assert tat.period() == tat.Period(dt.date(2026, 11, 24), dt.date(2026, 11, 30))
    assert tat.period(last=dt.date(2026, 11, 10)).first == dt.date(2026, 11, 4)
    assert tat.period(first=dt.date(2026, 11, 1)).days == 30
    assert tat.period(dt.date(2026, 9, 1), dt.date(2026, 12, 1)).days == 92
    with pytest.raises(tat.ValidationFailed) as caught:
        tat.period(dt.date(2026, 9, 1), dt.date(2026, 12, 2))
    assert caught.value.errors == {"first": ["Choose at most 92 days; this period has 93."]}
    with pytest.raises(tat.ValidationFailed) as caught:
        tat.period(dt.date(2026, 11, 2), dt.date(2026, 11, 1))
    assert caught.value.errors == {"last": ["The last day is before the first day."]}


# -- the page --------------------------------------------------------------------------


def test_the_dashboard_shows_the_last_seven_days_by_default(week, client_as):
    response = client_as(Role.PATHOLOGIST).get(URL)
    assert response.status_code == 200
    data = response.context["data"]
    assert data.period == tat.Period(dt.date(2026, 11, 24), dt.date(2026, 11, 30))
    text = response.content.decode()
    assert 'value="2026-11-24"' in text
    assert 'value="2026-11-30"' in text
    assert "<svg" in text
    assert "FBS Glucose, fasting" in text
    assert "75%" in text
    assert "105" in text
    assert week[0].accession in text
    assert week[1].accession in text
    assert "<strong>STAT</strong>" in text
    assert f"{CSV_URL}?first=2026-11-24&amp;last=2026-11-30" in text


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        (
            {"first": "2026-11-30", "last": "2026-11-01"},
            422,
            "The last day is before the first day.",
        ),
        ({"first": "2026-01-01", "last": "2026-11-30"}, 422, "Choose at most 92 days"),
        ({"first": "2026-02-30"}, 422, "Enter a valid date."),
        ({"first": "2026-09-01", "last": "2026-12-01"}, 200, ""),
    ],
)
def test_bad_periods_are_clear_form_errors(clock_at, client_as, query, status, message):
    clock_at(2026, 11, 30, 12, 0)
    response = client_as(Role.HOSPITAL_ADMIN).get(URL, query)
    assert response.status_code == status
    text = response.content.decode()
    if message:
        assert message in text
        assert response.context["data"] is None
        assert "tat-table" not in text
    else:
        assert "tat-table" in text


def test_the_csv_export(week, client_as):
    response = client_as(Role.AUDITOR).get(CSV_URL, {"first": "2026-11-24", "last": "2026-11-30"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="lab-tat-20261124-20261130.csv"' in response["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert lines[0] == tat.CSV_HEADER
    fbs = next(line for line in lines if line[1] == "FBS")
    assert fbs == [
        "Biochemistry",
        "FBS",
        "Glucose, fasting",
        "120",
        "4",
        "105.0",
        "180.0",
        "75.0",
        "25.0",
        "40.0",
    ]
    assert [line[1] for line in lines[1:]] == ["(all)", "CBC", "(all)", "FBS", "RBS"]


def test_a_bad_period_for_the_csv_is_an_error_page(client_as, clock_at):
    clock_at(2026, 11, 30, 12, 0)
    response = client_as(Role.PATHOLOGIST).get(
        CSV_URL, {"first": "2026-11-30", "last": "2026-11-01"}
    )
    assert response.status_code == 422
    assert "The last day is before the first day." in response.content.decode()


def test_a_spreadsheet_formula_in_a_name_is_defused():
    assert tat._text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert tat._text("Glucose") == "Glucose"


@pytest.mark.parametrize(
    "role", [Role.DOCTOR, Role.LAB_TECHNICIAN, Role.NURSE, Role.REGISTRATION_CLERK]
)
def test_turnaround_times_are_refused_to_roles_without_lab_tat(client_as, role):
    client = client_as(role)
    assert client.get(URL).status_code == 403
    assert client.get(CSV_URL).status_code == 403


def test_an_empty_period_says_so(client_as, clock_at, db):
    clock_at(2026, 11, 30, 12, 0)
    text = client_as(Role.PATHOLOGIST).get(URL).content.decode()
    assert "Nothing was authorised in this period." in text
    assert "Nothing is late." in text
    assert "<svg" not in text


# -- the chart -------------------------------------------------------------------------


def row(panel: str, target: int, minutes: list[float], section="biochemistry"):
    return tat.TatRow(section, section.title(), panel, f"{panel} <name>", target, lab=minutes)


def test_the_chart_draws_median_against_target():
    svg = str(
        charts.tat_svg(
            [
                tat.TatRow("biochemistry", "Biochemistry", lab=[30, 200]),
                row("FBS", 120, [30, 40, 50]),
                row("KFT", 180, [200, 210, 300]),
            ]
        )
    )
    assert svg.count("<rect") == 2
    assert svg.count("<line") == 2  # a target tick per panel
    assert f'fill="{charts.ON_TIME}"><title>FBS FBS &lt;name&gt;: median 40 min' in svg
    assert f'fill="{charts.LATE}"><title>KFT KFT &lt;name&gt;: median 210 min' in svg
    assert "<name>" not in svg  # escaped
    assert svg.count("Biochemistry") == 1
    assert charts.tat_svg([]) == ""
