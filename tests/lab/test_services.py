"""The laboratory through its services: orders and their samples, collection, receipt and
rejection, values and their flags, verification, authorisation, reports, amendments,
critical alerts and the analyzer's messages — what each writes, what each refuses, and
that a refusal writes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ajeya.core import identifiers
from ajeya.core.errors import Conflict, NotFound, PermissionRefused, ValidationFailed
from ajeya.core.roles import Role
from ajeya.lab import cache, selectors, services
from ajeya.lab.models import (
    CriticalAlert,
    Flag,
    InboundMessage,
    ItemStatus,
    LabOrder,
    LabTest,
    MessageStatus,
    OrderSource,
    Panel,
    Report,
    Result,
    ResultSource,
    ResultStatus,
    Sample,
    SampleStatus,
)
from ajeya.ledger import services as ledger
from ajeya.ledger.models import LedgerAction, LedgerEntry
from ajeya.ledger.verification import verify
from tests.conftest import IST
from tests.ipd import factories as ipd
from tests.ipd.factories import assert_sealed, entries
from tests.lab import factories as lab
from tests.opd import factories as opd
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

MONDAY = dt.datetime(2026, 11, 30, 8, 0, tzinfo=IST)
CBC_NORMAL = {
    "HB": "14.0",
    "TLC": "7.5",
    "RBC": "5.0",
    "HCT": "45",
    "MCV": "90",
    "MCH": "29",
    "MCHC": "33",
    "PLT": "250",
    "NEUT": "60",
    "LYMPH": "30",
    "MONO": "6",
    "EOS": "3",
    "BASO": "1",
}


@pytest.fixture(autouse=True)
def _catalogue(monday_morning):
    lab.load_catalogue()
    lab.technician(), lab.pathologist()  # staff exist before any "nothing written" check


@pytest.fixture
def tech():
    return lab.technician()


@pytest.fixture
def path():
    return lab.pathologist()


@pytest.fixture
def path2():
    return lab.pathologist("dr-path2")


@pytest.fixture
def nurse(make_user):
    return make_user(Role.NURSE, username="nurse-lata", full_name="Lata Menon")


@pytest.fixture
def patient():
    return PatientFactory(name="Mohan Das")


def refreshed(row):
    row.refresh_from_db()
    return row


def clean() -> None:
    """The ledger's full check: chains, every row's seal, nothing missing."""
    assert verify(use_checkpoint_dir=False).findings == []


def one_sample(order: LabOrder) -> Sample:
    [sample] = order.samples.all()
    return sample


def received_one(tests=("CBC",), **kwargs) -> Sample:
    [sample] = lab.received(lab.walk_in(tests, **kwargs))
    return sample


# -- orders ----------------------------------------------------------------------------


def test_an_order_groups_its_tests_into_one_sample_per_container_and_section(tech, patient):
    order = lab.walk_in(["CBC", "ESR", "KFT", "LFT", "FBS", "HBA1C"], patient=patient)

    assert re.fullmatch(r"L26\d{7}", order.number)
    assert (order.source, order.priority, order.ordered_at) == ("walk_in", "routine", MONDAY)
    assert (order.ordered_by, order.doctor, order.referring_doctor) == (tech, None, "Dr. Outside")
    samples = {
        (s.container, s.specimen, s.section): [i.panel.code for i in s.items.order_by("id")]
        for s in order.samples.all()
    }
    assert samples == {
        ("edta", "whole_blood", "haematology"): ["CBC", "ESR"],
        ("edta", "whole_blood", "biochemistry"): ["HBA1C"],  # same tube, another bench
        ("sst", "serum", "biochemistry"): ["KFT", "LFT"],
        ("fluoride", "fluoride_plasma", "biochemistry"): ["FBS"],
    }
    for sample in order.samples.all():
        assert (sample.status, sample.version, sample.collected_at) == ("awaiting", 1, None)
        [entry] = entries(sample)
        assert (entry.action, entry.actor_id) == (LedgerAction.CREATE, tech.pk)
        assert_sealed(sample)
    for item in order.items.select_related("panel"):
        assert (item.status, item.price_code) == (ItemStatus.ORDERED, item.panel.price_code)
        tests = list(item.panel.items.values_list("test__code", flat=True))
        assert [r.test.code for r in item.results.order_by("position")] == tests
        assert_sealed(item)
    assert Result.objects.filter(item__order=order).count() == 13 + 1 + 6 + 7 + 1 + 1
    assert set(Result.objects.values_list("status", flat=True)) == {ResultStatus.PENDING}
    assert_sealed(order)
    clean()


def test_accession_numbers_are_ten_digits_with_a_verhoeff_check_digit_and_no_gaps():
    first = lab.walk_in(["CBC", "KFT"])
    second = lab.walk_in(["FBS"])

    accessions = sorted(
        Sample.objects.filter(order__in=[first, second]).values_list("accession", flat=True)
    )
    assert all(re.fullmatch(r"26\d{8}", a) for a in accessions), accessions
    assert all(identifiers.verhoeff_valid(a) for a in accessions)
    assert [int(a[2:9]) for a in accessions] == [1, 2, 3]
    assert services.make_accession(1, 2026) == "2600000018"
    for serial in (0, 10**7):
        with pytest.raises(ValueError, match="out of range"):
            services.make_accession(serial, 2026)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(serial=st.integers(1, 10**7 - 1), year=st.integers(2000, 2099), data=st.data())
def test_a_mistyped_or_swapped_digit_never_passes_for_an_accession(serial, year, data):
    accession = services.make_accession(serial, year)
    assert services.normalise_accession(f" {accession[:2]} {accession[2:6]}-{accession[6:]} ") == (
        accession
    )
    at = data.draw(st.integers(0, 9))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != accession[at]]))
    typo = accession[:at] + digit + accession[at + 1 :]
    with pytest.raises(ValidationFailed, match="fails its check digit"):
        services.normalise_accession(typo)
    at = data.draw(st.integers(0, 8))
    swapped = accession[:at] + accession[at + 1] + accession[at] + accession[at + 2 :]
    if swapped != accession:
        with pytest.raises(ValidationFailed, match="fails its check digit"):
            services.normalise_accession(swapped)


def _all_panels() -> list[str]:
    return list(Panel.objects.values_list("code", flat=True))


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"tests": ["CBC", "XYZ"]}, "tests", "Unknown test 'XYZ': choose one"),
        ({"tests": ["CBC", " cbc "]}, "tests", "Complete blood count is ordered twice."),
        ({"tests": []}, "tests", "Choose at least one test."),
        ({"tests": ["  ", ""]}, "tests", "Choose at least one test."),
        ({"tests": "too many"}, "tests", "At most 20 tests in one order."),
        (
            {"tests": ["KFT", "ELEC"]},
            "tests",
            "Kidney function tests and Serum electrolytes both include Sodium, Potassium, "
            "Chloride: order one of them.",
        ),
        ({"priority": "asap"}, "priority", "Unknown priority 'asap': routine, urgent or STAT."),
        ({"referring_doctor": "   "}, "referring_doctor", "Name the referring doctor"),
        ({"referring_doctor": "D" * 101}, "referring_doctor", "at most 100 characters"),
        ({"clinical_notes": "n" * 301}, "clinical_notes", "at most 300 characters"),
    ],
)
def test_an_order_with_a_problem_is_refused_naming_it(patient, kwargs, field, message):
    if kwargs.get("tests") == "too many":
        kwargs = {"tests": _all_panels()[:21]}
    before = lab.snapshot()
    with pytest.raises(ValidationFailed) as caught:
        lab.walk_in(kwargs.pop("tests", ["CBC"]), patient=patient, **kwargs)
    assert any(message in m for m in caught.value.errors[field]), caught.value.errors
    assert lab.snapshot() == before


def test_an_order_names_every_problem_at_once(doctor, patient):
    with pytest.raises(ValidationFailed) as caught:
        services.order_create(
            actor=doctor, patient=patient, tests=["XYZ"], source="home", priority="later"
        )
    assert set(caught.value.errors) == {"tests", "priority", "source"}
    assert caught.value.errors["source"] == ["Unknown order source 'home'."]


@pytest.fixture
def admitted(clock_at, clerk, doctor, clinic, patient):
    clock_at(2026, 11, 30, 9, 0)
    bed = ipd.beds(ipd.ward("W1", rooms={"1": ["general"]}))[0]
    return ipd.admit(clerk, bed, doctor=doctor, unit=clinic, patient=patient)


def test_an_inpatient_order_reaches_the_ordering_doctor(doctor, admitted, patient):
    order = services.order_create(
        actor=doctor,
        patient=patient,
        tests=["KFT"],
        source=OrderSource.IPD,
        admission=admitted,
        priority="stat",
    )
    assert (order.admission, order.doctor, order.priority) == (admitted, doctor, "stat")
    assert order.visit is None


def test_an_inpatient_order_after_discharge_is_refused(clock_at, doctor, admitted, patient):
    clock_at(2026, 11, 30, 12, 0)
    ipd.discharge(doctor, admitted)
    before = lab.snapshot()
    with pytest.raises(Conflict) as caught:
        services.order_create(
            actor=doctor,
            patient=patient,
            tests=["CBC"],
            source=OrderSource.IPD,
            admission=admitted,
        )
    assert caught.value.message == (
        f"{admitted.number} was discharged at 30-11-2026 12:00: order tests in OPD or at the "
        "lab counter."
    )
    assert lab.snapshot() == before


def test_an_order_never_lands_on_another_patients_admission_or_visit(
    doctor, clerk, clinic, admitted, patient
):
    stranger = PatientFactory(name="Someone Else")
    visit = opd.called(clerk, doctor, clinic, patient)
    before = lab.snapshot()
    cases = [
        ({"source": "ipd", "admission": admitted, "patient": stranger}, "admission"),
        ({"source": "ipd", "patient": patient}, "admission"),
        ({"source": "opd", "visit": visit, "patient": stranger}, "visit"),
        ({"source": "opd", "patient": patient}, "visit"),
        # a visit or an admission belongs with its own source only
        ({"source": "ipd", "admission": admitted, "visit": visit, "patient": patient}, "visit"),
        ({"source": "opd", "visit": visit, "admission": admitted, "patient": patient}, "admission"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationFailed) as caught:
            services.order_create(actor=doctor, tests=["CBC"], **kwargs)
        assert field in caught.value.errors, (kwargs, caught.value.errors)
    with pytest.raises(ValidationFailed) as caught:
        lab.walk_in(["CBC"], patient=patient, admission=admitted)
    assert caught.value.errors["admission"] == [
        "An inpatient order belongs to this patient's admission."
    ]
    assert lab.snapshot() == before


def test_the_doctor_named_on_an_order_must_be_a_doctor(clerk, patient):
    before = lab.snapshot()
    with pytest.raises(ValidationFailed) as caught:
        lab.walk_in(["CBC"], patient=patient, doctor=clerk)
    assert "is not a doctor" in caught.value.errors["doctor"][0]
    assert lab.snapshot() == before


@pytest.mark.parametrize("role", list(Role))
def test_who_may_place_which_order(make_user, role, patient, admitted):
    user = make_user(role, username=f"user-{role}")
    counter = role in {Role.LAB_TECHNICIAN, Role.REGISTRATION_CLERK}
    ward = role == Role.DOCTOR
    before = lab.snapshot()

    def ward_order():
        return services.order_create(
            actor=user, patient=patient, tests=["CBC"], source="ipd", admission=admitted
        )

    for allowed, place in (
        (counter, lambda: lab.walk_in(actor=user, patient=patient)),
        (
            ward,
            ward_order,
        ),
    ):
        if allowed:
            assert place().ordered_by == user
        else:
            with pytest.raises(PermissionRefused):
                place()
    if not (counter or ward):
        assert lab.snapshot() == before


LAB_STEPS = {
    "collect": {Role.LAB_TECHNICIAN, Role.NURSE},
    "receive": {Role.LAB_TECHNICIAN},
    "reject": {Role.LAB_TECHNICIAN},
    "enter": {Role.LAB_TECHNICIAN},
    "verify": {Role.LAB_TECHNICIAN},
    "authorise": {Role.PATHOLOGIST},
    "amend": {Role.PATHOLOGIST},
    "acknowledge": {Role.DOCTOR},
    "cancel a walk-in test": {Role.LAB_TECHNICIAN, Role.REGISTRATION_CLERK},
}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_may_do_only_its_own_steps(make_user, role):
    user = make_user(role, username=f"user-{role}")
    sample = received_one(["FBS"], doctor=make_user(Role.DOCTOR, username="dr-asha"))
    lab.authorised(sample, {"FBS": "30"})
    fbs = lab.results_of(sample)["FBS"]
    waiting = lab.walk_in(["CBC"])
    steps = {
        "collect": lambda: services.sample_collect(actor=user, sample=one_sample(waiting)),
        "receive": lambda: services.sample_receive(actor=user, accession=sample.accession),
        "reject": lambda: services.sample_reject(actor=user, sample=sample, reason="clotted"),
        "enter": lambda: services.results_enter(actor=user, sample=sample, values={fbs.pk: "1"}),
        "verify": lambda: services.results_verify(actor=user, sample=sample),
        "authorise": lambda: services.results_authorise(actor=user, sample=sample),
        "amend": lambda: services.result_amend(
            actor=user, result=fbs, value="31", reason="recalculated"
        ),
        "acknowledge": lambda: services.alert_acknowledge(
            actor=user, alert=fbs.alert, note="dextrose given"
        ),
        "cancel a walk-in test": lambda: services.item_cancel(
            actor=user, item=waiting.items.get(), reason="not needed now"
        ),
    }
    before = lab.snapshot()
    for step, roles in LAB_STEPS.items():
        if role not in roles:
            with pytest.raises(PermissionRefused):
                steps[step]()
    assert lab.snapshot() == before


# -- samples: collection, receipt, rejection, cancellation ------------------------------


def test_a_sample_is_collected_then_received_by_its_barcode(clock_at, tech, nurse):
    sample = one_sample(lab.walk_in(["CBC"]))
    clock_at(2026, 11, 30, 8, 5)

    collected = services.sample_collect(actor=nurse, sample=sample.accession)

    assert (collected.status, collected.collected_by, collected.version) == ("collected", nurse, 2)
    assert collected.collected_at == MONDAY + dt.timedelta(minutes=5)
    assert entries(collected)[-1].reason == "sample collected"
    clock_at(2026, 11, 30, 8, 20)
    a = sample.accession
    got = services.sample_receive(actor=tech, accession=f"{a[:2]} {a[2:6]}-{a[6:]}")
    assert (got.pk, got.status, got.received_by, got.version) == (sample.pk, "received", tech, 3)
    assert got.received_at == MONDAY + dt.timedelta(minutes=20)
    [entry] = [e for e in entries(got) if e.reason == "received in the laboratory"]
    assert (entry.before["status"], entry.after["status"]) == ("collected", "received")
    assert_sealed(got)
    clean()


def test_collection_is_once_and_at_a_believable_time(clock_at, nurse):
    sample = one_sample(lab.walk_in(["CBC"]))
    before = lab.snapshot()
    with pytest.raises(ValidationFailed) as caught:
        services.sample_collect(
            actor=nurse, sample=sample, collected_at=MONDAY + dt.timedelta(minutes=5)
        )
    assert caught.value.errors == {"collected_at": ["A collection time cannot be in the future."]}
    with pytest.raises(ValidationFailed, match="before it was ordered"):
        services.sample_collect(
            actor=nurse, sample=sample, collected_at=MONDAY - dt.timedelta(hours=1)
        )
    assert lab.snapshot() == before
    services.sample_collect(actor=nurse, sample=sample)
    before = lab.snapshot()
    with pytest.raises(Conflict, match=r"is collected, not awaiting collection"):
        services.sample_collect(actor=nurse, sample=sample)
    assert lab.snapshot() == before


def test_receipt_refuses_what_is_not_ready_or_not_a_sample(clock_at, tech, nurse):
    sample = one_sample(lab.walk_in(["CBC"]))
    a = sample.accession
    before = lab.snapshot()
    with pytest.raises(Conflict, match="has not been collected: record its collection first"):
        services.sample_receive(actor=tech, accession=a)
    typo = a[:-1] + str((int(a[-1]) + 1) % 10)
    with pytest.raises(ValidationFailed) as caught:
        services.sample_receive(actor=tech, accession=typo)
    assert caught.value.errors == {
        "accession": [f"{typo} fails its check digit: rescan the label or retype it."]
    }
    with pytest.raises(ValidationFailed, match="is not an accession number"):
        services.sample_receive(actor=tech, accession="12345")
    with pytest.raises(ValidationFailed, match="Scan or type"):
        services.sample_receive(actor=tech, accession="  ")
    unknown = services.make_accession(9999, 2026)
    with pytest.raises(NotFound, match=f"No sample has accession number {unknown}"):
        services.sample_receive(actor=tech, accession=unknown)
    with pytest.raises(PermissionRefused):
        services.sample_receive(actor=nurse, accession=a)
    assert lab.snapshot() == before

    services.sample_collect(actor=nurse, sample=sample)
    services.sample_receive(actor=tech, accession=a)
    clock_at(2026, 11, 30, 9, 0)
    before = lab.snapshot()
    with pytest.raises(Conflict, match="was already received at 30-11-2026 08:00"):
        services.sample_receive(actor=tech, accession=a)
    assert lab.snapshot() == before


def test_a_rejected_sample_is_recollected_under_a_new_accession(clock_at, tech, nurse):
    order = lab.walk_in(["CBC", "ESR"])
    sample = lab.received(order)[0]
    lab.enter(sample, {"HB": "13.2", "ESR": "12"})
    assert set(order.items.values_list("status", flat=True)) == {ItemStatus.IN_PROGRESS}
    hb = lab.results_of(sample)["HB"]
    clock_at(2026, 11, 30, 8, 30)

    again = services.sample_reject(
        actor=tech, sample=sample.accession, reason="haemolysed", note="  visibly   red "
    )

    old = refreshed(sample)
    assert (old.status, old.rejected_by, old.rejection_reason) == ("rejected", tech, "haemolysed")
    assert (old.rejection_note, old.rejected_at) == (
        "visibly red",
        MONDAY + dt.timedelta(minutes=30),
    )
    assert (again.status, again.recollection_of, again.order_id) == ("awaiting", old, order.pk)
    assert (again.container, again.specimen, again.section) == (
        "edta",
        "whole_blood",
        "haematology",
    )
    assert again.accession != old.accession
    assert identifiers.verhoeff_valid(again.accession)
    assert list(order.items.values_list("sample_id", "status")) == [
        (again.pk, ItemStatus.ORDERED),
        (again.pk, ItemStatus.ORDERED),
    ]
    cleared = refreshed(hb)
    assert (cleared.status, cleared.value, cleared.flag, cleared.numeric_value) == (
        "pending",
        "",
        "",
        None,
    )
    assert (cleared.entered_by, cleared.source, cleared.range_text) == (None, "", "")
    last = entries(cleared)[-1]
    why = f"sample {old.accession} rejected: haemolysed (visibly red)"
    assert (last.before["value"], last.after["value"], last.reason) == ("13.2", "", why)
    assert [s.pk for s in selectors.collection_list()] == [again.pk]
    clean()

    # The recollection goes the whole way.
    lab.received(order)
    report = lab.authorised(again, {**CBC_NORMAL, "ESR": "10"})
    assert report.is_final
    clean()


def test_results_and_receipt_on_a_rejected_sample_name_its_recollection(tech, path):
    sample = received_one(["CBC"])
    hb_id = lab.results_of(sample)["HB"].pk
    again = services.sample_reject(actor=tech, sample=sample, reason="clotted")
    before = lab.snapshot()

    where = f"results go on its recollection {again.accession}."
    with pytest.raises(Conflict, match=re.escape(where)):
        services.results_enter(actor=tech, sample=sample, values={hb_id: "13"})
    with pytest.raises(Conflict, match=re.escape(where)):
        services.results_verify(actor=tech, sample=sample)
    with pytest.raises(Conflict, match=re.escape(where)):
        services.results_authorise(actor=path, sample=sample)
    with pytest.raises(Conflict, match=re.escape(f"its recollection is {again.accession}.")):
        services.sample_receive(actor=tech, accession=sample.accession)
    with pytest.raises(Conflict, match="only a collected or received sample can be rejected"):
        services.sample_reject(actor=tech, sample=sample, reason="clotted")
    with pytest.raises(Conflict, match="awaiting collection: receive it in the lab"):
        services.results_enter(actor=tech, sample=again, values={hb_id: "13"})
    assert lab.snapshot() == before


def test_rejection_is_refused_for_verified_results_an_awaiting_sample_or_no_reason(tech):
    order = lab.walk_in(["CBC"])
    sample = one_sample(order)
    before = lab.snapshot()
    with pytest.raises(Conflict, match="is awaiting collection: only a collected or received"):
        services.sample_reject(actor=tech, sample=sample, reason="clotted")
    lab.received(order)
    with pytest.raises(ValidationFailed) as caught:
        services.sample_reject(actor=tech, sample=sample, reason="smelly")
    assert "Choose a rejection reason (Haemolysed, Clotted" in caught.value.errors["reason"][0]
    lab.verified(sample, {"HB": "13.0", "TLC": "7"})
    before = lab.snapshot()
    with pytest.raises(Conflict, match=r"already has verified results \(HB, TLC\)"):
        services.sample_reject(actor=tech, sample=sample, reason="haemolysed")
    assert lab.snapshot() == before


def test_a_test_is_cancelled_before_its_sample_reaches_the_lab(tech, nurse):
    order = lab.walk_in(["CBC", "ESR", "FBS"])
    items = {i.panel.code: i for i in order.items.select_related("panel")}
    edta, fluoride = lab.sample_for(order, "edta"), lab.sample_for(order, "fluoride")

    esr = services.item_cancel(actor=tech, item=items["ESR"], reason="  ordered by mistake ")

    assert (esr.status, esr.cancelled_reason) == (ItemStatus.CANCELLED, "ordered by mistake")
    last = entries(esr)[-1]
    assert (last.action, last.reason) == (LedgerAction.CANCEL, "ordered by mistake")
    assert refreshed(edta).status == SampleStatus.AWAITING  # CBC still wants it
    assert "ESR" not in lab.results_of(edta)
    services.sample_collect(actor=nurse, sample=fluoride)
    services.item_cancel(actor=tech, item=items["FBS"], reason="patient had eaten")
    fluoride = refreshed(fluoride)
    assert (fluoride.status, fluoride.version) == (SampleStatus.CANCELLED, 3)
    assert entries(fluoride)[-1].action == LedgerAction.CANCEL
    with pytest.raises(Conflict, match="was cancelled"):
        services.sample_receive(actor=tech, accession=fluoride.accession)
    with pytest.raises(Conflict, match="is cancelled, not awaiting collection"):
        services.sample_collect(actor=nurse, sample=edta.accession[:0] + fluoride.accession)
    clean()


def test_cancellation_refusals(doctor, tech, nurse, admitted, patient):
    order = lab.walk_in(["CBC", "ESR"])
    cbc, esr = order.items.order_by("id")
    services.item_cancel(actor=tech, item=esr, reason="duplicate order")
    lab.received(order)
    ward = services.order_create(
        actor=doctor, patient=patient, tests=["FBS"], source="ipd", admission=admitted
    )
    [fbs] = ward.items.all()
    before = lab.snapshot()
    with pytest.raises(Conflict, match=r"is already in the lab: ask the laboratory"):
        services.item_cancel(actor=tech, item=cbc, reason="not needed now")
    with pytest.raises(Conflict, match="Erythrocyte sedimentation rate is already cancelled"):
        services.item_cancel(actor=tech, item=esr, reason="not needed now")
    with pytest.raises(ValidationFailed) as caught:
        services.item_cancel(actor=doctor, item=fbs, reason=" no ")
    assert caught.value.errors == {
        "reason": ["Say why the test is cancelled (at least 5 letters)."]
    }
    with pytest.raises(ValidationFailed, match="at most 200 characters"):
        services.item_cancel(actor=doctor, item=fbs, reason="x" * 201)
    with pytest.raises(PermissionRefused):
        services.item_cancel(actor=nurse, item=cbc, reason="not needed now")
    with pytest.raises(PermissionRefused):  # an inpatient's test is the doctor's to cancel
        services.item_cancel(actor=tech, item=fbs, reason="not needed now")
    assert lab.snapshot() == before
    services.item_cancel(actor=doctor, item=fbs, reason="not needed now")
    assert refreshed(fbs.sample).status == SampleStatus.CANCELLED


# -- evaluating a value -----------------------------------------------------------------


ON = dt.date(2026, 11, 30)


def person(sex: str = "M", born: dt.date = dt.date(1980, 5, 17)) -> SimpleNamespace:
    """What evaluation reads of a patient: sex and date of birth."""
    return SimpleNamespace(sex=sex, date_of_birth=born)


def ev(code: str, raw: str, who=None, on: dt.date = ON) -> services.Evaluation:
    test = LabTest.objects.prefetch_related("ranges").get(code=code)
    return services.evaluate(test, raw, who or person(), on)


MAN, WOMAN = person("M"), person("F")
CHILD = person("M", dt.date(2016, 6, 1))
INFANT = person("F", dt.date(2026, 8, 30))
TRANS = person("T")


@pytest.mark.parametrize(
    ("who", "raw", "flag", "shown"),
    [
        (MAN, "10.5", "L", "13.0 - 17.0"),
        (WOMAN, "10.5", "L", "12.0 - 15.0"),
        (CHILD, "10.5", "L", "11.5 - 15.5"),
        (INFANT, "10.5", "", "10.0 - 14.0"),
        (MAN, "14.5", "", "13.0 - 17.0"),
        (WOMAN, "14.5", "", "12.0 - 15.0"),
        (WOMAN, "15.5", "H", "12.0 - 15.0"),
        (INFANT, "14.5", "H", "10.0 - 14.0"),
        (INFANT, "21", "H", "10.0 - 14.0"),  # a newborn's critical limit is 22
        (CHILD, "21", "HH", "11.5 - 15.5"),
        # no band of its own: abnormal only if abnormal for both sexes, critical for either
        (TRANS, "12.5", "", "12.0 - 17.0"),
        (TRANS, "17.5", "H", "12.0 - 17.0"),
        (TRANS, "6.5", "LL", "12.0 - 17.0"),
    ],
)
def test_the_range_is_the_patients_by_sex_and_age(who, raw, flag, shown):
    got = ev("HB", raw, who)
    assert (got.flag, got.range_text) == (flag, shown)


def test_ranges_without_age_bands_follow_sex_and_the_unknown_sex_gets_both():
    assert ev("RBC", "4.9", WOMAN).flag == Flag.HIGH
    assert ev("RBC", "4.9", MAN).flag == Flag.NORMAL
    assert ev("RBC", "4.6", person("U")).range_text == "3.80 - 5.50"
    assert ev("HDL", "45", WOMAN).flag == Flag.LOW
    assert ev("HDL", "45", person("U")).range_text == "> 40"
    neonate = person("F", dt.date(2026, 11, 20))  # ten days old
    assert (ev("TBIL", "9", neonate).flag, ev("TBIL", "9").flag) == (Flag.NORMAL, Flag.HIGH)
    assert ev("TBIL", "16", neonate).flag == Flag.CRITICAL_HIGH


@pytest.mark.parametrize(
    ("born", "on", "band"),
    [
        (dt.date(2008, 11, 30), dt.date(2026, 11, 29), "11.5 - 15.5"),  # the day before
        (dt.date(2008, 11, 30), dt.date(2026, 11, 30), "13.0 - 17.0"),  # the 18th birthday
        (dt.date(2025, 11, 30), dt.date(2026, 11, 29), "10.0 - 14.0"),
        (dt.date(2025, 11, 30), dt.date(2026, 11, 30), "11.5 - 15.5"),  # the 1st birthday
        (dt.date(2008, 2, 29), dt.date(2026, 2, 27), "11.5 - 15.5"),
        (dt.date(2008, 2, 29), dt.date(2026, 2, 28), "13.0 - 17.0"),  # no 29th this year
        (dt.date(2026, 11, 30), dt.date(2026, 11, 30), "10.0 - 14.0"),  # born today
    ],
)
def test_an_age_band_starts_on_the_birthday_itself(born, on, band):
    assert ev("HB", "14", person("M", born), on).range_text == band


def test_age_in_days_counts_whole_years_then_days_since_the_birthday():
    assert services.age_in_days(person(born=dt.date(2008, 2, 29)), dt.date(2026, 3, 1)) == (
        18 * 365 + 1
    )
    assert services.age_in_days(person(born=dt.date(2026, 11, 1)), ON) == 29
    assert services.age_in_days(person(born=dt.date(2027, 1, 1)), ON) == 0
    assert services.age_in_days(person(born=dt.date(2024, 2, 29)), dt.date(2025, 2, 28)) == 365


@pytest.mark.parametrize(
    ("raw", "flag"),
    [
        ("2.7", "LL"),
        ("2.8", "L"),  # exactly at the critical limit: low, not critical
        ("3.4", "L"),
        ("3.5", ""),  # exactly at the limits: normal
        ("5.1", ""),
        ("5.2", "H"),
        ("6.2", "H"),
        ("6.3", "HH"),
        ("3.45", ""),  # rounded to one decimal first: 3.5
        ("3.44", "L"),
    ],
)
def test_flags_at_and_either_side_of_every_limit(raw, flag):
    assert ev("K", raw).flag == flag


@pytest.mark.parametrize(
    ("code", "raw", "value", "numeric", "flag"),
    [
        ("HB", "13.04", "13.0", "13.0", ""),
        ("HB", "13.05", "13.1", "13.1", ""),  # half up, as people round
        ("HB", "13", "13.0", "13.0", ""),
        ("HB", " 1.32e1 ", "13.2", "13.2", ""),
        ("HB", "-0", "0.0", "0.0", "LL"),
        ("TLC", "7", "7.00", "7.00", ""),
        ("PLT", "250.5", "251", "251", ""),
        ("CRP", "<5", "<5.0", "5.0", ""),
        ("CRP", "> 5", ">5.0", "5.0", "H"),
        ("FBS", "<40", "<40", "40", "LL"),  # below 40 is critically low
        ("FBS", ">450", ">450", "450", "HH"),
        ("FBS", "450", "450", "450", "H"),
    ],
)
def test_numbers_are_rounded_to_the_tests_decimals(code, raw, value, numeric, flag):
    got = ev(code, raw)
    assert (got.value, got.numeric, got.flag) == (value, Decimal(numeric), flag)


@pytest.mark.parametrize(
    ("code", "raw", "message"),
    [
        ("HB", "", "Haemoglobin: no value"),
        ("HB", "   ", "Haemoglobin: no value"),
        ("HB", "abc", "Haemoglobin: 'abc' is not a number (in g/dL)"),
        ("HB", "12,5", "Haemoglobin: '12,5' is not a number (in g/dL)"),
        ("HB", "<", "Haemoglobin: '<' is not a number (in g/dL)"),
        ("HB", "NaN", "Haemoglobin: 'NaN' is not a number"),
        ("HB", "Infinity", "Haemoglobin: 'Infinity' is not a number"),
        ("HB", "-1", "Haemoglobin: -1 cannot be negative"),
        ("HB", "1e11", "Haemoglobin: 1e11 is out of any measurable range"),
        ("HB", "99999999999", "is out of any measurable range"),
        ("HBSAG", "positive", "'positive' is not one of Non-reactive, Reactive, Indeterminate"),
        ("WIDAL", "x" * 201, "Widal test: a result is at most 200 characters"),
    ],
)
def test_a_value_that_cannot_be_a_result_is_refused_naming_it(code, raw, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ev(code, raw)


@pytest.mark.parametrize(
    ("code", "raw", "value", "flag"),
    [
        ("HBSAG", "reactive", "Reactive", "A"),
        ("HBSAG", " NON-REACTIVE ", "Non-reactive", ""),
        ("UPROT", "trace", "Trace", "A"),
        ("UPROT", "nil", "Nil", ""),
        ("WIDAL", "titres  BELOW 1:80", "titres BELOW 1:80", ""),
        ("WIDAL", "TO 1:160, TH 1:80", "TO 1:160, TH 1:80", "A"),
    ],
)
def test_choices_take_their_canonical_spelling_and_text_is_flagged_against_normal(
    code, raw, value, flag
):
    got = ev(code, raw)
    assert (got.value, got.flag, got.numeric) == (value, flag, None)
    assert got.range_text == LabTest.objects.get(code=code).ranges.get().normal_text


# -- entering results and the delta check ------------------------------------------------


def test_entered_values_are_checked_all_before_any_is_stored(tech):
    sample = received_one(["CBC"])
    by_code = lab.results_of(sample)
    before = lab.snapshot()
    with pytest.raises(ValidationFailed) as caught:
        services.results_enter(
            actor=tech,
            sample=sample,
            values={by_code["HB"].pk: "13", by_code["TLC"].pk: "lots", 999999: "1"},
        )
    assert caught.value.errors == {
        f"r{by_code['TLC'].pk}": ["Total leucocyte count: 'lots' is not a number (in 10^3/µL)."],
        "__all__": [f"Result 999999 is not a test on sample {sample.accession}."],
    }
    with pytest.raises(ValidationFailed, match="Enter at least one result"):
        services.results_enter(actor=tech, sample=sample, values={by_code["HB"].pk: "  "})
    with pytest.raises(PermissionRefused):
        lab.enter(sample, {"HB": "13"}, actor=lab.pathologist())
    assert lab.snapshot() == before

    [hb] = lab.enter(sample, {"HB": "13.25"})
    assert (hb.status, hb.value, hb.numeric_value, hb.unit) == (
        "entered",
        "13.3",
        Decimal("13.3"),
        "g/dL",
    )
    assert (hb.range_low, hb.range_high, hb.range_text) == (
        Decimal("13.0"),
        Decimal("17.0"),
        "13.0 - 17.0",
    )
    assert (hb.source, hb.entered_by, hb.entered_at, hb.method) == (
        ResultSource.MANUAL,
        tech,
        MONDAY,
        "SLS-haemoglobin (photometry)",
    )
    assert entries(hb)[-1].reason == "result entered"
    [hb] = lab.enter(sample, {"HB": "12.9"})
    assert (hb.value, hb.flag) == ("12.9", Flag.LOW)
    assert entries(hb)[-1].reason == "result corrected before verification"
    assert refreshed(hb.item).status == ItemStatus.IN_PROGRESS
    lab.verified(sample, {"TLC": "7"})
    with pytest.raises(ValidationFailed, match="is already verified by technician: amend it"):
        lab.enter(sample, {"HB": "13"})
    clean()


def _authorised_hb(patient, value: str, at: dt.datetime, clock_at) -> Result:
    clock_at(*at.astimezone(IST).timetuple()[:5])
    sample = received_one(["CBC"], patient=patient)
    lab.authorised(sample, {**CBC_NORMAL, "HB": value})
    return lab.results_of(sample)["HB"]


def test_the_delta_check_compares_with_the_patients_last_authorised_value(clock_at, patient):
    earlier = _authorised_hb(patient, "9.0", dt.datetime(2026, 11, 20, 9, 0, tzinfo=IST), clock_at)
    last = _authorised_hb(patient, "10.0", dt.datetime(2026, 11, 27, 9, 0, tzinfo=IST), clock_at)
    _authorised_hb(PatientFactory(), "5.0", dt.datetime(2026, 11, 29, 9, 0, tzinfo=IST), clock_at)
    clock_at(2026, 11, 30, 9, 0)
    unfinished = received_one(["CBC"], patient=patient)  # verified, never authorised
    lab.verified(unfinished, {"HB": "4.0"})
    sample = received_one(["CBC"], patient=patient)
    assert earlier.value == "9.0"

    # HB's limit is 20 % of the last authorised 10.0: a change above it, not at it.
    for now, delta in [("12.1", True), ("12.0", False), ("10", False), ("8", False), ("7.9", True)]:
        [hb, rbc] = lab.enter(sample, {"HB": now, "RBC": "9.0"})
        assert (hb.previous_value, hb.previous_at) == ("10.0", last.authorised_at)
        assert hb.delta_flag is delta, now
        assert (rbc.previous_value, rbc.delta_flag) == ("5.00", False)  # RBC has no limit
    unfinished_hb = lab.results_of(unfinished)["HB"]
    assert (unfinished_hb.previous_value, unfinished_hb.delta_flag) == ("10.0", True)


def test_a_first_result_has_nothing_to_compare_with(clock_at, patient):
    _authorised_hb(PatientFactory(), "5.0", dt.datetime(2026, 11, 29, 9, 0, tzinfo=IST), clock_at)
    clock_at(2026, 11, 30, 9, 0)
    [hb] = lab.enter(received_one(["CBC"], patient=patient), {"HB": "14"})
    assert (hb.previous_value, hb.previous_at, hb.delta_flag) == ("", None, False)


# -- verification, critical values ------------------------------------------------------


def test_verification_needs_entered_values_and_takes_the_chosen_ones(tech, path):
    sample = received_one(["CBC"])
    before = lab.snapshot()
    with pytest.raises(Conflict, match=f"Sample {sample.accession} has no entered results"):
        services.results_verify(actor=tech, sample=sample)
    with pytest.raises(PermissionRefused):
        services.results_verify(actor=path, sample=sample)
    assert lab.snapshot() == before
    hb, _tlc = lab.enter(sample, {"HB": "14", "TLC": "7"})

    [verified] = services.results_verify(actor=tech, sample=sample, result_ids=[hb.pk])

    assert (verified.pk, verified.status, verified.verified_by) == (hb.pk, "verified", tech)
    assert verified.verified_at == MONDAY
    assert lab.results_of(sample)["TLC"].status == ResultStatus.ENTERED
    assert CriticalAlert.objects.count() == 0
    clean()


def test_a_critical_value_alerts_the_ordering_doctor_who_acknowledges_it_once(
    clock_at, doctor, nurse, tech
):
    sample = received_one(["FBS"], doctor=doctor)
    lab.enter(sample, {"FBS": "35"})
    assert CriticalAlert.objects.count() == 0  # entered is not yet told

    services.results_verify(actor=tech, sample=sample)

    result = lab.results_of(sample)["FBS"]
    alert = result.alert
    assert (alert.doctor, alert.patient_id, alert.raised_at) == (
        doctor,
        sample.order.patient_id,
        MONDAY,
    )
    assert entries(alert)[0].reason == "critical FBS 35 mg/dL"
    assert list(selectors.open_alerts_for(doctor)) == [alert]
    before = lab.snapshot()
    with pytest.raises(PermissionRefused):
        services.alert_acknowledge(actor=nurse, alert=alert, note="informed the doctor")
    with pytest.raises(ValidationFailed, match="Say what was done"):
        services.alert_acknowledge(actor=doctor, alert=alert, note=" ok ")
    assert lab.snapshot() == before
    clock_at(2026, 11, 30, 8, 12)

    heard = services.alert_acknowledge(
        actor=doctor, alert=alert, note="  repeat sample sent,  dextrose started "
    )

    assert (heard.acknowledged_by, heard.acknowledged_at) == (
        doctor,
        MONDAY + dt.timedelta(minutes=12),
    )
    assert heard.action_note == "repeat sample sent, dextrose started"
    assert selectors.open_alert_count(doctor) == 0
    before = lab.snapshot()
    with pytest.raises(Conflict, match="Already acknowledged at 30-11-2026 08:12"):
        services.alert_acknowledge(actor=doctor, alert=alert, note="heard it again")
    assert lab.snapshot() == before
    clean()


def test_a_high_value_that_is_not_critical_raises_no_alert(tech):
    sample = received_one(["FBS"])
    lab.verified(sample, {"FBS": "300"})
    assert lab.results_of(sample)["FBS"].flag == Flag.HIGH
    assert CriticalAlert.objects.count() == 0


# -- authorisation and reports ----------------------------------------------------------


def test_authorisation_needs_verified_results_and_a_pathologist(tech, path):
    sample = received_one(["CBC"])
    lab.enter(sample, {"HB": "14"})
    before = lab.snapshot()
    with pytest.raises(Conflict, match="has no verified results to authorise"):
        services.results_authorise(actor=path, sample=sample)
    services.results_verify(actor=tech, sample=sample)
    before = lab.snapshot()
    with pytest.raises(PermissionRefused):
        services.results_authorise(actor=tech, sample=sample)
    assert lab.snapshot() == before


def test_the_database_refuses_one_person_verifying_and_authorising(tech):
    sample = received_one(["CBC"])
    [hb] = lab.verified(sample, {"HB": "14"})

    with pytest.raises(IntegrityError), transaction.atomic():
        Result.objects.filter(pk=hb.pk).update(
            status=ResultStatus.AUTHORISED, authorised_by=tech, authorised_at=MONDAY
        )

    assert (refreshed(hb).status, hb.authorised_by) == (ResultStatus.VERIFIED, None)


def _report_entry(report: Report) -> LedgerEntry:
    return LedgerEntry.objects.get(subject_type="lab.report", subject_id=report.number)


def test_a_partial_report_then_the_final_one_each_with_its_hash_on_the_ledger(
    clock_at, tech, path, patient
):
    order = lab.walk_in(["CBC"], patient=patient)
    [sample] = lab.received(order)
    [item] = order.items.all()
    clock_at(2026, 11, 30, 9, 0)

    first = lab.authorised(sample, {"HB": "14.0"})

    assert refreshed(item).status == ItemStatus.IN_PROGRESS  # twelve results to come
    assert (first.number, first.version, first.is_final) == (f"{order.number}-1", 1, False)
    assert (first.issued_by, first.issued_at, first.supersedes) == (
        path,
        MONDAY + dt.timedelta(hours=1),
        None,
    )
    assert first.content_hash == hashlib.sha256(first.content.encode()).hexdigest()
    entry = _report_entry(first)
    assert entry.after["content_hash"] == first.content_hash
    assert entry.state_hash == first.seal
    content = json.loads(first.content)
    assert content["report"] == first.number
    assert content["patient"]["uhid"] == patient.uhid
    assert content["doctor"] == "Dr. Outside"
    [section] = content["sections"]
    assert (section["panel"], section["accession"]) == ("CBC", sample.accession)
    assert [(r["test"], r["value"], r["authorised_by"]) for r in section["results"]] == [
        ("HB", "14.0", "Dr. Meera Pathologist")
    ]
    hb = lab.results_of(sample)["HB"]
    assert (hb.status, hb.authorised_by, hb.authorised_at) == ("authorised", path, first.issued_at)
    clock_at(2026, 11, 30, 10, 0)

    final = lab.authorised(sample, {k: v for k, v in CBC_NORMAL.items() if k != "HB"})

    assert (final.version, final.is_final, final.supersedes) == (2, True, first)
    item = refreshed(item)
    assert (item.status, item.authorised_at) == (ItemStatus.AUTHORISED, final.issued_at)
    [section] = json.loads(final.content)["sections"]
    assert [r["test"] for r in section["results"]] == list(CBC_NORMAL)
    assert _report_entry(final).after["content_hash"] == final.content_hash
    assert final.content_hash == hashlib.sha256(final.content.encode()).hexdigest()
    clean()


def test_a_report_is_final_only_when_every_sample_of_the_order_is_authorised(tech):
    order = lab.walk_in(["CBC", "FBS"])
    lab.received(order)
    fbs = lab.authorised(lab.sample_for(order, "fluoride"), {"FBS": "90"})
    assert (fbs.version, fbs.is_final) == (1, False)
    cbc = lab.authorised(lab.sample_for(order, "edta"), CBC_NORMAL)
    assert (cbc.version, cbc.is_final) == (2, True)
    assert [s["panel"] for s in json.loads(cbc.content)["sections"]] == ["CBC", "FBS"]


def test_a_cancelled_test_does_not_hold_the_report_back(tech):
    order = lab.walk_in(["CBC", "FBS"])
    services.item_cancel(actor=tech, item=order.items.get(panel__code="FBS"), reason="not fasting")
    [sample] = lab.received(order)
    assert lab.authorised(sample, CBC_NORMAL).is_final


# -- amendments -------------------------------------------------------------------------


@pytest.fixture
def reported(clock_at):
    """A CBC authorised in full at 08:00 (report 1, final)."""
    sample = received_one(["CBC"])
    report = lab.authorised(sample, CBC_NORMAL)
    clock_at(2026, 11, 30, 11, 0)
    return sample, report


def test_an_amendment_keeps_the_old_value_and_needs_a_second_pathologist(reported, path, path2):
    sample, first = reported
    old = lab.results_of(sample)["HB"]
    reason = "value transcribed from the wrong patient's tube"

    new = services.result_amend(actor=path, result=old, value="9.5", reason=reason)

    old = refreshed(old)
    assert (old.status, old.value, old.version) == (ResultStatus.AMENDED, "14.0", 5)
    assert entries(old)[-1].reason == reason
    assert (new.status, new.value, new.flag, new.version) == ("verified", "9.5", "L", 1)
    assert (new.amends, new.amendment_reason, new.verified_by, new.entered_by) == (
        old,
        reason,
        path,
        path,
    )
    assert (new.previous_value, new.delta_flag) == ("", False)  # same order: no delta
    item = refreshed(new.item)
    assert (item.status, item.authorised_at) == (ItemStatus.IN_PROGRESS, None)
    assert lab.results_of(sample)["HB"].pk == new.pk
    before = lab.snapshot()
    with pytest.raises(Conflict) as caught:
        services.results_authorise(actor=path, sample=sample)
    assert caught.value.message == (
        "You verified Haemoglobin: another pathologist must authorise (two different people)."
    )
    assert lab.snapshot() == before

    second = services.results_authorise(actor=path2, sample=sample)

    new = refreshed(new)
    assert (new.status, new.authorised_by) == (ResultStatus.AUTHORISED, path2)
    assert refreshed(item).status == ItemStatus.AUTHORISED
    assert (second.version, second.supersedes, second.is_final) == (2, first, True)
    assert second.reason == f"HB amended: {reason}"
    assert _report_entry(second).reason == f"HB amended: {reason}"
    [section] = json.loads(second.content)["sections"]
    rows = {r["test"]: r for r in section["results"]}
    assert (rows["HB"]["value"], rows["HB"]["amended"], rows["TLC"]["amended"]) == (
        "9.5",
        True,
        False,
    )
    assert Result.objects.filter(item=item, test__code="HB").count() == 2
    clean()


def test_an_amendment_refuses_what_cannot_be_amended(reported, path, tech):
    sample, _ = reported
    hb = lab.results_of(sample)["HB"]
    other = received_one(["CBC"])
    [verified] = lab.verified(other, {"HB": "12"})
    before = lab.snapshot()
    cases = [
        (ValidationFailed, {"result": hb, "value": "14"}, "same as the old one"),
        (ValidationFailed, {"result": hb, "value": "lots"}, "'lots' is not a number"),
        (ValidationFailed, {"result": hb, "value": "9", "reason": "  "}, "Say why the result"),
        (ValidationFailed, {"result": hb, "value": "9", "reason": "x" * 201}, "at most 200"),
        (Conflict, {"result": verified, "value": "9"}, "only an authorised result is amended"),
    ]
    for error, kwargs, message in cases:
        kwargs.setdefault("reason", "analyzer clot flag missed")
        with pytest.raises(error, match=message):
            services.result_amend(actor=path, **kwargs)
    with pytest.raises(PermissionRefused):
        services.result_amend(actor=tech, result=hb, value="9", reason="analyzer clot flag")
    assert lab.snapshot() == before
    services.result_amend(actor=path, result=hb, value="9", reason="analyzer clot flag")
    with pytest.raises(Conflict, match="Haemoglobin is replaced by an amendment"):
        services.result_amend(actor=path, result=hb, value="8", reason="analyzer clot flag")


def test_an_amendment_to_a_critical_value_alerts_the_doctor(doctor, path, clock_at):
    sample = received_one(["CBC"], doctor=doctor)
    lab.authorised(sample, CBC_NORMAL)
    hb = lab.results_of(sample)["HB"]
    new = services.result_amend(actor=path, result=hb, value="5.5", reason="recalibrated run")
    assert new.flag == Flag.CRITICAL_LOW
    assert (new.alert.doctor, new.alert.acknowledged_at) == (doctor, None)
    clean()


# -- the analyzer's messages --------------------------------------------------------------


@pytest.fixture
def collected(nurse):
    """A CBC drawn at the ward at 08:00, not yet received in the lab."""
    sample = one_sample(lab.walk_in(["CBC"]))
    return services.sample_collect(actor=nurse, sample=sample)


def test_an_analyzer_result_is_stored_and_receives_the_sample(collected):
    message = lab.oru(collected.accession, [("HGB", "13.24"), ("WBC", "7.5")], control_id="C1")

    outcome = services.analyzer_message_store(message)

    assert (outcome.ack, outcome.status, outcome.results, outcome.duplicate) == (
        "AA",
        MessageStatus.APPLIED,
        2,
        False,
    )
    assert outcome.text == "2 result(s) stored."
    inbound = InboundMessage.objects.get()
    assert (inbound.status, inbound.ack_code, inbound.sample, inbound.control_id) == (
        MessageStatus.APPLIED,
        "AA",
        collected,
        "C1",
    )
    assert inbound.analyzer.code == "XN1000"
    assert inbound.raw_sha256 == hashlib.sha256(message.raw.encode()).hexdigest()
    sample = refreshed(collected)
    assert (sample.status, sample.received_by, sample.received_at) == ("received", None, MONDAY)
    hb = lab.results_of(sample)["HB"]
    assert (hb.status, hb.value, hb.source, hb.message, hb.entered_by) == (
        ResultStatus.ENTERED,
        "13.2",
        ResultSource.ANALYZER,
        inbound,
        None,
    )
    assert hb.analyzer.code == "XN1000"
    assert entries(hb)[-1].reason == "result from XN1000 message C1"
    assert refreshed(hb.item).status == ItemStatus.IN_PROGRESS
    assert lab.results_of(sample)["RBC"].status == ResultStatus.PENDING
    assert_sealed(inbound)
    clean()

    # The same message again (the analyzer missed our ACK): the same answer, nothing twice.
    before = lab.snapshot()
    again = services.analyzer_message_store(message)
    assert (again.ack, again.text, again.status, again.duplicate) == (
        outcome.ack,
        outcome.text,
        outcome.status,
        True,
    )
    assert lab.snapshot() == before


def test_an_analyzer_result_for_an_awaiting_sample_collects_and_receives_it():
    sample = one_sample(lab.walk_in(["CBC"]))
    outcome = services.analyzer_message_store(lab.oru(sample.accession, [("HGB", "12")]))
    assert outcome.ack == "AA"
    sample = refreshed(sample)
    assert (sample.status, sample.collected_at, sample.received_at) == ("received", MONDAY, MONDAY)
    assert entries(sample)[-1].reason == "received on XN1000's result"
    clean()


@pytest.mark.parametrize(
    "accession", [services.make_accession(4242, 2026), "2600000019", "NOT-A-BARCODE"]
)
def test_a_message_for_an_unknown_accession_waits_to_be_matched(collected, accession):
    before = lab.snapshot()
    outcome = services.analyzer_message_store(lab.oru(accession, [("HGB", "12")]))
    assert (outcome.ack, outcome.status, outcome.error_code) == ("AA", "unmatched", "")
    assert outcome.text == f"No sample with accession {accession!r}: kept to be matched."
    inbound = InboundMessage.objects.get()
    assert (inbound.status, inbound.sample, inbound.accession) == ("unmatched", None, accession)
    after = lab.snapshot()
    assert after["results"] == before["results"]
    assert after["samples"] == before["samples"]
    clean()


def _refused(sample_accession: str, observations, code: str, text: str, **kwargs):
    before = lab.snapshot()
    outcome = services.analyzer_message_store(lab.oru(sample_accession, observations, **kwargs))
    assert (outcome.ack, outcome.error_code, outcome.status) == ("AE", code, MessageStatus.ERROR)
    assert text in outcome.text, outcome.text
    inbound = InboundMessage.objects.get(control_id=kwargs.get("control_id", "MSG0001"))
    assert (inbound.status, inbound.ack_code, inbound.detail) == ("error", "AE", outcome.text)
    after = lab.snapshot()
    assert after.pop("InboundMessage") == before.pop("InboundMessage") + 1
    for key in ("results", "samples", "items", "Result", "Sample", "CriticalAlert"):
        assert after[key] == before[key], key
    clean()
    return inbound


def test_an_unknown_analyzer_code_refuses_the_whole_message(collected):
    inbound = _refused(
        collected.accession,
        [("HGB", "13"), ("XYZ", "1")],
        "103",
        "Unknown test code 'XYZ' for XN1000",
    )
    assert inbound.sample == collected
    assert refreshed(collected).status == SampleStatus.COLLECTED  # not received either


def test_a_code_not_ordered_on_the_sample_is_refused(nurse):
    sample = one_sample(lab.walk_in(["ESR"]))
    _refused(sample.accession, [("HGB", "13")], "103", "HGB was not ordered on sample")


def test_a_resent_refused_message_gets_the_same_error_code(collected):
    message = lab.oru(collected.accession, [("XYZ", "1")], control_id="R1")
    first = services.analyzer_message_store(message)
    again = services.analyzer_message_store(message)
    assert (first.ack, first.error_code) == ("AE", "103")
    assert (again.ack, again.error_code, again.text, again.duplicate) == (
        "AE",
        "103",
        first.text,
        True,
    )


def test_a_value_in_another_unit_than_the_catalogues_is_refused(collected):
    message = lab.oru(collected.accession, [("HGB", "8.1")], control_id="U1")
    message.observations[0].unit = "mmol/L"
    before = lab.snapshot()
    outcome = services.analyzer_message_store(message)
    assert (outcome.ack, outcome.error_code) == ("AE", "103")
    assert "HGB came in 'mmol/L' but Haemoglobin is reported in g/dL" in outcome.text
    assert lab.snapshot()["Result"] == before["Result"]


@pytest.mark.parametrize(("code", "unit"), [("HGB", "G/DL"), ("WBC", "10*3/uL"), ("PLT", "")])
def test_units_spelled_the_analyzers_way_are_the_same_unit(collected, code, unit):
    message = lab.oru(collected.accession, [(code, "12")], control_id=f"V-{code}")
    message.observations[0].unit = unit
    assert services.analyzer_message_store(message).ack == "AA"


def test_a_non_numeric_analyzer_value_is_refused(collected):
    _refused(
        collected.accession,
        [("HGB", "13"), ("WBC", "high")],
        "102",
        "OBX 2: Total leucocyte count: 'high' is not a number",
    )


def test_an_unknown_sender_is_refused(collected):
    _refused(
        collected.accession,
        [("HGB", "13")],
        "204",
        "Unknown sending application 'XN-9999' (MSH-3)",
        app="XN-9999",
    )


def test_results_for_a_rejected_or_cancelled_sample_are_refused(tech, collected):
    services.sample_reject(actor=tech, sample=collected, reason="clotted")
    _refused(collected.accession, [("HGB", "13")], "207", "was rejected (clotted)")
    order = lab.walk_in(["ESR"])
    [item] = order.items.all()
    services.item_cancel(actor=tech, item=item, reason="not needed now")
    _refused(
        one_sample(order).accession,
        [("HGB", "13")],
        "207",
        "was cancelled",
        control_id="MSG0002",
    )


def test_a_rerun_with_the_same_value_changes_nothing_and_a_new_value_replaces_it(collected):
    services.analyzer_message_store(lab.oru(collected.accession, [("HGB", "13.2")]))
    before = lab.snapshot()

    same = services.analyzer_message_store(
        lab.oru(collected.accession, [("HGB", "13.20")], control_id="C2")
    )

    assert (same.ack, same.results, same.text) == ("AA", 0, "0 result(s) stored.")
    after = lab.snapshot()
    assert after["results"] == before["results"]
    assert after["InboundMessage"] == before["InboundMessage"] + 1
    rerun = services.analyzer_message_store(
        lab.oru(collected.accession, [("HGB", "13.6")], control_id="C3")
    )
    assert rerun.results == 1
    hb = lab.results_of(collected)["HB"]
    assert (hb.value, hb.message.control_id) == ("13.6", "C3")
    last = entries(hb)[-1]
    assert (last.before["value"], last.reason) == ("13.2", "rerun from XN1000 message C3")
    clean()


def test_a_verified_result_is_not_changed_by_the_analyzer(collected, tech):
    services.analyzer_message_store(lab.oru(collected.accession, [("HGB", "13.2")]))
    services.results_verify(actor=tech, sample=collected)
    same = services.analyzer_message_store(
        lab.oru(collected.accession, [("HGB", "13.2")], control_id="C2")
    )
    assert (same.ack, same.results) == ("AA", 0)
    _refused(
        collected.accession,
        [("HGB", "11.0")],
        "207",
        "Haemoglobin is already verified: amend it in the lab",
        control_id="C3",
    )
    assert lab.results_of(collected)["HB"].value == "13.2"


def test_every_flow_leaves_a_clean_ledger(tech, path, path2, doctor, clock_at):
    """One patient's morning end to end, then the ledger's full check."""
    order = lab.walk_in(["CBC", "KFT", "FBS"], doctor=doctor)
    edta, sst, fluoride = (lab.sample_for(order, c) for c in ("edta", "sst", "fluoride"))
    lab.received(order)
    again = services.sample_reject(actor=tech, sample=sst, reason="haemolysed")
    lab.received(order)
    services.analyzer_message_store(lab.oru(edta.accession, [("HGB", "6.5")]))
    services.results_verify(actor=tech, sample=edta)
    alert = lab.results_of(edta)["HB"].alert
    services.alert_acknowledge(actor=doctor, alert=alert, note="transfusion ordered")
    lab.enter(edta, {k: v for k, v in CBC_NORMAL.items() if k != "HB"})
    services.results_verify(actor=tech, sample=edta)
    services.results_authorise(actor=path, sample=edta)
    lab.authorised(
        again, {"UREA": "30", "CREAT": "1.0", "NA": "140", "K": "4.2", "CL": "100", "URIC": "5.0"}
    )
    lab.authorised(fluoride, {"FBS": "92"})
    clock_at(2026, 11, 30, 12, 0)
    services.result_amend(
        actor=path, result=lab.results_of(fluoride)["FBS"], value="29", reason="wrong dilution"
    )
    report = services.results_authorise(actor=path2, sample=fluoride)
    assert (report.version, report.is_final) == (4, True)
    assert LabOrder.objects.count() == 1
    clean()


# -- no query per row in the hot paths ---------------------------------------------------


def _queries(work) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        work()
    # The lockdown's write guard re-reads its state once a second outside a request
    # (defense.lockdown.OUTSIDE_TTL): whether a given call pays it is a matter of time.
    return len([q for q in captured if "defense_lockdown" not in q["sql"]])


def test_the_busy_paths_cost_the_same_queries_for_one_test_as_for_many(tech, path, patient):
    lab.walk_in(["ESR"], patient=patient)  # the year's number sequences now exist
    one = _queries(lambda: lab.walk_in(["FBS"], patient=patient))
    many = _queries(lambda: lab.walk_in(["CBC", "KFT", "LFT", "FBS", "HBSAG"], patient=patient))
    assert many == one
    small, big = received_one(["FBS"]), received_one(["CBC"])
    assert _queries(lambda: lab.enter(big, CBC_NORMAL)) == _queries(
        lambda: lab.enter(small, {"FBS": "90"})
    )
    assert _queries(lambda: services.results_verify(actor=tech, sample=big)) == _queries(
        lambda: services.results_verify(actor=tech, sample=small)
    )
    assert _queries(lambda: services.results_authorise(actor=path, sample=big)) == _queries(
        lambda: services.results_authorise(actor=path, sample=small)
    )
    first, second = (one_sample(lab.walk_in(["CBC"])) for _ in range(2))
    codes = ["HGB", "WBC", "RBC", "HCT", "MCV", "MCH", "MCHC", "PLT"]
    cache.current()  # the listener reads the catalogue once, not per message
    assert _queries(
        lambda: services.analyzer_message_store(
            lab.oru(first.accession, [(c, "5") for c in codes], control_id="M1")
        )
    ) == _queries(
        lambda: services.analyzer_message_store(
            lab.oru(second.accession, [("HGB", "5")], control_id="M2")
        )
    )


def test_the_listener_sees_a_code_mapped_after_it_read_the_catalogue(collected):
    from ajeya.lab.models import Analyzer, AnalyzerMapping, LabTest

    cache.current()
    analyzer = Analyzer.objects.get(code="XN1000")
    hb = LabTest.objects.get(code="HB")
    ledger.create_sealed(
        AnalyzerMapping(analyzer=analyzer, analyzer_code="HGB-2", test=hb), actor=None
    )
    outcome = services.analyzer_message_store(lab.oru(collected.accession, [("HGB-2", "12")]))
    assert outcome.ack == "AA"
    assert lab.results_of(refreshed(collected))["HB"].value == "12.0"
