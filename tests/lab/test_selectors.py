"""The laboratory pages' reads: counts per section, worklists in priority order, the
ranges a sample's results are judged by, the alert and message queues, the catalogue's
texts — and that list pages cost the same queries for few rows or many."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ajeya.core.errors import NotFound
from ajeya.lab import selectors, services
from ajeya.lab.models import Analyzer, MessageStatus, ResultStatus, Section
from tests.lab import factories as lab
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def catalogue(monday_morning):
    lab.load_catalogue()


@pytest.fixture
def tech():
    return lab.technician()


@pytest.fixture
def path():
    return lab.pathologist()


def received(tests=("CBC",), **kwargs):
    samples = lab.received(lab.walk_in(tests, **kwargs))
    return samples[0] if len(samples) == 1 else samples


def by_section(counts: dict) -> dict[str, tuple[int, ...]]:
    return {
        row.section: tuple(getattr(row, c) for c in selectors.COUNT_COLUMNS)
        for row in counts["rows"]
    }


def test_home_counts_leave_out_cancelled_and_finished_work(tech, path):
    cancelled = lab.walk_in(["CBC"])
    services.item_cancel(actor=tech, item=cancelled.items.get(), reason="patient left")
    done = received()
    lab.enter(done, {code: "5" for code in lab.results_of(done)})
    services.results_verify(actor=tech, sample=done)
    services.results_authorise(actor=path, sample=done)
    half = received(["LFT"])
    lab.enter(half, {"TBIL": "0.8"})
    services.results_verify(actor=tech, sample=half)
    counts = selectors.home_counts()
    rows = by_section(counts)
    assert rows["haematology"] == (0, 0, 0, 0, 0)
    assert rows["biochemistry"] == (0, 0, 1, 0, 1)  # six to enter, one to authorise
    assert [r.section for r in counts["rows"]] == list(Section.values)
    assert counts["total"].to_enter == 1


def test_the_worklist_is_stat_first_then_by_receipt(clock_at):
    first = received()
    clock_at(2026, 11, 30, 9, 0)
    second = received()
    stat = received(priority="stat")
    assert [s.pk for s in selectors.worklist(section="haematology")] == [
        stat.pk,
        first.pk,
        second.pk,
    ]


def test_the_worklist_counts_results_by_step(tech):
    sample = received()
    lab.enter(sample, {"HB": "13.5", "TLC": "7"})
    services.results_verify(actor=tech, sample=sample)
    lab.enter(sample, {"PLT": "250"})
    (row,) = selectors.worklist(section="haematology")
    assert (row.pending, row.entered, row.verified) == (10, 1, 2)
    assert [i.panel.code for i in row.items.all()] == ["CBC"]


def test_an_analyzer_worklist_needs_a_pending_test_it_measures():
    both = received(["CBC", "COAG"])[0]  # one EDTA tube, one citrate tube
    coag = both.order.samples.get(container="citrate")
    xn = Analyzer.objects.get(code="XN1000")
    ca = Analyzer.objects.get(code="CA600")
    assert [
        s.pk for s in selectors.worklist(section=xn.section, tests=selectors.analyzer_tests(xn))
    ] == [both.pk]
    rows = selectors.worklist(section=ca.section, tests=selectors.analyzer_tests(ca))
    assert [s.pk for s in rows] == [coag.pk]
    assert rows[0].pending == 3
    lab.enter(coag, {"PT": "13"})
    (row,) = selectors.worklist(section=ca.section, tests=selectors.analyzer_tests(ca))
    assert (row.pending, row.entered) == (2, 1)


def test_a_pending_result_shows_the_range_it_will_be_judged_by():
    woman = PatientFactory(sex="F")
    sample = received(patient=woman)
    hb = next(r for r in selectors.sample_results(sample) if r.test.code == "HB")
    assert hb.status == ResultStatus.PENDING
    assert hb.expected_range == "12.0 - 15.0"
    man = received(patient=PatientFactory(sex="M"))
    hb = next(r for r in selectors.sample_results(man) if r.test.code == "HB")
    assert hb.expected_range == "13.0 - 17.0"


def test_an_entered_result_shows_the_range_copied_with_it(tech):
    sample = received(["NS1"])
    (ns1,) = selectors.sample_results(sample)
    assert ns1.options == ns1.test.choices.split("|")
    lab.enter(sample, {"NS1": ns1.options[0]})
    (ns1,) = selectors.sample_results(sample)
    assert ns1.expected_range == ns1.range_text


def test_amended_results_are_history_beside_the_live_one(tech, path):
    sample = received()
    lab.enter(sample, {"HB": "13.5"})
    services.results_verify(actor=tech, sample=sample)
    services.results_authorise(actor=path, sample=sample)
    old = lab.results_of(sample)["HB"]
    new = services.result_amend(actor=path, result=old, value="12.5", reason="wrong patient tube")
    (history,) = selectors.amended_results(sample)
    assert history.pk == old.pk
    assert history.amended_by == new
    assert [r.pk for r in selectors.sample_results(sample) if r.test.code == "HB"] == [new.pk]


def test_alerts_split_into_mine_unassigned_and_done(tech, doctor, make_user):
    from ajeya.core.roles import Role
    from tests.appointments import factories as schedule
    from tests.ipd import factories as wards

    clinic = schedule.clinic()
    ward = wards.ward("MW")
    beds = wards.beds(ward)
    mine = []
    for bed in beds:
        admission = wards.admit(doctor, bed, doctor=doctor, unit=clinic)
        order = services.order_create(
            actor=doctor,
            patient=admission.patient,
            tests=["FBS"],
            source="ipd",
            admission=admission,
        )
        (sample,) = lab.received(order)
        lab.enter(sample, {"FBS": "30"})
        services.results_verify(actor=tech, sample=sample)
        mine.append(sample)
    walk_in = received(["FBS"])
    lab.enter(walk_in, {"FBS": "30"})
    services.results_verify(actor=tech, sample=walk_in)
    first, second = (s.items.get().results.get().alert for s in mine)
    services.alert_acknowledge(actor=doctor, alert=first, note="repeat glucose, dextrose")
    other = make_user(Role.DOCTOR, username="dr-other")
    page = selectors.alerts_page(doctor)
    assert [a.pk for a in page["mine"]] == [second.pk]
    assert [a.result.item.sample_id for a in page["unassigned"]] == [walk_in.pk]
    assert [a.pk for a in page["done"]] == [first.pk]
    assert selectors.alerts_page(other)["mine"] == []
    assert selectors.open_alert_count(doctor) == 1


def message(control_id: str, accession: str = "9999999999"):
    services.analyzer_message_store(
        services.AnalyzerMessage(
            sending_application="XN-1000",
            sending_facility="LAB",
            control_id=control_id,
            accession=accession,
            observations=[],
            raw=f"MSH|^~\\&|XN-1000|LAB|||20261130||ORU^R01|{control_id}|P|2.5.1",
        )
    )
    return selectors.message_queue()


def test_the_message_queue_holds_what_waits_oldest_first(tech, clock_at):
    message("A")
    clock_at(2026, 11, 30, 9, 0)
    queue = message("B")
    assert [m.control_id for m in queue["waiting"]] == ["A", "B"]
    a = queue["waiting"][0]
    services.message_dismiss(actor=tech, message=a, reason="analyzer QC run")
    queue = selectors.message_queue()
    assert [m.control_id for m in queue["waiting"]] == ["B"]
    assert [(m.control_id, m.status) for m in queue["resolved"]] == [("A", MessageStatus.DISMISSED)]


def test_the_catalogue_page_says_each_range_in_words():
    page = selectors.catalogue_page()
    sections = dict(page["sections"])
    hb = next(t for t in sections["Haematology"] if t.code == "HB")
    words = [(r.sex, r.ages, r.text, r.critical) for r in hb.ranges.all()]
    assert ("M", "from 18 y", "13.0 - 17.0", "< 7.0 or > 20.0") in words
    assert ("", "0 y to 1 y", "10.0 - 14.0", "< 7.0 or > 22.0") in words
    assert list(sections) == [label for _, label in Section.choices if label in sections]
    assert {p.code for p in page["panels"]} >= {"CBC", "KFT", "LFT", "FBS"}


@pytest.mark.parametrize(
    ("first", "last", "words"),
    [
        (0, 54750, ""),
        (18 * 365, 54750, "from 18 y"),
        (365, 18 * 365, "1 y to 18 y"),
        (0, 28, "0 y to 28 d"),
    ],
)
def test_age_bands_in_words(first, last, words):
    assert selectors._age_band(first, last) == words


def test_panels_are_grouped_by_section_in_catalogue_order():
    groups = selectors.panels_by_section()
    labels = [label for label, _ in groups]
    assert labels == [label for _, label in Section.choices if label in labels]
    haematology = dict(groups)["Haematology"]
    assert [p.name for p in haematology] == sorted(p.name for p in haematology)


def test_a_patients_orders_newest_first(clock_at):
    patient = PatientFactory()
    first = lab.walk_in(["CBC"], patient=patient)
    clock_at(2026, 11, 30, 10, 0)
    second = lab.walk_in(["FBS", "KFT"], patient=patient)
    lab.walk_in(["CBC"])  # someone else's
    orders = selectors.patient_orders(patient)
    assert [o.pk for o in orders] == [second.pk, first.pk]
    assert [i.panel.code for i in orders[0].items.all()] == ["FBS", "KFT"]


@pytest.mark.parametrize(
    ("read", "value", "message"),
    [
        (selectors.order_get, "L269999999", "No lab order has number L269999999."),
        (selectors.sample_get, "2600000000", "No sample has accession number 2600000000."),
        (selectors.analyzer_get, "NOPE", "No analyzer has code NOPE."),
        (selectors.result_get, 999, "No result 999."),
        (selectors.alert_get, 999, "No critical alert 999."),
        (selectors.message_get, 999, "No analyzer message 999."),
    ],
)
def test_unknown_things_are_not_found(read, value, message):
    with pytest.raises(NotFound, match=message):
        read(value)


def add_orders(patient, count: int) -> None:
    """Orders with one sample awaiting collection (CBC), one collected (KFT) and one
    received (COAG)."""
    tech = lab.technician()
    for _ in range(count):
        order = lab.walk_in(["CBC", "KFT", "COAG"], patient=patient, actor=tech)
        kft = order.samples.get(container="sst")
        coag = order.samples.get(container="citrate")
        services.sample_collect(actor=tech, sample=kft)
        services.sample_collect(actor=tech, sample=coag)
        services.sample_receive(actor=tech, accession=coag.accession)


READS = {
    "collection": lambda patient: selectors.collection_rows(),
    "reception": lambda patient: list(selectors.reception_list()),
    "worklist": lambda patient: selectors.worklist(section="haematology"),
    "patient orders": lambda patient: selectors.patient_orders(patient),
}


@pytest.mark.parametrize("name", list(READS))
def test_list_reads_cost_the_same_for_few_or_many(name, django_assert_num_queries):
    read = READS[name]
    patient = PatientFactory()
    add_orders(patient, 1)
    with CaptureQueriesContext(connection) as few:
        assert len(read(patient)) == 1
    add_orders(patient, 4)
    with django_assert_num_queries(len(few)):
        assert len(read(patient)) == 5


# -- reads that stay narrow as the laboratory grows ---------------------------------------


def _reads():
    import datetime as dt

    from ajeya.billing import capture
    from ajeya.downtime import census
    from ajeya.lab import tat

    return {
        "discharge summary investigations": lambda: selectors.investigations_for_admission(1),
        "section worklist": lambda: selectors.worklist(section="haematology"),
        "analyzer worklist": lambda: selectors.worklist(section="haematology", tests=[1, 2]),
        "laboratory home counts": selectors.home_counts,
        "turnaround dashboard": lambda: tat.authorised_times(tat.period()),
        "downtime census results": lambda: census._results([1, 2]),
        "billing capture of lab items": lambda: list(
            capture._lab_items(dt.datetime(2026, 11, 1, tzinfo=dt.UTC), None)
        ),
    }


@pytest.mark.parametrize("name", list(_reads()))
def test_the_laboratorys_reads_go_by_an_index_that_narrows_them(name):
    """No page or job reads a growing table whole, and results are read only through
    their items: an index on a result's status (or test) alone drew SQLite into
    reading every authorised result in the hospital for one discharge summary. SQLite
    plans without statistics, so these are the plans of a hospital's tenth year."""
    from tests.plans import sqlite_plans, through_other_indexes, unnarrowed

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL plans by its statistics; a tiny test table is scanned")
    lab.load_catalogue()
    _, plans = sqlite_plans(_reads()[name])
    assert plans, "the read made no query"
    assert unnarrowed(plans) == []
    assert through_other_indexes(plans, "lab_result", "item_id") == []
