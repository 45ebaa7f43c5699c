"""The ward pages through Django's full HTTP stack: the bed board and its htmx fragment,
admission (from OPD advice or emergency), the inpatient chart, transfers, discharge and
its summary, room contacts, housekeeping and the census — bad input included."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ajeya.core.roles import Role
from ajeya.ipd import hooks
from ajeya.ipd import services as ipd
from ajeya.ipd.models import (
    Admission,
    AdmissionSource,
    AdmissionStatus,
    Bed,
    BedStatus,
    Discharge,
    IntakeOutput,
    MedicationDose,
    MedicationOrder,
    NursingNote,
    Observation,
)
from ajeya.ledger.models import AccessEntry, AccessKind
from tests.appointments import factories as schedule
from tests.conftest import verified_client
from tests.opd import factories as opd
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

BOARD = reverse("ipd:board")
ADMIT = reverse("ipd:admit")
CENSUS = reverse("ipd:census")
UNKNOWN_UHID = "100099999998"


# -- helpers ----------------------------------------------------------------------------


def text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def url(name: str, admission: Admission, *args) -> str:
    return reverse(f"ipd:{name}", args=[admission.number, *args])


def beds_in(room, *labels: str, category: str = "general") -> list[Bed]:
    return [
        ipd.bed_create(actor=None, room=room, label=label, category=category) for label in labels
    ]


def admit(doctor, clinic, patient, bed, **kwargs) -> Admission:
    return ipd.admission_create(
        actor=doctor,
        patient=patient,
        bed=bed,
        attending_doctor=doctor,
        unit=clinic,
        provisional_icd10=kwargs.pop("provisional_icd10", "J18.9"),
        source=kwargs.pop("source", AdmissionSource.EMERGENCY),
        **kwargs,
    )


def field_errors(response, field: str) -> list[str]:
    return [str(e) for e in response.context["form"].errors.get(field, [])]


def select(content: str, name: str) -> str:
    """The options of one <select> on a page."""
    found = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', content, re.S)
    assert found, f"no <select name={name}>"
    return found.group(1)


def bed_status(label: str) -> str:
    return Bed.objects.get(label=label).status


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def now(clock_at):
    return clock_at(2026, 11, 30, 8, 0)


@pytest.fixture
def wards(db):
    """Medical ward MED: room 1 with general beds M1 and M2, room 2 with private bed M3;
    intensive care ICU: room 1 with bed I1."""
    department = schedule.department("MED")
    med = ipd.ward_create(actor=None, code="MED", name="Medical Ward", department=department)
    icu = ipd.ward_create(actor=None, code="ICU", name="Intensive Care", department=department)
    room_1 = ipd.room_create(actor=None, ward=med, number="1")
    room_2 = ipd.room_create(actor=None, ward=med, number="2")
    icu_room = ipd.room_create(actor=None, ward=icu, number="1")
    beds = {
        **{b.label: b for b in beds_in(room_1, "M1", "M2")},
        **{b.label: b for b in beds_in(room_2, "M3", category="private")},
        **{b.label: b for b in beds_in(icu_room, "I1", category="icu")},
    }
    return {"MED": med, "ICU": icu, "beds": beds}


@pytest.fixture
def beds(wards):
    return wards["beds"]


@pytest.fixture
def nurse(make_user):
    return make_user(Role.NURSE, username="sr-mary", full_name="Sister Mary Thomas")


@pytest.fixture
def doctor_client(doctor):
    return verified_client(Client(), doctor)


@pytest.fixture
def nurse_client(nurse):
    return verified_client(Client(), nurse)


@pytest.fixture
def patient(clerk):
    return PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")


@pytest.fixture
def other_patient(clerk):
    return PatientFactory(actor=clerk, name="Mohan Lal", phone="9811122335")


@pytest.fixture
def admitted(now, doctor, clinic, patient, beds):
    """Kavita Joshi admitted into M1 at 08:00 IST on 30 November 2026."""
    return admit(doctor, clinic, patient, beds["M1"])


@pytest.fixture
def advised(now, clerk, doctor, clinic, patient):
    """An OPD consultation this morning that advised admitting Kavita Joshi."""
    visit = opd.called(clerk, doctor, clinic, patient)
    return opd.consult(
        doctor,
        visit,
        diagnoses=["J18.9"],
        admit_advised=True,
        admit_note="Lobar pneumonia, admit to medical ward",
    )


def admit_form(patient, clinic, doctor, bed, **overrides) -> dict:
    data = {
        "uhid": patient.uhid,
        "source": "emergency",
        "unit": str(clinic.pk),
        "attending_doctor": str(doctor.pk),
        "provisional_icd10": "J18.9 Pneumonia, unspecified",
        "bed": str(bed.pk),
    }
    data.update(overrides)
    return data


def discharge_form(**overrides) -> dict:
    data = {
        "kind": "normal",
        "discharged_at": "",
        "diagnosis_1": "J18.9 Pneumonia, unspecified",
        "course": "Treated with IV ceftriaxone; afebrile from day 2.",
        "investigations": "",
        "condition": "Stable, ambulant",
        "medications": "Amoxicillin 500 mg TDS x 5 days",
        "follow_up": "Medicine OPD in one week",
    }
    data.update(overrides)
    return data


# -- the bed board ----------------------------------------------------------------------


def test_the_board_shows_counts_and_bed_tiles_coloured_by_status(
    admitted, nurse, beds, nurse_client
):
    ipd.bed_set_status(actor=nurse, bed=beds["M3"], status="blocked", note="broken rail")
    response = nurse_client.get(BOARD)
    assert response.status_code == 200
    content = text(response)
    for legend in ("Free 2", "Occupied 1", "Reserved 0", "Cleaning 0", "Blocked 1", "4 beds"):
        assert legend in content
    assert '<div class="bed occupied" id="bed-M1"' in content
    assert '<div class="bed free" id="bed-M2"' in content
    assert '<div class="bed blocked" id="bed-M3"' in content
    assert '<div class="bed free" id="bed-I1"' in content
    assert "broken rail" in content
    assert "Medical Ward" in content
    assert "Intensive Care" in content
    assert "33% occupied" in content  # one of MED's three beds


def test_an_occupied_bed_shows_the_ip_number_but_not_the_name(admitted, nurse_client):
    content = text(nurse_client.get(BOARD))
    assert admitted.number in content
    assert f'href="{url("admission", admitted)}"' in content
    assert "K. " in content  # initial, age and sex only
    assert "Kavita" not in content
    assert "Joshi" not in content
    assert admitted.patient.uhid not in content


def test_a_clerk_sees_the_ip_number_without_a_link_to_the_chart(admitted, clerk_client):
    content = text(clerk_client.get(BOARD))
    assert f"<span>{admitted.number}</span>" in content
    assert url("admission", admitted) not in content
    assert "Kavita Joshi" not in content


def test_a_ward_page_shows_only_that_ward(admitted, nurse_client):
    response = nurse_client.get(reverse("ipd:ward", args=["icu"]))
    assert response.status_code == 200
    content = text(response)
    assert "Bed board: Intensive Care" in content
    assert 'id="bed-I1"' in content
    assert 'id="bed-M1"' not in content
    assert "Free 1" in content
    assert "Occupied 0" in content
    assert "1 beds" in content


def test_the_category_filter_narrows_the_board(admitted, nurse_client):
    content = text(nurse_client.get(BOARD, {"category": "private"}))
    assert 'id="bed-M3"' in content
    for other in ("M1", "M2", "I1"):
        assert f'id="bed-{other}"' not in content
    assert '<option value="private" selected>' in content

    ward_icu = text(nurse_client.get(reverse("ipd:ward", args=["MED"]), {"category": "icu"}))
    assert "No beds match." in ward_icu

    # An unknown category is ignored rather than hiding every bed.
    everything = text(nurse_client.get(BOARD, {"category": "penthouse"}))
    assert all(f'id="bed-{b}"' in everything for b in ("M1", "M2", "M3", "I1"))


def test_the_htmx_refresh_gets_only_the_board(admitted, nurse_client):
    response = nurse_client.get(BOARD, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    content = text(response).strip()
    assert content.startswith('<div id="board">')
    assert "<html" not in content
    assert "<h1>" not in content
    assert 'id="bed-M1"' in content
    assert admitted.number in content
    assert "Kavita" not in content


def test_an_unknown_ward_is_a_404_page(wards, nurse_client):
    response = nurse_client.get(reverse("ipd:ward", args=["NOPE"]))
    assert response.status_code == 404
    assert "No ward has code NOPE." in text(response)


def test_the_board_costs_the_same_queries_for_few_and_many_beds(
    now, doctor, clinic, clerk, wards, nurse_client, django_assert_max_num_queries
):
    room = wards["MED"].rooms.get(number="1")
    admit(doctor, clinic, PatientFactory(actor=clerk), wards["beds"]["M1"])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert nurse_client.get(BOARD).status_code == 200
        return len(queries)

    few = count()
    extra = beds_in(room, *[f"X{n}" for n in range(12)])
    for bed in extra[:8]:
        admit(doctor, clinic, PatientFactory(actor=clerk), bed)
    with django_assert_max_num_queries(few):
        content = text(nurse_client.get(BOARD))
    assert "Occupied 9" in content
    assert "16 beds" in content


# -- admission --------------------------------------------------------------------------


def test_the_admit_page_lists_opd_advice_to_admit(advised, beds, clerk_client):
    response = clerk_client.get(ADMIT)
    assert response.status_code == 200
    content = text(response)
    assert "Advised admission in OPD (1)" in content
    assert "Kavita Joshi" in content
    assert "Lobar pneumonia, admit to medical ward" in content
    assert f'href="?consultation={advised.pk}"' in content
    listed = AccessEntry.objects.filter(
        what=AccessKind.LISTED, patient_uhid=advised.visit.patient.uhid
    )
    assert listed.count() == 1


def test_admitting_from_the_opd_advice_prefills_the_form(
    advised, beds, clinic, doctor, clerk_client
):
    response = clerk_client.get(ADMIT, {"consultation": advised.pk})
    assert response.status_code == 200
    content = text(response)
    patient = advised.visit.patient
    assert f'value="{patient.uhid}"' in content
    assert 'value="J18.9 Pneumonia, unspecified"' in content
    assert f'name="consultation" value="{advised.pk}"' in content
    assert '<option value="opd" selected>' in select(content, "source")
    assert f'<option value="{clinic.pk}" selected>' in select(content, "unit")
    assert f'<option value="{doctor.pk}" selected>' in select(content, "attending_doctor")
    assert "Lobar pneumonia, admit to medical ward" in content


def test_posting_the_prefilled_form_admits_and_clears_the_advice(
    advised, beds, clinic, doctor, clerk_client
):
    patient = advised.visit.patient
    data = admit_form(
        patient, clinic, doctor, beds["M2"], source="opd", consultation=str(advised.pk)
    )
    response = clerk_client.post(ADMIT, data)
    admission = Admission.objects.get()
    assert response.status_code == 302
    # The desk cannot read charts: it gets the confirmation with the sheet to print.
    assert response["Location"] == url("admitted", admission)
    assert admission.consultation == advised
    assert admission.source == AdmissionSource.OPD
    assert (admission.patient, admission.bed.label) == (patient, "M2")
    assert bed_status("M2") == BedStatus.OCCUPIED
    assert "Advised admission in OPD" not in text(clerk_client.get(ADMIT))


def test_an_emergency_admission_redirects_to_the_admission_page(
    now, patient, beds, clinic, doctor, doctor_client
):
    response = doctor_client.post(
        ADMIT, admit_form(patient, clinic, doctor, beds["I1"]), follow=True
    )
    admission = Admission.objects.get()
    assert re.fullmatch(r"IP2026\d{7}", admission.number)
    assert response.redirect_chain == [(url("admission", admission), 302)]
    assert f"Admitted: {admission.number}, bed I1." in messages_of(response)
    assert admission.provisional_icd10 == "J18.9"
    assert admission.stays.get().bed.label == "I1"


def test_an_unknown_uhid_is_named_and_what_was_typed_is_kept(
    now, patient, beds, clinic, doctor, clerk_client
):
    data = admit_form(patient, clinic, doctor, beds["M2"], uhid=UNKNOWN_UHID)
    response = clerk_client.post(ADMIT, data)
    assert response.status_code == 200
    content = text(response)
    assert f"No patient has UHID {UNKNOWN_UHID}." in content
    assert f'value="{UNKNOWN_UHID}"' in content
    assert 'value="J18.9 Pneumonia, unspecified"' in content
    assert f'<option value="{beds["M2"].pk}" selected>' in select(content, "bed")
    assert Admission.objects.count() == 0
    assert bed_status("M2") == BedStatus.FREE


def test_an_unknown_icd10_code_is_named_under_the_diagnosis(
    now, patient, beds, clinic, doctor, clerk_client
):
    data = admit_form(patient, clinic, doctor, beds["M2"], provisional_icd10="ZZZ1 made up")
    response = clerk_client.post(ADMIT, data)
    assert response.status_code == 200
    errors = field_errors(response, "provisional_icd10")
    assert errors
    assert "Unknown ICD-10 code 'ZZZ1'" in errors[0]
    content = text(response)
    under_field = re.search(
        r'id="id_provisional_icd10"[^>]*>\s*<div class="error" role="alert">([^<]*)</div>', content
    )
    assert under_field
    assert "it is not in WHO ICD-10 (2019 edition)" in under_field.group(1)
    assert 'value="ZZZ1 made up"' in content
    assert f'value="{patient.uhid}"' in content
    assert Admission.objects.count() == 0


def test_a_patient_already_admitted_is_refused_with_the_bed_named(
    admitted, patient, beds, clinic, doctor, clerk_client
):
    response = clerk_client.post(ADMIT, admit_form(patient, clinic, doctor, beds["M2"]))
    assert response.status_code == 200
    assert (
        f"Kavita Joshi is already admitted ({admitted.number}, bed M1)."
        in response.context["form"].non_field_errors()
    )
    assert f"Kavita Joshi is already admitted ({admitted.number}, bed M1)." in text(response)
    assert Admission.objects.count() == 1
    assert bed_status("M2") == BedStatus.FREE


def test_a_bed_taken_after_the_form_was_loaded_is_refused(
    now, patient, other_patient, beds, clinic, doctor, clerk_client
):
    offered = select(text(clerk_client.get(ADMIT)), "bed")
    assert f'<option value="{beds["M1"].pk}">M1 · MED · General</option>' in offered
    taken = admit(doctor, clinic, other_patient, beds["M1"])  # someone else, meanwhile

    response = clerk_client.post(ADMIT, admit_form(patient, clinic, doctor, beds["M1"]))
    assert response.status_code == 200
    assert "Bed M1 is occupied: choose a free bed." in text(response)
    content = text(response)
    assert f'value="{patient.uhid}"' in content
    assert 'value="J18.9 Pneumonia, unspecified"' in content
    assert list(Admission.objects.all()) == [taken]
    assert not Admission.objects.filter(patient=patient).exists()


def test_an_occupied_bed_is_not_offered_and_posting_it_is_a_field_error(
    admitted, other_patient, beds, clinic, doctor, clerk_client
):
    offered = select(text(clerk_client.get(ADMIT)), "bed")
    assert f'<option value="{beds["M1"].pk}"' not in offered
    assert f'<option value="{beds["M2"].pk}"' in offered
    response = clerk_client.post(ADMIT, admit_form(other_patient, clinic, doctor, beds["M1"]))
    assert response.status_code == 200
    assert "Bed M1 is occupied: choose a free bed." in text(response)
    assert Admission.objects.count() == 1


def test_the_admission_sheet_is_a_pdf_and_is_logged_as_printed(admitted, clerk_client):
    response = clerk_client.get(url("sheet", admitted))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert f"admission-{admitted.number}.pdf" in response["Content-Disposition"]
    assert AccessEntry.objects.filter(
        what=AccessKind.PRINTED, patient_uhid=admitted.patient.uhid, actor_username="clerk1"
    ).exists()


# -- the admission page and its chart ---------------------------------------------------


def test_the_admission_page_is_logged_as_viewed(admitted, nurse_client):
    response = nurse_client.get(url("admission", admitted))
    assert response.status_code == 200
    content = text(response)
    assert "Kavita Joshi" in content
    assert admitted.number in content
    assert "bed <strong>M1</strong>" in content
    assert AccessEntry.objects.filter(
        what=AccessKind.VIEWED, patient_uhid=admitted.patient.uhid, actor_username="sr-mary"
    ).exists()


def test_the_chart_forms_write_and_report(admitted, nurse_client, doctor_client, clock_at):
    chart = url("admission", admitted)
    clock_at(2026, 11, 30, 9, 0)

    response = nurse_client.post(
        url("observation", admitted),
        {
            "temperature_c": "38.6",
            "pulse_per_min": "104",
            "systolic_mmhg": "118",
            "diastolic_mmhg": "76",
            "spo2_percent": "93",
        },
        follow=True,
    )
    assert response.redirect_chain == [(chart, 302)]
    assert "Observations charted." in messages_of(response)
    observation = Observation.objects.get()
    assert (str(observation.temperature_c), observation.pulse_per_min) == ("38.6", 104)
    assert 'aria-label="observation chart"' in text(response)

    response = nurse_client.post(
        url("fluid", admitted),
        {
            "fluid-direction": "intake",
            "fluid-route": "iv",
            "fluid-volume_ml": "500",
            "fluid-note": "NS",
        },
        follow=True,
    )
    assert response.redirect_chain == [(chart, 302)]
    assert "Intake of 500 ml charted." in messages_of(response)
    assert IntakeOutput.objects.get().volume_ml == 500

    response = nurse_client.post(
        url("note", admitted), {"text": "Comfortable, on 2 L oxygen."}, follow=True
    )
    assert "Note added." in messages_of(response)
    assert "Comfortable, on 2 L oxygen." in text(response)
    assert NursingNote.objects.get().recorded_by.username == "sr-mary"

    response = doctor_client.post(
        url("medication", admitted),
        {"rx-drug": "Ceftriaxone", "rx-dose": "1 g", "rx-route": "iv", "rx-frequency": "BD"},
        follow=True,
    )
    assert response.redirect_chain == [(chart, 302)]
    assert "Ceftriaxone charted." in messages_of(response)
    order = MedicationOrder.objects.get()

    response = nurse_client.post(url("dose", admitted, order.pk), {"outcome": "given"}, follow=True)
    assert "Ceftriaxone: given recorded." in messages_of(response)
    assert MedicationDose.objects.get().recorded_by.username == "sr-mary"

    response = doctor_client.post(
        url("medication_stop", admitted, order.pk), {"reason": "Switched to oral"}, follow=True
    )
    assert "Ceftriaxone stopped." in messages_of(response)
    order.refresh_from_db()
    assert order.stopped_at is not None
    assert "stopped" in text(response)


def test_a_nurse_may_not_chart_medication(admitted, nurse_client):
    response = nurse_client.post(
        url("medication", admitted),
        {"rx-drug": "Ceftriaxone", "rx-dose": "1 g", "rx-route": "iv", "rx-frequency": "BD"},
    )
    assert response.status_code == 403
    assert MedicationOrder.objects.count() == 0


def test_an_impossible_temperature_is_named_and_nothing_is_saved(admitted, nurse_client):
    response = nurse_client.post(
        url("observation", admitted), {"temperature_c": "400", "pulse_per_min": "88"}
    )
    assert response.status_code == 422
    content = text(response)
    assert "Temperature 400 °C is outside 25 to 45 °C" in content
    assert 'name="temperature_c" value="400"' in content
    assert 'name="pulse_per_min" value="88"' in content
    assert Observation.objects.count() == 0


def test_a_fluid_volume_of_zero_is_named_and_nothing_is_saved(admitted, nurse_client):
    response = nurse_client.post(
        url("fluid", admitted),
        {"fluid-direction": "output", "fluid-route": "urine", "fluid-volume_ml": "0"},
    )
    assert response.status_code == 422
    assert "Volume 0 ml is outside 1 to 10,000 ml." in text(response)
    assert IntakeOutput.objects.count() == 0


def test_a_held_dose_without_a_reason_is_refused(admitted, doctor, nurse_client):
    order = ipd.medication_order(
        actor=doctor,
        admission=admitted,
        drug="Enoxaparin",
        dose="40 mg",
        route="sc",
        frequency="OD",
    )
    response = nurse_client.post(url("dose", admitted, order.pk), {"outcome": "held"}, follow=True)
    assert "Say why the dose was held." in messages_of(response)
    assert MedicationDose.objects.count() == 0


def test_stopping_a_drug_without_a_reason_is_refused(admitted, doctor, doctor_client):
    order = ipd.medication_order(
        actor=doctor,
        admission=admitted,
        drug="Enoxaparin",
        dose="40 mg",
        route="sc",
        frequency="OD",
    )
    response = doctor_client.post(
        url("medication_stop", admitted, order.pk), {"reason": " "}, follow=True
    )
    assert "Say why the drug is stopped." in messages_of(response)
    order.refresh_from_db()
    assert order.stopped_at is None


def test_a_transfer_to_a_free_bed_moves_the_patient(admitted, nurse_client, clock_at):
    clock_at(2026, 11, 30, 14, 0)
    target = Bed.objects.get(label="M2")
    response = nurse_client.post(
        url("transfer", admitted),
        {"to_bed": str(target.pk), "reason": "nearer the station"},
        follow=True,
    )
    assert response.redirect_chain == [(url("admission", admitted), 302)]
    assert f"{admitted.number} is now in bed M2." in messages_of(response)
    admitted.refresh_from_db()
    assert admitted.bed.label == "M2"
    assert (bed_status("M1"), bed_status("M2")) == (BedStatus.CLEANING, BedStatus.OCCUPIED)
    stays_table = text(response).split("Where the patient lay")[1]
    assert "<td>M1</td>" in stays_table
    assert "<td>M2</td>" in stays_table
    assert "nearer the station" in stays_table
    assert "30-11-2026 14:00" in stays_table


def test_a_transfer_without_a_reason_is_refused(admitted, nurse_client):
    target = Bed.objects.get(label="M2")
    response = nurse_client.post(url("transfer", admitted), {"to_bed": str(target.pk)})
    assert response.status_code == 422
    assert response.context["transfer_form"].errors["reason"] == ["This field is required."]
    admitted.refresh_from_db()
    assert admitted.bed.label == "M1"
    assert bed_status("M2") == BedStatus.FREE


def test_charting_on_a_discharged_admission_names_the_problem(
    admitted, doctor, nurse_client, clock_at
):
    clock_at(2026, 12, 2, 11, 0)
    ipd.discharge_create(
        actor=doctor,
        admission=admitted,
        kind="normal",
        diagnoses=["J18.9"],
        course="Recovered",
        condition="Well",
    )
    response = nurse_client.post(url("observation", admitted), {"pulse_per_min": "80"}, follow=True)
    assert response.status_code == 200
    assert "is discharged: its chart is closed." in text(response)
    assert Observation.objects.count() == 0


@pytest.mark.parametrize("action", ["dose", "medication_stop"])
def test_an_unknown_medication_order_is_a_404_page(admitted, doctor, action):
    client = verified_client(Client(raise_request_exception=False), doctor)
    response = client.post(url(action, admitted, 999999), {"outcome": "given", "text": "x"})
    assert response.status_code == 404


# -- discharge --------------------------------------------------------------------------


def test_the_discharge_form_takes_investigations_from_a_provider(admitted, doctor_client):
    def laboratory(admission):
        return [f"{admission.number}: Hb 11.2 g/dL", "CRP 48 mg/L"]

    hooks.register(laboratory)
    try:
        response = doctor_client.get(url("discharge", admitted))
    finally:
        hooks.unregister(laboratory)
    assert response.status_code == 200
    content = text(response)
    assert f"{admitted.number}: Hb 11.2 g/dL\nCRP 48 mg/L</textarea>" in content
    assert 'id="discharge-form"' in content
    assert "bed M1" in content

    without = text(doctor_client.get(url("discharge", admitted)))
    assert "Hb 11.2" not in without


def test_a_normal_discharge_closes_the_admission_and_prints_a_summary(
    admitted, doctor_client, clock_at
):
    clock_at(2026, 12, 2, 11, 0)
    response = doctor_client.post(url("discharge", admitted), discharge_form(), follow=True)
    assert response.redirect_chain == [(url("admission", admitted), 302)]
    assert f"{admitted.number} discharged; the bed goes to cleaning." in messages_of(response)
    content = text(response)
    assert "Discharged" in content
    assert "discharged 02-12-2026 11:00" in content
    assert 'id="summary-pdf"' in content
    assert 'id="discharge-link"' not in content
    assert 'id="observation-form"' not in content
    admitted.refresh_from_db()
    assert admitted.status == AdmissionStatus.DISCHARGED
    assert bed_status("M1") == BedStatus.CLEANING
    assert [d.icd10_code for d in admitted.discharge.diagnoses.all()] == ["J18.9"]

    pdf = doctor_client.get(url("discharge_pdf", admitted))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert AccessEntry.objects.filter(
        what=AccessKind.PRINTED, patient_uhid=admitted.patient.uhid
    ).exists()


def test_a_death_without_the_death_details_names_each_missing_one(
    admitted, doctor_client, clock_at
):
    clock_at(2026, 12, 2, 11, 0)
    response = doctor_client.post(
        url("discharge", admitted), discharge_form(kind="death", condition="Deceased")
    )
    assert response.status_code == 200
    assert field_errors(response, "death_at") == ["Give the date and time of death."]
    assert field_errors(response, "cause_immediate") == ["Give the immediate cause of death."]
    assert field_errors(response, "cause_underlying_icd10") == [
        "Code the underlying cause in ICD-10."
    ]
    content = text(response)
    for message in (
        "Give the date and time of death.",
        "Give the immediate cause of death.",
        "Code the underlying cause in ICD-10.",
    ):
        assert message in content
    assert "Treated with IV ceftriaxone; afebrile from day 2." in content  # kept
    assert Discharge.objects.count() == 0
    admitted.refresh_from_db()
    assert admitted.status == AdmissionStatus.ADMITTED
    assert bed_status("M1") == BedStatus.OCCUPIED


def test_a_discharge_before_the_admission_is_refused(admitted, doctor_client, clock_at):
    clock_at(2026, 12, 2, 11, 0)
    response = doctor_client.post(
        url("discharge", admitted), discharge_form(discharged_at="2026-11-29T10:00")
    )
    assert response.status_code == 200
    errors = field_errors(response, "discharged_at")
    assert errors == ["That is before the admission (30-11-2026 08:00 IST)."]
    assert "before the admission" in text(response)
    assert Discharge.objects.count() == 0
    assert bed_status("M1") == BedStatus.OCCUPIED


def test_the_summary_before_discharge_is_a_clear_error_page(admitted, doctor_client):
    response = doctor_client.get(url("discharge_pdf", admitted))
    assert response.status_code == 422
    assert response["Content-Type"].startswith("text/html")
    assert f"{admitted.number} has not been discharged yet." in text(response)
    assert not AccessEntry.objects.filter(what=AccessKind.PRINTED).exists()


# -- room contacts ----------------------------------------------------------------------


def test_room_contacts_list_the_other_patient_in_the_room(
    admitted, doctor, clinic, other_patient, beds, nurse_client, clock_at
):
    clock_at(2026, 11, 30, 10, 0)
    neighbour = admit(doctor, clinic, other_patient, beds["M2"])  # same room as M1
    clock_at(2026, 11, 30, 11, 0)
    admit(doctor, clinic, PatientFactory(name="Farida Begum"), beds["M3"])  # another room
    response = nurse_client.get(url("contacts", admitted))
    assert response.status_code == 200
    content = text(response)
    assert "Who shared a room with Kavita Joshi" in content
    assert "Mohan Lal" in content
    assert neighbour.number in content
    assert "<td>M2</td>" in content
    assert "30-11-2026 10:00" in content
    assert "Farida Begum" not in content
    listed = AccessEntry.objects.filter(what=AccessKind.LISTED, actor_username="sr-mary")
    assert set(listed.values_list("patient_uhid", flat=True)) == {
        admitted.patient.uhid,
        other_patient.uhid,
    }


# -- housekeeping -----------------------------------------------------------------------


@pytest.fixture
def cleaning_bed(admitted, doctor, clock_at):
    """M1 after Kavita Joshi's discharge: waiting to be cleaned."""
    clock_at(2026, 12, 2, 11, 0)
    ipd.discharge_create(
        actor=doctor,
        admission=admitted,
        kind="normal",
        diagnoses=["J18.9"],
        course="Recovered",
        condition="Well",
    )
    return Bed.objects.get(label="M1")


