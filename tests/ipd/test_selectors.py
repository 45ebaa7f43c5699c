"""What the wards read: the bed board, who lay near whom, fluid balance, the census,
admission advice waiting for a bed; and the charts drawn from them."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from ajeya.core.roles import Role
from ajeya.ipd import charts, selectors, services
from ajeya.ipd.models import BedStatus
from tests.conftest import IST
from tests.ipd import factories
from tests.opd import factories as opd
from tests.patients.factories import PatientFactory


@pytest.fixture
def nurse(make_user):
    return make_user(Role.NURSE, username="nurse-lata", full_name="Lata Menon")


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=IST)


# -- the bed board --------------------------------------------------------------------


@pytest.fixture
def two_wards(db):
    w1 = factories.ward(
        "W1", rooms={"1": ["general", "general", "general"], "2": ["general", "icu"]}
    )
    w2 = factories.ward("W2", rooms={"1": ["private", "private"]}, dept="SURG")
    return w1, w2


def test_the_bed_board_counts_beds_by_status(
    monday_morning, two_wards, clerk, doctor, nurse, clinic
):
    w1, w2 = two_wards
    beds = {b.label: b for b in factories.beds(w1) + factories.beds(w2)}
    patient = PatientFactory(actor=clerk, name="Mohan Das")
    admission = factories.admit(clerk, beds["W1-1-1"], doctor=doctor, unit=clinic, patient=patient)
    factories.admit(clerk, beds["W2-1-1"], doctor=doctor, unit=clinic)
    services.bed_set_status(actor=nurse, bed=beds["W1-1-2"], status="blocked", note="leak")
    services.bed_set_status(actor=nurse, bed=beds["W1-2-2"], status="reserved", note="from OT")

    board = selectors.bed_board()

    assert board.total == 7
    assert board.counts == {
        BedStatus.OCCUPIED: 2,
        BedStatus.BLOCKED: 1,
        BedStatus.RESERVED: 1,
        BedStatus.FREE: 3,
    }
    assert [w.ward.code for w in board.wards] == ["W1", "W2"]
    first, second = board.wards
    assert [b.label for b in first.beds] == ["W1-1-1", "W1-1-2", "W1-1-3", "W1-2-1", "W1-2-2"]
    assert first.counts == {
        BedStatus.OCCUPIED: 1,
        BedStatus.BLOCKED: 1,
        BedStatus.RESERVED: 1,
        BedStatus.FREE: 2,
    }
    assert (first.occupancy, second.occupancy) == (20, 50)
    occupied = first.beds[0]
    assert occupied.admission.number == admission.number
    assert occupied.admission.patient.name == "Mohan Das"
    assert all(b.admission is None for b in first.beds[1:])


def test_the_bed_board_filters_by_category_and_ward(monday_morning, two_wards):
    icu = selectors.bed_board(category="icu")
    assert [b.label for w in icu.wards for b in w.beds] == ["W1-2-2"]
    assert icu.total == 1
    private = selectors.bed_board(category="private")
    assert [w.ward.code for w in private.wards] == ["W2"]
    assert private.total == 2

    w2 = selectors.bed_board(ward_code="w2")
    assert [w.ward.code for w in w2.wards] == ["W2"]
    assert [b.label for b in w2.wards[0].beds] == ["W2-1-1", "W2-1-2"]
    assert selectors.bed_board(ward_code="W1", category="private").total == 0
    # An unknown category is no filter at all.
    assert selectors.bed_board(category="suite").total == 7


BOARD_QUERIES = 3


@pytest.mark.parametrize("beds", [5, 30])
def test_the_bed_board_takes_the_same_few_queries_for_any_number_of_beds(
    monday_morning, clerk, doctor, clinic, django_assert_max_num_queries, beds
):
    ward = factories.ward(
        "W9", rooms={"1": ["general"] * (beds // 2), "2": ["icu"] * (beds - beds // 2)}
    )
    for bed in factories.beds(ward)[::2]:
        factories.admit(clerk, bed, doctor=doctor, unit=clinic)

    with django_assert_max_num_queries(BOARD_QUERIES):
        board = selectors.bed_board()
        shown = [
            (w.ward.code, b.label, b.category_label, b.admission and b.admission.patient.name)
            for w in board.wards
            for b in w.beds
        ]
    assert len(shown) == beds
    assert sum(1 for *_, name in shown if name) == (beds + 1) // 2


# -- room contacts --------------------------------------------------------------------


def test_room_contacts_are_the_others_who_overlapped_in_the_same_room(
    clock_at, clerk, doctor, nurse, clinic
):
    """Room 1 has beds A, B, C; room 2 has bed D. On a timeline:
    P1 in A 30-11 08:00 .. 02-12 10:00
    P2 in B 30-11 10:00 .. 01-12 09:00 (discharged)
    P3 in D 30-11 10:00 ..             (another room)
    P4 in B 01-12 12:00 ..             (after P2 left; overlaps P1 only)
    P5 in C 02-12 11:00 ..             (after P1 left)"""
    ward = factories.ward("W1", rooms={"1": ["general"] * 3, "2": ["general"]})
    a, b, c, d = factories.beds(ward)

    def admit(bed, *when):
        clock_at(*when)
        return factories.admit(clerk, bed, doctor=doctor, unit=clinic)

    def discharge(admission, *when):
        clock_at(*when)
        factories.discharge(doctor, admission)
        services.bed_set_status(actor=nurse, bed=admission.bed, status=BedStatus.FREE)

    p1 = admit(a, 2026, 11, 30, 8, 0)
    p2 = admit(b, 2026, 11, 30, 10, 0)
    p3 = admit(d, 2026, 11, 30, 10, 0)
    discharge(p2, 2026, 12, 1, 9, 0)
    p4 = admit(b, 2026, 12, 1, 12, 0)
    discharge(p1, 2026, 12, 2, 10, 0)
    p5 = admit(c, 2026, 12, 2, 11, 0)

    def contacts(admission):
        return [
            (x.stay.admission.number, x.stay.bed.label, x.overlap_from, x.overlap_to)
            for x in selectors.room_contacts(admission)
        ]

    assert contacts(p1) == [
        (p2.number, "W1-1-2", at(2026, 11, 30, 10, 0), at(2026, 12, 1, 9, 0)),
        (p4.number, "W1-1-2", at(2026, 12, 1, 12, 0), at(2026, 12, 2, 10, 0)),
    ]
    assert contacts(p2) == [
        (p1.number, "W1-1-1", at(2026, 11, 30, 10, 0), at(2026, 12, 1, 9, 0)),
    ]
    assert contacts(p4) == [
        (p1.number, "W1-1-1", at(2026, 12, 1, 12, 0), at(2026, 12, 2, 10, 0)),
        (p5.number, "W1-1-3", at(2026, 12, 2, 11, 0), None),
    ]
    assert contacts(p3) == []
    # Two still in the room: the overlap has no end yet.
    assert contacts(p5) == [(p4.number, "W1-1-2", at(2026, 12, 2, 11, 0), None)]


def test_room_contacts_follow_a_patient_who_moved_rooms(clock_at, clerk, doctor, nurse, clinic):
    ward = factories.ward("W1", rooms={"1": ["general", "general"], "2": ["icu", "icu"]})
    a, b, icu1, icu2 = factories.beds(ward)
    clock_at(2026, 11, 30, 8, 0)
    mover = factories.admit(clerk, a, doctor=doctor, unit=clinic)
    ward_mate = factories.admit(clerk, b, doctor=doctor, unit=clinic)
    icu_mate = factories.admit(clerk, icu2, doctor=doctor, unit=clinic)
    clock_at(2026, 11, 30, 20, 0)
    services.admission_transfer(actor=nurse, admission=mover, to_bed=icu1, reason="desaturating")
    clock_at(2026, 12, 1, 8, 0)

    found = [
        (x.stay.admission.number, x.overlap_from, x.overlap_to)
        for x in selectors.room_contacts(mover)
    ]
    assert found == [
        (ward_mate.number, at(2026, 11, 30, 8, 0), at(2026, 11, 30, 20, 0)),
        (icu_mate.number, at(2026, 11, 30, 20, 0), None),
    ]


# -- fluid balance --------------------------------------------------------------------


def test_fluid_balance_is_per_day_in_ist(clock_at, clerk, doctor, nurse, clinic):
    ward = factories.ward("W1")
    clock_at(2026, 11, 30, 8, 0)
    admission = factories.admit(clerk, factories.beds(ward)[0], doctor=doctor, unit=clinic)
    clock_at(2026, 12, 1, 9, 0)
    charted = [
        (at(2026, 11, 30, 12, 0), "intake", "oral", 300),
        # 23:00 and 01:00 IST are the same UTC day (17:30 and 19:30) but two IST days.
        (at(2026, 11, 30, 23, 0), "intake", "iv", 500),
        (at(2026, 12, 1, 1, 0), "output", "urine", 300),
        (at(2026, 12, 1, 6, 0), "intake", "iv", 1000),
        (at(2026, 12, 1, 7, 0), "output", "urine", 400),
        (at(2026, 12, 1, 8, 0), "output", "vomit", 150),
    ]
    for when, direction, route, volume in charted:
        services.fluid_record(
            actor=nurse,
            admission=admission,
            direction=direction,
            route=route,
            volume_ml=volume,
            recorded_at=when,
        )

    assert selectors.fluid_balance(admission.fluids.all()) == [
        (dt.date(2026, 11, 30), 800, 0, 800),
        (dt.date(2026, 12, 1), 1000, 850, 150),
    ]
    assert selectors.fluid_balance([]) == []


# -- census ---------------------------------------------------------------------------


@pytest.fixture
def census_wards(db):
    w1 = factories.ward("W1", rooms={"1": ["general"] * 3})
    w2 = factories.ward("W2", rooms={"1": ["icu", "hdu"]})
    return w1, w2


def test_census_counts_admissions_and_discharges_a_day_and_occupancy(
    clock_at, census_wards, clerk, doctor, nurse, clinic
):
    w1, w2 = census_wards
    g1, g2, g3 = factories.beds(w1)
    icu, hdu = sorted(factories.beds(w2), key=lambda b: b.category)[::-1]
    assert (icu.category, hdu.category) == ("icu", "hdu")

    clock_at(2026, 11, 29, 10, 0)  # before the period: counts for length of stay only
    early = factories.admit(clerk, g1, doctor=doctor, unit=clinic)
    clock_at(2026, 11, 30, 9, 0)
    first = factories.admit(clerk, g2, doctor=doctor, unit=clinic)
    clock_at(2026, 11, 30, 15, 0)
    factories.admit(clerk, icu, doctor=doctor, unit=clinic)
    clock_at(2026, 12, 1, 0, 30)  # 30 November in UTC, 1 December in IST
    factories.admit(clerk, g3, doctor=doctor, unit=clinic)
    clock_at(2026, 12, 1, 10, 0)
    factories.discharge(doctor, early)  # 2 days exactly
    clock_at(2026, 12, 2, 9, 0)
    factories.discharge(doctor, first)  # 2 days exactly
    clock_at(2026, 12, 2, 12, 0)
    services.bed_set_status(actor=nurse, bed=g1, status=BedStatus.FREE)

    census = selectors.census(dt.date(2026, 11, 30), dt.date(2026, 12, 2))

    assert census.daily == [
        (dt.date(2026, 11, 30), 2, 0),
        (dt.date(2026, 12, 1), 1, 1),
        (dt.date(2026, 12, 2), 0, 1),
    ]
    assert [(w.code, beds, occupied) for w, beds, occupied in census.by_ward] == [
        ("W1", 3, 1),
        ("W2", 2, 1),
    ]
    assert census.by_category == [("General", 3, 1), ("HDU", 1, 0), ("ICU", 1, 1)]
    assert census.admitted_now == 2
    assert census.average_stay_days == 2.0


def test_census_averages_the_stays_discharged_in_the_period(
    clock_at, census_wards, clerk, doctor, clinic
):
    g1, g2, _ = factories.beds(census_wards[0])
    clock_at(2026, 11, 30, 8, 0)
    short = factories.admit(clerk, g1, doctor=doctor, unit=clinic)
    long = factories.admit(clerk, g2, doctor=doctor, unit=clinic)
    clock_at(2026, 11, 30, 20, 0)
    factories.discharge(doctor, short)  # half a day
    clock_at(2026, 12, 3, 8, 0)
    factories.discharge(doctor, long)  # three days
    assert selectors.census(dt.date(2026, 11, 30), dt.date(2026, 12, 3)).average_stay_days == 1.8
    # Only the one discharged on 30 November falls in a period of that day.
    only_first = selectors.census(dt.date(2026, 11, 30), dt.date(2026, 11, 30))
    assert only_first.average_stay_days == 0.5
    assert only_first.daily == [(dt.date(2026, 11, 30), 2, 1)]


def test_census_of_a_quiet_period(monday_morning, census_wards):
    census = selectors.census(dt.date(2026, 11, 23), dt.date(2026, 11, 24))
    assert census.daily == [(dt.date(2026, 11, 23), 0, 0), (dt.date(2026, 11, 24), 0, 0)]
    assert census.average_stay_days is None
    assert census.admitted_now == 0
    assert [(w.code, beds, occupied) for w, beds, occupied in census.by_ward] == [
        ("W1", 3, 0),
        ("W2", 2, 0),
    ]


# -- admission advice waiting for a bed -----------------------------------------------


def test_admit_advice_waits_until_the_patient_is_admitted(
    clock_at, clerk, doctor, clinic, make_user
):
    ward = factories.ward("W1")
    clock_at(2026, 11, 30, 10, 0)
    advised_patient = PatientFactory(actor=clerk, name="Mohan Das")
    advised = opd.consult(
        doctor,
        opd.called(clerk, doctor, clinic, advised_patient),
        admit_advised=True,
        admit_note="Admit to medical ward",
    )
    other_doctor = make_user(Role.DOCTOR, username="dr-vikram")
    opd.consult(other_doctor, opd.called(clerk, other_doctor, clinic))  # no advice to admit

    assert list(selectors.awaiting_admission()) == [advised]

    clock_at(2026, 11, 30, 13, 0)
    factories.admit(
        clerk,
        factories.beds(ward)[0],
        doctor=doctor,
        unit=clinic,
        patient=advised_patient,
        consultation=advised,
    )
    assert list(selectors.awaiting_admission()) == []


def test_old_admit_advice_drops_off_the_list(clock_at, clerk, doctor, clinic):
    clock_at(2026, 11, 30, 10, 0)
    advised = opd.consult(
        doctor,
        opd.called(clerk, doctor, clinic),
        admit_advised=True,
        admit_note="Admit to medical ward",
    )
    clock_at(2026, 12, 3, 10, 0)
    assert list(selectors.awaiting_admission()) == [advised]
    clock_at(2026, 12, 4, 10, 0)
    assert list(selectors.awaiting_admission()) == []
    assert list(selectors.awaiting_admission(days=5)) == [advised]


# -- charts ---------------------------------------------------------------------------


def test_the_observation_chart_draws_one_line_per_measure_charted(
    clock_at, clerk, doctor, nurse, clinic
):
    ward = factories.ward("W1")
    clock_at(2026, 11, 30, 8, 0)
    admission = factories.admit(clerk, factories.beds(ward)[0], doctor=doctor, unit=clinic)
    for hour, temperature, pulse in ((9, "38.9", 112), (13, "38.1", 100), (17, "37.2", 88)):
        clock_at(2026, 11, 30, hour, 0)
        services.observation_record(
            actor=nurse,
            admission=admission,
            temperature_c=temperature,
            pulse_per_min=pulse,
            respiratory_rate=20,
        )
    clock_at(2026, 11, 30, 18, 0)
    services.observation_record(actor=nurse, admission=admission, spo2_percent=97)

    svg = str(charts.observations_svg(list(admission.observations.all())))

    assert svg.startswith("<svg")
    assert svg.count("<svg") == svg.count("</svg>") == 3
    assert svg.count("<polyline") == 3  # temperature, pulse, SpO2; no BP, and no RR strip
    assert "Temperature (°C) — last 37.2" in svg
    assert "Pulse (/min) — last 88" in svg
    assert "SpO₂ (%) — last 97" in svg
    assert "Systolic" not in svg
    temperature = re.search(r'points="([^"]+)"', svg).group(1).split()
    assert len(temperature) == 3
    assert "<title>30-11 09:00 38.9 °C</title>" in svg  # times in IST
    assert charts.observations_svg([]) == ""


def test_chart_text_is_escaped():
    when = dt.datetime(2026, 11, 30, 3, 30, tzinfo=dt.UTC)
    series = charts.Series(
        label='<script>alert("x")</script>',
        unit="a&b",
        low=0,
        high=10,
        points=[(when, 5.0)],
        colour="#000",
    )
    drawn = charts._line(series, when, 0)
    assert "<script>" not in drawn
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in drawn
    assert "(a&amp;b)" in drawn
    assert "5 a&amp;b</title>" in drawn


def test_the_census_chart_draws_a_pair_of_bars_a_day():
    daily = [
        (dt.date(2026, 11, 30), 4, 1),
        (dt.date(2026, 12, 1), 0, 2),
        (dt.date(2026, 12, 2), 3, 0),
    ]
    svg = str(charts.census_svg(daily))
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert svg.count("<rect") == 6
    assert "<title>30-11: 4 admitted</title>" in svg
    assert "<title>01-12: 2 discharged</title>" in svg
    assert "max 4 a day" in svg
    heights = [float(h) for h in re.findall(r'height="([0-9.]+)" fill', svg)]
    assert max(heights) == heights[0]  # the tallest bar is the busiest day's admissions
    assert heights[1] == pytest.approx(heights[0] / 4)
    assert charts.census_svg([]) == ""