def test_a_nurse_marks_a_cleaned_bed_free_and_goes_back(cleaning_bed, nurse_client):
    board_page = text(nurse_client.get(reverse("ipd:ward", args=["MED"])))
    assert '<div class="bed cleaning" id="bed-M1"' in board_page
    assert 'value="free" class="link">Cleaned</button>' in board_page

    back = reverse("ipd:ward", args=["MED"]) + "?category=general"
    response = nurse_client.post(
        reverse("ipd:bed_status", args=["m1"]), {"status": "free", "next": back}
    )
    assert response.status_code == 302
    assert response["Location"] == back
    assert bed_status("M1") == BedStatus.FREE
    page = nurse_client.get(back)
    assert "Bed M1: free." in messages_of(page)
    assert '<div class="bed free" id="bed-M1"' in text(page)


def test_an_off_site_next_is_not_followed(cleaning_bed, nurse_client):
    response = nurse_client.post(
        reverse("ipd:bed_status", args=["M1"]),
        {"status": "free", "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert response["Location"] == BOARD
    assert bed_status("M1") == BedStatus.FREE


def test_an_occupied_bed_cannot_be_freed_by_hand(admitted, nurse_client):
    response = nurse_client.post(
        reverse("ipd:bed_status", args=["M1"]), {"status": "free", "next": BOARD}, follow=True
    )
    assert response.redirect_chain == [(BOARD, 302)]
    assert (
        "Bed M1 is occupied: it cannot be made free by hand "
        "(it changes with admission and discharge)."
    ) in messages_of(response)
    assert bed_status("M1") == BedStatus.OCCUPIED


def test_a_missing_status_is_named(wards, nurse_client):
    response = nurse_client.post(reverse("ipd:bed_status", args=["M2"]), {}, follow=True)
    assert "Choose the bed's new status." in messages_of(response)
    assert bed_status("M2") == BedStatus.FREE


def test_a_block_without_a_reason_is_refused(wards, nurse_client):
    response = nurse_client.post(
        reverse("ipd:bed_status", args=["M2"]), {"status": "blocked"}, follow=True
    )
    assert "Say why (and for whom, for a reservation)." in messages_of(response)
    assert bed_status("M2") == BedStatus.FREE


def test_an_unknown_bed_label_is_a_404_page(wards, nurse_client):
    response = nurse_client.post(reverse("ipd:bed_status", args=["Z9"]), {"status": "free"})
    assert response.status_code == 404
    assert "No bed is labelled Z9." in text(response)


# -- the census -------------------------------------------------------------------------


def test_the_census_shows_counts_and_a_chart(
    admitted, doctor, clinic, other_patient, beds, doctor_client, clock_at
):
    admit(doctor, clinic, other_patient, beds["I1"])
    clock_at(2026, 12, 2, 8, 0)
    ipd.discharge_create(
        actor=doctor,
        admission=admitted,
        kind="normal",
        diagnoses=["J18.9"],
        course="Recovered",
        condition="Well",
    )
    response = doctor_client.get(CENSUS, {"first": "2026-11-29", "last": "2026-12-02"})
    assert response.status_code == 200
    content = text(response)
    census = response.context["census"]
    assert census.admitted_now == 1
    assert census.average_stay_days == 2.0
    assert [(d.isoformat(), a, x) for d, a, x in census.daily] == [
        ("2026-11-29", 0, 0),
        ("2026-11-30", 2, 0),
        ("2026-12-01", 0, 0),
        ("2026-12-02", 0, 1),
    ]
    assert "<svg" in content
    assert "<h2>1</h2><p>patients admitted now</p>" in content
    assert "<h2>2.0</h2>" in content
    assert "<tr><td>Medical Ward</td><td>3</td><td>0</td>" in content
    assert "<tr><td>Intensive Care</td><td>1</td><td>1</td>" in content


def test_a_reversed_census_period_is_a_clear_error_page(wards, doctor_client, now):
    response = doctor_client.get(CENSUS, {"first": "2026-12-05", "last": "2026-11-01"})
    assert response.status_code == 422
    assert "Choose a period of at most a year, first day before the last." in text(response)


# -- permissions ------------------------------------------------------------------------


def test_a_clerk_may_not_open_the_chart(admitted, clerk_client):
    response = clerk_client.get(url("admission", admitted))
    assert response.status_code == 403
    assert "Kavita Joshi" not in text(response)
    assert not AccessEntry.objects.filter(what=AccessKind.VIEWED).exists()


def test_a_nurse_may_not_discharge(admitted, nurse_client, clock_at):
    clock_at(2026, 12, 2, 11, 0)
    assert nurse_client.get(url("discharge", admitted)).status_code == 403
    response = nurse_client.post(url("discharge", admitted), discharge_form())
    assert response.status_code == 403
    admitted.refresh_from_db()
    assert admitted.status == AdmissionStatus.ADMITTED
    assert Discharge.objects.count() == 0


def test_a_reservation_note_stays_off_the_wall_board(nurse, beds, doctor_client):
    ipd.bed_set_status(actor=nurse, bed=beds["M2"], status="reserved", note="for Mr Iyer")
    content = text(doctor_client.get(BOARD))
    assert "Iyer" not in content  # a reservation may name a patient; the board must not


def test_the_advice_prefill_shows_only_open_admission_advice(
    monday_morning, clerk, doctor, clinic, clerk_client
):
    from tests.opd import factories as opd_factories

    visit = opd_factories.called(clerk, doctor, clinic)
    plain = opd_factories.consult(doctor, visit)  # advised no admission
    response = clerk_client.get(ADMIT + f"?consultation={plain.pk}")
    assert response.status_code == 404
    assert visit.patient.uhid not in text(response)
