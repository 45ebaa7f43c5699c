"""The laboratory's pages through Django's full HTTP stack: the lab's home, the walk-in
counter and the ward's order form, collection, reception (the scan box, rejection),
the worklists and their htmx fragment, a sample's results from entry to amendment,
critical results and their banner, analyzer messages, the catalogue and a patient's
lab orders — refusals and bad input included."""

from __future__ import annotations

import importlib.util
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ajeya.core.roles import Role
from ajeya.lab import services
from ajeya.lab.models import (
    CriticalAlert,
    Flag,
    InboundMessage,
    LabOrder,
    MessageStatus,
    OrderSource,
    Priority,
    Report,
    Result,
    ResultStatus,
    Sample,
    SampleStatus,
)
from ajeya.ledger.models import AccessEntry, AccessKind, LedgerEntry
from tests.conftest import verified_client
from tests.ipd import factories as wards
from tests.lab import factories as lab
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

HOME = reverse("lab:home")
COUNTER = reverse("lab:counter")
COLLECTION = reverse("lab:collection")
RECEPTION = reverse("lab:reception")
REJECT = reverse("lab:reject")
ALERTS = reverse("lab:alerts")
MESSAGES = reverse("lab:messages")
CATALOGUE = reverse("lab:catalogue")
HAEMATOLOGY = reverse("lab:section", args=["haematology"])
BIOCHEMISTRY = reverse("lab:section", args=["biochemistry"])
HAS_HL7 = importlib.util.find_spec("ajeya.lab.hl7") is not None


# -- helpers ----------------------------------------------------------------------------


def text(response) -> str:
    return response.content.decode()


def flashed(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def login(user) -> Client:
    return verified_client(Client(), user)


def url_of(name: str, *args) -> str:
    return reverse(f"lab:{name}", args=list(args))


def sample_url(sample: Sample, action: str = "") -> str:
    return url_of(f"results_{action}" if action else "sample", sample.accession)


def row(content: str, element_id: str) -> str:
    """The <tr> with this id."""
    found = re.search(rf'<tr id="{element_id}"[^>]*>(.*?)</tr>', content, re.S)
    assert found, f"no row {element_id}"
    return found.group(1)


def accesses(uhid: str, what: AccessKind) -> int:
    return AccessEntry.objects.filter(patient_uhid=uhid, what=what).count()


def bad_check_digit(accession: str) -> str:
    return accession[:-1] + str((int(accession[-1]) + 1) % 10)


def one_sample(order: LabOrder) -> Sample:
    (sample,) = order.samples.all()
    return sample


def result(sample: Sample, code: str) -> Result:
    return lab.results_of(sample)[code]


def entry_data(sample: Sample, values: dict[str, str]) -> dict:
    by_code = lab.results_of(sample)
    return {f"r{by_code[code].pk}": value for code, value in values.items()}


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def now(monday_morning):
    return monday_morning


@pytest.fixture
def catalogue(db):
    lab.load_catalogue()


@pytest.fixture
def tech(catalogue):
    return lab.technician()


@pytest.fixture
def path(catalogue):
    return lab.pathologist()


@pytest.fixture
def tech_client(tech):
    return login(tech)


@pytest.fixture
def path_client(path):
    return login(path)


@pytest.fixture
def doctor_client(doctor):
    return login(doctor)


@pytest.fixture
def nurse(make_user):
    return make_user(Role.NURSE, username="sr-mary", full_name="Sister Mary Thomas")


@pytest.fixture
def nurse_client(nurse):
    return login(nurse)


@pytest.fixture
def patient(clerk):
    return PatientFactory(actor=clerk, name="Kavita Joshi", sex="F", phone="9811122334")


@pytest.fixture
def admission(catalogue, clerk, doctor, clinic, patient):
    """Kavita Joshi in bed MW-1-1 under Dr. Asha Rao."""
    ward = wards.ward("MW")
    return wards.admit(clerk, wards.beds(ward)[0], doctor=doctor, unit=clinic, patient=patient)


@pytest.fixture
def inpatient_order(admission, doctor):
    """A CBC and KFT for the inpatient, ordered by her doctor."""
    return services.order_create(
        actor=doctor,
        patient=admission.patient,
        tests=["CBC", "KFT"],
        source=OrderSource.IPD,
        admission=admission,
    )


def received_cbc(tech, patient=None, **kwargs) -> Sample:
    (sample,) = lab.received(lab.walk_in(["CBC"], patient=patient, actor=tech, **kwargs))
    return sample


# -- home -------------------------------------------------------------------------------


def test_home_counts_each_sections_work(tech, tech_client):
    lab.walk_in(["CBC"], actor=tech)  # awaiting collection
    collected = one_sample(lab.walk_in(["KFT"], actor=tech))
    services.sample_collect(actor=tech, sample=collected)
    entered = received_cbc(tech)
    lab.enter(entered, {"HB": "13.5"})  # 12 still pending, 1 entered
    verified = one_sample(lab.walk_in(["FBS"], actor=tech))
    lab.received(verified.order)
    lab.enter(verified, {"FBS": "90"})
    services.results_verify(actor=tech, sample=verified)

    content = text(tech_client.get(HOME))
    cells = lambda section: re.findall(r"<t[dh]>(?:<a [^>]*>)?(\d+)", row(content, section))  # noqa: E731
    # awaiting, to receive, to enter, to verify, to authorise
    assert cells("section-haematology") == ["1", "0", "1", "1", "0"]
    assert cells("section-biochemistry") == ["0", "1", "0", "0", "1"]
    assert cells("section-total") == ["1", "1", "1", "1", "1"]
    assert f'href="{HAEMATOLOGY}"' in content
    assert f'href="{url_of("analyzer", "XN1000")}"' in content
    assert f'href="{COUNTER}"' in content  # technicians work the counter too
    # The same counts as a chart: one stacked bar a section, a segment per step.
    chart = content.split('id="workload-chart"', 1)[1].split("</svg>", 1)[0]
    assert "Haematology: 1 to collect" in chart
    assert "Haematology: 1 to enter" in chart
    assert "Biochemistry: 1 to receive" in chart
    assert "Biochemistry: 1 to authorise" in chart
    assert "Haematology: 1 to verify" in chart
    assert chart.count("<title>") == 5  # a segment only where there is work


def test_home_has_no_chart_when_there_is_no_work(tech_client):
    content = text(tech_client.get(HOME))
    assert 'id="workload-chart"' not in content


def test_home_is_refused_to_roles_without_lab_view(client_as):
    for role in (Role.REGISTRATION_CLERK, Role.BILLING_CLERK):
        response = client_as(role).get(HOME)
        assert response.status_code == 403
        assert b"Not allowed" in response.content


def test_the_top_bar_links_the_lab_for_each_role(clerk_client, nurse_client):
    assert f'href="{HOME}"' in text(nurse_client.get("/"))
    home = text(clerk_client.get("/"))
    assert f'href="{COUNTER}">Lab counter' in home  # a clerk may only register orders
    assert f'href="{HOME}"' not in home


# -- the walk-in counter ----------------------------------------------------------------


def test_the_counter_finds_the_patient_by_uhid(tech_client, patient):
    response = tech_client.get(COUNTER, {"uhid": patient.uhid})
    content = text(response)
    assert response.status_code == 200
    assert "Kavita Joshi" in content
    assert 'value="CBC"' in content  # the catalogue's panels, grouped by section
    assert "Haematology" in content
    assert accesses(patient.uhid, AccessKind.VIEWED) == 1


def test_an_unknown_uhid_is_named_and_no_form_is_drawn(tech_client):
    response = tech_client.get(COUNTER, {"uhid": "100099999998"})
    content = text(response)
    assert "No patient has UHID 100099999998." in content
    assert 'id="order-form"' not in content


def test_a_technician_places_a_walk_in_order_and_sees_its_samples(tech, tech_client, patient):
    response = tech_client.post(
        COUNTER,
        {
            "uhid": patient.uhid,
            "panels": ["CBC", "KFT", "LFT"],
            "priority": "stat",
            "referring_doctor": "Dr. Sen (Apollo clinic)",
            "clinical_notes": "fever 5 days",
        },
        follow=True,
    )
    order = LabOrder.objects.get()
    assert response.redirect_chain[-1][0] == url_of("order", order.number)
    assert order.source == OrderSource.WALK_IN
    assert order.priority == Priority.STAT
    assert order.referring_doctor == "Dr. Sen (Apollo clinic)"
    assert order.ordered_by == tech
    assert f"Lab order {order.number} for Kavita Joshi." in flashed(response)
    content = text(response)
    samples = list(order.samples.order_by("accession"))
    assert len(samples) == 2  # EDTA for the CBC; one serum tube for KFT and LFT
    for sample in samples:
        assert sample.accession in content
    assert "Lavender top (EDTA)" in content
    assert "Kidney function tests" in content
    assert "Dr. Sen (Apollo clinic)" in content
    assert 'id="print-labels"' in content
    labels = url_of("labels", order.number)
    assert f'href="{labels}"' in content


def test_a_clerk_orders_and_gets_the_counter_confirmation(clerk, clerk_client, catalogue, patient):
    response = clerk_client.post(
        COUNTER,
        {
            "uhid": patient.uhid,
            "panels": ["FBS"],
            "priority": "routine",
            "referring_doctor": "Dr X",
        },
        follow=True,
    )
    order = LabOrder.objects.get()
    assert response.redirect_chain[-1][0] == url_of("placed", order.number)
    content = text(response)
    assert one_sample(order).accession in content
    assert "Grey top (fluoride)" in content
    assert url_of("labels", order.number) not in content  # labels are the collectors' job
    assert url_of("sample", one_sample(order).accession) not in content  # no lab view


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"panels": []}, "panels", "Choose at least one test."),
        ({"referring_doctor": ""}, "referring_doctor", "Name the referring doctor"),
        ({"panels": ["CBC", "NOPE"]}, "panels", "Unknown test 'NOPE'"),
        ({"priority": "yesterday"}, "priority", "Select a valid choice"),
        ({"clinical_notes": "x" * 301}, "clinical_notes", "at most 300 characters"),
    ],
)
def test_bad_counter_input_re_renders_with_the_message_and_writes_nothing(
    tech_client, patient, data, field, message
):
    form = {
        "uhid": patient.uhid,
        "panels": ["CBC"],
        "priority": "urgent",
        "referring_doctor": "Dr. Sen",
        "clinical_notes": "fever",
        **data,
    }
    before = LedgerEntry.objects.count()
    response = tech_client.post(COUNTER, form)
    assert response.status_code == 422
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert message in errors
    assert LabOrder.objects.count() == 0
    assert LedgerEntry.objects.count() == before
    content = text(response)
    if "CBC" in form["panels"]:  # what was ticked and typed is kept
        assert 'value="CBC" checked' in content
    if form["referring_doctor"]:
        assert 'value="Dr. Sen"' in content


def test_an_order_for_an_unknown_patient_is_refused(tech_client, catalogue):
    response = tech_client.post(
        COUNTER, {"uhid": "100099999998", "panels": ["CBC"], "priority": "routine"}
    )
    assert response.status_code == 422
    assert "No patient has UHID 100099999998." in text(response)
    assert LabOrder.objects.count() == 0


def test_the_counter_is_refused_to_nurses_and_doctors(nurse_client, doctor_client, patient):
    for client in (nurse_client, doctor_client):
        assert client.get(COUNTER).status_code == 403
        response = client.post(COUNTER, {"uhid": patient.uhid, "panels": ["CBC"]})
        assert response.status_code == 403
    assert LabOrder.objects.count() == 0


# -- the ward's order -------------------------------------------------------------------


def test_the_admission_chart_links_doctors_to_the_lab_order(admission, doctor_client, nurse_client):
    chart = reverse("ipd:admission", args=[admission.number])
    link = url_of("order_admission", admission.number)
    assert f'href="{link}"' in text(doctor_client.get(chart))
    assert link not in text(nurse_client.get(chart))


def test_a_doctor_orders_tests_for_an_inpatient(admission, doctor, doctor_client, tech_client):
    page = url_of("order_admission", admission.number)
    assert "Kavita Joshi" in text(doctor_client.get(page))
    response = doctor_client.post(
        page, {"panels": ["CBC", "ELEC"], "priority": "urgent", "clinical_notes": "vomiting"}
    )
    order = LabOrder.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url_of("order", order.number)
    assert order.source == OrderSource.IPD
    assert order.admission == admission
    assert order.doctor == doctor
    assert order.priority == Priority.URGENT
    # The ward's phlebotomist sees it with the bed.
    collection = text(tech_client.get(COLLECTION))
    assert "MW-1-1" in collection
    for sample in order.samples.all():
        assert sample.accession in collection


def test_the_ward_order_keeps_input_when_the_service_refuses(admission, doctor_client):
    page = url_of("order_admission", admission.number)
    response = doctor_client.post(page, {"panels": ["KFT", "ELEC"], "priority": "routine"})
    assert response.status_code == 422
    assert "both include" in " ".join(response.context["form"].errors["panels"])
    assert 'value="KFT" checked' in text(response)
    assert 'value="ELEC" checked' in text(response)
    assert LabOrder.objects.count() == 0


def test_no_lab_order_for_a_discharged_admission(admission, doctor, doctor_client):
    from ajeya.ipd import services as ipd

    ipd.discharge_create(
        actor=doctor,
        admission=admission,
        kind="normal",
        diagnoses=["J18.9"],
        course="settled",
        condition="well",
    )
    page = url_of("order_admission", admission.number)
    content = text(doctor_client.get(page))
    assert "was discharged" in content
    assert 'id="order-form"' not in content
    response = doctor_client.post(page, {"panels": ["CBC"], "priority": "routine"})
    assert response.status_code == 422
    assert "order tests in OPD or at the lab counter" in " ".join(
        response.context["form"].non_field_errors()
    )
    assert LabOrder.objects.count() == 0


def test_an_unknown_admission_is_a_404_page(doctor_client, catalogue):
    response = doctor_client.get(url_of("order_admission", "IP2699999"))
    assert response.status_code == 404
    assert "No admission has number IP2699999." in text(response)


def test_nurses_cannot_order_tests(admission, nurse_client):
    response = nurse_client.post(url_of("order_admission", admission.number), {"panels": ["CBC"]})
    assert response.status_code == 403
    assert LabOrder.objects.count() == 0


# -- the order page ---------------------------------------------------------------------


def test_the_order_page_shows_samples_reports_and_records_the_view(
    tech, path, tech_client, patient
):
    sample = received_cbc(tech, patient=patient)
    lab.enter(sample, {"HB": "13.5"})
    services.results_verify(actor=tech, sample=sample)
    report = services.results_authorise(actor=path, sample=sample)
    order = sample.order
    response = tech_client.get(url_of("order", order.number))
    content = text(response)
    assert f'href="{sample_url(sample)}"' in content
    assert "Received in the lab" in content
    assert report.number in content
    assert "interim" in content
    assert f'href="{url_of("report_pdf", report.number)}"' in content
    assert accesses(patient.uhid, AccessKind.VIEWED) == 1
    assert tech_client.get(url_of("order", "L269999999")).status_code == 404


# -- collection -------------------------------------------------------------------------


def test_the_collection_list_puts_stat_first_and_flags_recollections(tech, tech_client, clock_at):
    routine = one_sample(lab.walk_in(["CBC"], actor=tech))
    clock_at(2026, 11, 30, 8, 5)
    stat = one_sample(lab.walk_in(["CBC"], actor=tech, priority="stat"))
    bad = one_sample(lab.walk_in(["FBS"], actor=tech, priority="urgent"))
    lab.received(bad.order)
    again = services.sample_reject(actor=tech, sample=bad, reason="haemolysed")
    content = text(tech_client.get(COLLECTION))
    positions = [content.index(f'id="sample-{s.accession}"') for s in (stat, again, routine)]
    assert positions == sorted(positions)
    assert "recollect: haemolysed" in row(content, f"sample-{again.accession}")
    assert "recollect" not in row(content, f"sample-{routine.accession}")
    assert bad.accession not in content
    assert AccessEntry.objects.filter(what=AccessKind.LISTED).count() == 3

    only = text(tech_client.get(COLLECTION, {"section": "biochemistry"}))
    assert again.accession in only
    assert routine.accession not in only


def test_collected_now_or_earlier(tech, nurse_client, clock_at):
    first = one_sample(lab.walk_in(["CBC"], actor=tech))
    second = one_sample(lab.walk_in(["FBS"], actor=tech))
    clock_at(2026, 11, 30, 9, 0)
    response = nurse_client.post(url_of("collect", first.accession), follow=True)
    assert f"Sample {first.accession} collected." in flashed(response)
    first.refresh_from_db()
    assert first.status == SampleStatus.COLLECTED
    assert first.collected_at.hour == 3  # 09:00 IST is 03:30 UTC
    assert first.collected_by.username == "sr-mary"
    nurse_client.post(url_of("collect", second.accession), {"collected_at": "2026-11-30T08:40"})
    second.refresh_from_db()
    assert (second.collected_at.hour, second.collected_at.minute) == (3, 10)  # 08:40 IST


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("2026-11-30T11:00", "A collection time cannot be in the future."),
        ("2026-11-29T11:00", "cannot be collected before it was ordered"),
        ("not a time", "Enter a valid date/time."),
    ],
)
def test_a_wrong_collection_time_is_refused(tech, tech_client, when, message):
    sample = one_sample(lab.walk_in(["CBC"], actor=tech))
    before = LedgerEntry.objects.count()
    response = tech_client.post(
        url_of("collect", sample.accession), {"collected_at": when}, follow=True
    )
    assert any(message in m for m in flashed(response))
    sample.refresh_from_db()
    assert sample.status == SampleStatus.AWAITING
    assert LedgerEntry.objects.count() == before


def test_collecting_twice_is_refused(tech, tech_client):
    sample = one_sample(lab.walk_in(["CBC"], actor=tech))
    tech_client.post(url_of("collect", sample.accession))
    response = tech_client.post(url_of("collect", sample.accession), follow=True)
    assert any("not awaiting collection" in m for m in flashed(response))


def test_collection_is_refused_to_doctors(tech, doctor_client):
    sample = one_sample(lab.walk_in(["CBC"], actor=tech))
    assert doctor_client.get(COLLECTION).status_code == 403
    assert doctor_client.post(url_of("collect", sample.accession)).status_code == 403
    sample.refresh_from_db()
    assert sample.status == SampleStatus.AWAITING


# -- reception --------------------------------------------------------------------------


def test_the_scan_box_receives_a_collected_sample(tech, tech_client, patient):
    sample = one_sample(lab.walk_in(["CBC"], actor=tech, patient=patient))
    services.sample_collect(actor=tech, sample=sample)
    page = text(tech_client.get(RECEPTION))
    assert 'name="accession" id="id_accession" autofocus' in page
    transit = re.search(r'<table class="list" id="in-transit">(.*?)</table>', page, re.S)
    assert sample.accession in transit.group(1)
    response = tech_client.post(RECEPTION, {"accession": sample.accession}, follow=True)
    sample.refresh_from_db()
    assert sample.status == SampleStatus.RECEIVED
    assert sample.received_by == tech
    (message,) = flashed(response)
    assert message.startswith(f"Received {sample.accession} (Lavender top (EDTA), CBC) for")
    assert "Kavita Joshi" in message
    assert accesses(patient.uhid, AccessKind.VIEWED) == 1


def test_a_scan_with_spaces_or_dashes_is_read(tech, tech_client):
    sample = one_sample(lab.walk_in(["CBC"], actor=tech))
    services.sample_collect(actor=tech, sample=sample)
    a = sample.accession
    tech_client.post(RECEPTION, {"accession": f" {a[:2]}-{a[2:6]} {a[6:]} "})
    sample.refresh_from_db()
    assert sample.status == SampleStatus.RECEIVED


def scan_error(client, accession: str) -> str:
    before = LedgerEntry.objects.count()
    response = client.post(RECEPTION, {"accession": accession})
    assert response.status_code == 422
    assert LedgerEntry.objects.count() == before
    content = text(response)
    assert 'class="errors-box" role="alert"' in content
    box = re.search(r'<input type="text" name="accession" id="id_accession"[^>]*>', content)
    assert "autofocus" in box.group(0)
    assert "value=" not in box.group(0)  # the box is empty for the next scan
    return " ".join(response.context["scan"].errors["accession"])


def test_the_scan_box_names_what_is_wrong(tech, tech_client, clock_at):
    awaiting = one_sample(lab.walk_in(["CBC"], actor=tech))
    done = received_cbc(tech)
    bad = received_cbc(tech)
    again = services.sample_reject(actor=tech, sample=bad, reason="clotted")

    assert "fails its check digit" in scan_error(tech_client, bad_check_digit(awaiting.accession))
    assert "is not an accession number" in scan_error(tech_client, "12345")
    assert "Scan or type" in scan_error(tech_client, "")
    assert "has not been collected" in scan_error(tech_client, awaiting.accession)
    assert "was already received at 30-11-2026 08:00" in scan_error(tech_client, done.accession)
    rejected = scan_error(tech_client, bad.accession)
    assert f"rejected (clotted): its recollection is {again.accession}" in rejected
    unknown = services.make_accession(9999999, 2026)
    assert f"No sample has accession number {unknown}" in scan_error(tech_client, unknown)


def test_a_rejected_sample_gets_a_recollection(tech, tech_client):
    sample = received_cbc(tech)
    lab.enter(sample, {"HB": "4.0"})
    response = tech_client.post(
        REJECT,
        {"accession": sample.accession, "reason": "haemolysed", "note": "grossly pink"},
        follow=True,
    )
    sample.refresh_from_db()
    again = Sample.objects.get(recollection_of=sample)
    assert sample.status == SampleStatus.REJECTED
    assert sample.rejection_note == "grossly pink"
    assert again.status == SampleStatus.AWAITING
    assert flashed(response) == [
        f"Sample {sample.accession} rejected (haemolysed): recollect as {again.accession}, "
        "now on the collection list."
    ]
    assert result(again, "HB").status == ResultStatus.PENDING  # measured on a bad sample


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"reason": ""}, "reason", "Choose why the sample is rejected."),
        ({"reason": "ugly"}, "reason", "Select a valid choice"),
        ({"accession": "2600000000"}, "accession", "fails its check digit"),
    ],
)
def test_a_bad_rejection_re_renders_and_writes_nothing(tech, tech_client, data, field, message):
    sample = received_cbc(tech)
    before = LedgerEntry.objects.count()
    response = tech_client.post(
        REJECT, {"accession": sample.accession, "reason": "clotted", **data}
    )
    assert response.status_code == 422
    assert message in " ".join(response.context["reject"].errors[field])
    assert LedgerEntry.objects.count() == before


def test_a_sample_awaiting_collection_cannot_be_rejected(tech, tech_client):
    sample = one_sample(lab.walk_in(["CBC"], actor=tech))
    response = tech_client.post(REJECT, {"accession": sample.accession, "reason": "clotted"})
    assert response.status_code == 422
    assert "only a collected or received sample" in text(response)


def test_reception_is_for_technicians_only(tech, nurse_client, path_client):
    sample = one_sample(lab.walk_in(["CBC"], actor=tech))
    services.sample_collect(actor=tech, sample=sample)
    for client in (nurse_client, path_client):
        assert client.get(RECEPTION).status_code == 403
        assert client.post(RECEPTION, {"accession": sample.accession}).status_code == 403
        assert client.post(REJECT, {"accession": sample.accession}).status_code == 403
    sample.refresh_from_db()
    assert sample.status == SampleStatus.COLLECTED


# -- worklists --------------------------------------------------------------------------


def test_the_section_worklist_orders_by_priority_then_receipt(tech, tech_client, clock_at, patient):
    early = received_cbc(tech, patient=patient)
    clock_at(2026, 11, 30, 8, 10)
    later = received_cbc(tech)
    clock_at(2026, 11, 30, 8, 20)
    stat = received_cbc(tech, priority="stat")
    urgent = received_cbc(tech, priority="urgent")
    biochemistry = one_sample(lab.walk_in(["FBS"], actor=tech))
    lab.received(biochemistry.order)
    lab.enter(early, {"HB": "13.5", "TLC": "7.2"})

    response = tech_client.get(HAEMATOLOGY)
    content = text(response)
    order = [content.index(f'id="sample-{s.accession}"') for s in (stat, urgent, early, later)]
    assert order == sorted(order)
    assert biochemistry.accession not in content
    assert "<td>11</td><td>2</td><td>0</td>" in row(content, f"sample-{early.accession}")
    assert "Kavita" not in content  # a bench screen: accession, age and sex only
    assert 'hx-trigger="every 15s"' in content
    assert """hx-headers='{"X-Ajeya-Poll": "1"}'""" in content
    assert AccessEntry.objects.count() == 0


def test_the_worklist_refreshes_as_an_htmx_fragment(tech, tech_client):
    sample = received_cbc(tech)
    assert 'id="worklist"' in text(tech_client.get(HAEMATOLOGY))  # settles the session
    with CaptureQueriesContext(connection) as queries:
        response = tech_client.get(HAEMATOLOGY, headers={"HX-Request": "true", "X-Ajeya-Poll": "1"})
    # A poll does not renew the session: a screen left open still times out.
    assert not [q for q in queries.captured_queries if 'UPDATE "django_session"' in q["sql"]]
    content = text(response)
    assert content.startswith('<div id="worklist">')
    assert "<html" not in content
    assert sample.accession in content


def test_finished_samples_leave_the_worklist(tech, path, tech_client):
    sample = received_cbc(tech)
    values = {code: "5" for code in lab.results_of(sample)}
    lab.enter(sample, values)
    assert sample.accession in text(tech_client.get(HAEMATOLOGY))
    services.results_verify(actor=tech, sample=sample)
    services.results_authorise(actor=path, sample=sample)
    assert sample.accession not in text(tech_client.get(HAEMATOLOGY))


def test_the_analyzer_worklist_shows_samples_with_its_pending_tests(tech, tech_client):
    cbc = received_cbc(tech)
    coag = one_sample(lab.walk_in(["COAG"], actor=tech))
    lab.received(coag.order)
    xn = text(tech_client.get(url_of("analyzer", "xn1000")))
    assert "Sysmex XN-1000" in xn
    assert cbc.accession in xn
    assert coag.accession not in xn  # no XN-1000 test on it
    ca = text(tech_client.get(url_of("analyzer", "CA600")))
    assert coag.accession in ca
    assert cbc.accession not in ca
    lab.enter(coag, {"PT": "13", "INR": "1.0", "APTT": "30"})
    ca = text(tech_client.get(url_of("analyzer", "CA600")))
    assert coag.accession not in ca  # nothing left for the analyzer to measure
    assert coag.accession in text(tech_client.get(HAEMATOLOGY))  # but still to verify


def test_unknown_sections_and_analyzers_are_404_pages(tech_client, catalogue):
    response = tech_client.get(url_of("section", "astrology"))
    assert response.status_code == 404
    assert "No laboratory section astrology." in text(response)
    response = tech_client.get(url_of("analyzer", "NOPE"))
    assert response.status_code == 404
    assert "No analyzer has code NOPE." in text(response)


@pytest.mark.parametrize("samples", [2, 8])
def test_the_worklist_costs_the_same_queries_for_few_or_many(
    tech, tech_client, samples, django_assert_max_num_queries
):
    for _ in range(samples):
        received_cbc(tech)
    with django_assert_max_num_queries(WORKLIST_QUERIES):
        response = tech_client.get(HAEMATOLOGY, headers={"HX-Request": "true"})
    assert text(response).count('<tr id="sample-') == samples


WORKLIST_QUERIES = 9  # 8 + the lockdown check every request makes (defense.middleware)


# -- a sample's results -----------------------------------------------------------------


def test_the_sample_page_shows_every_result_with_unit_and_range(tech, nurse_client, patient):
    sample = received_cbc(tech, patient=patient)
    response = nurse_client.get(sample_url(sample))
    content = text(response)
    hb = result(sample, "HB")
    assert "Haemoglobin" in content
    assert "g/dL" in row(content, f"result-{hb.pk}")
    assert "12.0 - 15.0" in row(content, f"result-{hb.pk}")  # the adult female range
    assert 'id="entry-form"' not in content  # nurses read, they do not enter
    assert accesses(patient.uhid, AccessKind.VIEWED) == 1


def test_an_unknown_accession_is_a_404_page(tech_client, catalogue):
    response = tech_client.get(url_of("sample", "2600000000"))
    assert response.status_code == 404
    assert "No sample has accession number 2600000000." in text(response)


def test_entering_results_shows_their_flags(tech, tech_client):
    sample = received_cbc(tech)
    page = text(tech_client.get(sample_url(sample)))
    hb, plt = result(sample, "HB"), result(sample, "PLT")
    assert f'name="r{hb.pk}"' in page
    assert 'inputmode="decimal"' in page
    response = tech_client.post(
        sample_url(sample, "enter"), entry_data(sample, {"HB": "6.2", "PLT": "500"}), follow=True
    )
    assert f"2 result(s) entered on {sample.accession}." in flashed(response)
    assert any(m.startswith("Critical: Haemoglobin 6.2 g/dL") for m in flashed(response))
    hb.refresh_from_db()
    assert (hb.status, hb.flag, hb.entered_by) == (ResultStatus.ENTERED, Flag.CRITICAL_LOW, tech)
    content = text(response)
    assert "LL critical" in row(content, f"result-{hb.pk}")
    assert '<strong class="badge warn flag" title="High">H</strong>' in row(
        content, f"result-{plt.pk}"
    )
    assert 'id="verify"' in content


def test_a_choice_result_is_a_select(tech, tech_client):
    sample = one_sample(lab.walk_in(["NS1"], actor=tech))
    lab.received(sample.order)
    ns1 = result(sample, "NS1")
    content = text(tech_client.get(sample_url(sample)))
    assert f'<select name="r{ns1.pk}"' in content
    tech_client.post(sample_url(sample, "enter"), {f"r{ns1.pk}": ns1.test.choices.split("|")[1]})
    ns1.refresh_from_db()
    assert ns1.status == ResultStatus.ENTERED


def test_a_wrong_value_re_renders_with_what_was_typed(tech, tech_client):
    sample = received_cbc(tech)
    before = LedgerEntry.objects.count()
    hb, tlc = result(sample, "HB"), result(sample, "TLC")
    response = tech_client.post(
        sample_url(sample, "enter"), entry_data(sample, {"HB": "twelve", "TLC": "7.5"})
    )
    assert response.status_code == 422
    content = text(response)
    assert "Haemoglobin: &#x27;twelve&#x27; is not a number (in g/dL)." in content
    assert 'value="twelve"' in content
    assert 'value="7.5"' in content
    assert "nothing has been saved" in content
    assert LedgerEntry.objects.count() == before
    hb.refresh_from_db()
    tlc.refresh_from_db()
    assert hb.status == tlc.status == ResultStatus.PENDING


def test_nothing_typed_is_refused(tech, tech_client):
    sample = received_cbc(tech)
    response = tech_client.post(sample_url(sample, "enter"), {})
    assert response.status_code == 422
    assert "Enter at least one result." in text(response)


def test_results_wait_until_the_sample_is_received(tech, tech_client):
    sample = one_sample(lab.walk_in(["CBC"], actor=tech))
    content = text(tech_client.get(sample_url(sample)))
    assert 'id="entry-form"' not in content
    hb = result(sample, "HB")
    response = tech_client.post(sample_url(sample, "enter"), {f"r{hb.pk}": "13"}, follow=True)
    assert any("receive it in the lab" in m for m in flashed(response))


def test_verify_then_authorise_issues_a_report(tech, path, tech_client, path_client):
    sample = received_cbc(tech)
    lab.enter(sample, {"HB": "13.5"})
    response = tech_client.post(sample_url(sample, "verify"), follow=True)
    assert f"1 result(s) verified on {sample.accession}." in flashed(response)
    assert 'id="authorise"' not in text(response)  # the technician cannot authorise
    page = text(path_client.get(sample_url(sample)))
    assert 'id="authorise"' in page
    assert 'id="verify"' not in page
    response = path_client.post(sample_url(sample, "authorise"), follow=True)
    report = Report.objects.get()
    assert f"Authorised. Report {report.number} issued (interim" in flashed(response)[0]
    hb = result(sample, "HB")
    assert hb.status == ResultStatus.AUTHORISED
    assert "Dr. Meera Pathologist" in row(text(response), f"result-{hb.pk}")


def test_verify_and_authorise_say_when_there_is_nothing_to_do(tech, tech_client, path_client):
    sample = received_cbc(tech)
    response = tech_client.post(sample_url(sample, "verify"), follow=True)
    assert any("no entered results to verify" in m for m in flashed(response))
    response = path_client.post(sample_url(sample, "authorise"), follow=True)
    assert any("no verified results to authorise" in m for m in flashed(response))


def test_each_step_is_refused_to_the_wrong_role(tech, tech_client, path_client, nurse_client):
    sample = received_cbc(tech)
    hb = result(sample, "HB")
    before = LedgerEntry.objects.count()
    assert path_client.post(sample_url(sample, "enter"), {f"r{hb.pk}": "13"}).status_code == 403
    assert nurse_client.post(sample_url(sample, "enter"), {f"r{hb.pk}": "13"}).status_code == 403
    lab.enter(sample, {"HB": "13.5"})
    before = LedgerEntry.objects.count()
    assert path_client.post(sample_url(sample, "verify")).status_code == 403
    services.results_verify(actor=tech, sample=sample)
    before = LedgerEntry.objects.count()
    assert tech_client.post(sample_url(sample, "authorise")).status_code == 403
    assert tech_client.post(url_of("result_amend", hb.pk), {"value": "1"}).status_code == 403
    assert LedgerEntry.objects.count() == before


def authorised_hb(tech, path, value: str = "13.5", patient=None) -> Sample:
    sample = received_cbc(tech, patient=patient)
    lab.enter(sample, {"HB": value})
    services.results_verify(actor=tech, sample=sample)
    services.results_authorise(actor=path, sample=sample)
    return sample


def test_an_authorised_result_is_amended_with_a_reason(tech, path, path_client, make_user):
    sample = authorised_hb(tech, path)
    hb = result(sample, "HB")
    page = text(path_client.get(sample_url(sample)))
    assert f'action="{url_of("result_amend", hb.pk)}"' in page
    response = path_client.post(
        url_of("result_amend", hb.pk),
        {"value": "12.5", "reason": "transcription error"},
        follow=True,
    )
    assert flashed(response) == [
        "Haemoglobin amended to 12.5 g/dL: another pathologist must authorise it."
    ]
    hb.refresh_from_db()
    assert hb.status == ResultStatus.AMENDED
    new = result(sample, "HB")
    assert (new.value, new.status, new.amends) == ("12.5", ResultStatus.VERIFIED, hb)
    content = text(response)
    history = re.search(r'<table class="list" id="amended">(.*?)</table>', content, re.S).group(1)
    assert "13.5" in history
    assert "12.5" in history
    assert "transcription error" in history
    # The amending pathologist verified it: another must authorise.
    response = path_client.post(sample_url(sample, "authorise"), follow=True)
    assert any("another pathologist must authorise" in m for m in flashed(response))
    second = login(lab.pathologist("dr-second"))
    second.post(sample_url(sample, "authorise"))
    new.refresh_from_db()
    assert new.status == ResultStatus.AUTHORISED
    assert Report.objects.count() == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"value": "13.5", "reason": "typed twice"},
            "The amended value is the same as the old one.",
        ),
        ({"value": "abc", "reason": "typed twice"}, "is not a number"),
        ({"value": "12", "reason": ""}, "Say why the result is amended."),
    ],
)
def test_a_bad_amendment_re_renders_with_what_was_typed(tech, path, path_client, data, message):
    sample = authorised_hb(tech, path)
    hb = result(sample, "HB")
    before = LedgerEntry.objects.count()
    response = path_client.post(url_of("result_amend", hb.pk), data)
    assert response.status_code == 422
    content = text(response)
    assert message in content
    assert f'value="{data["value"]}"' in content
    assert "<details open>" in content
    assert LedgerEntry.objects.count() == before
    assert result(sample, "HB").pk == hb.pk


def test_a_change_since_last_time_shows_the_previous_value(tech, path, tech_client, patient):
    authorised_hb(tech, path, "13.5", patient=patient)
    sample = received_cbc(tech, patient=patient)
    lab.enter(sample, {"HB": "9.0"})
    hb = result(sample, "HB")
    cells = row(text(tech_client.get(sample_url(sample))), f"result-{hb.pk}")
    assert "Δ" in cells
    assert "13.5" in cells
    assert "30-11-2026" in cells


def test_the_sample_page_rejects_with_a_note_and_links_the_recollection(tech, tech_client):
    sample = received_cbc(tech)
    page = sample_url(sample)
    response = tech_client.post(
        REJECT,
        {"accession": sample.accession, "reason": "clotted", "note": "", "next": page},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == page
    again = Sample.objects.get(recollection_of=sample)
    content = text(response)
    assert 'id="rejected"' in content
    assert f'href="{sample_url(again)}"' in content
    response = tech_client.post(
        REJECT, {"accession": sample.accession, "reason": "clotted", "next": page}, follow=True
    )
    assert any("only a collected or received sample" in m for m in flashed(response))


# -- critical results -------------------------------------------------------------------


@pytest.fixture
def critical(inpatient_order, tech):
    """A critically low haemoglobin verified on the inpatient's CBC."""
    cbc = inpatient_order.samples.get(container="edta")
    lab.received(inpatient_order)
    lab.enter(cbc, {"HB": "5.0"})
    services.results_verify(actor=tech, sample=cbc)
    return CriticalAlert.objects.get()


def test_the_doctor_sees_the_banner_on_every_page_and_acknowledges(
    critical, doctor, doctor_client, tech_client, nurse_client
):
    banner = f'<a href="{ALERTS}">1 critical lab result to acknowledge</a>'
    assert banner in text(doctor_client.get("/"))
    assert banner in text(doctor_client.get(reverse("ipd:board")))
    assert banner not in text(tech_client.get(HOME))
    assert banner not in text(nurse_client.get("/"))
    content = text(doctor_client.get(ALERTS))
    mine = re.search(r'<table class="list" id="mine">(.*?)</table>', content, re.S).group(1)
    assert "Haemoglobin 5.0 g/dL" in mine
    assert "Kavita Joshi" in mine
    assert accesses(critical.patient.uhid, AccessKind.LISTED) == 1

    response = doctor_client.post(
        url_of("acknowledge", critical.pk), {"note": "transfuse 1 unit PRBC"}, follow=True
    )
    assert flashed(response) == ["Acknowledged: Haemoglobin for Kavita Joshi."]
    critical.refresh_from_db()
    assert critical.acknowledged_by == doctor
    assert critical.action_note == "transfuse 1 unit PRBC"
    content = text(response)
    assert "critical lab result" not in content.split("<h1>")[0]
    done = re.search(r'<table class="list" id="done">(.*?)</table>', content, re.S).group(1)
    assert "transfuse 1 unit PRBC" in done


def test_a_too_short_note_re_renders_with_it(critical, doctor_client):
    before = LedgerEntry.objects.count()
    response = doctor_client.post(url_of("acknowledge", critical.pk), {"note": "ok"})
    assert response.status_code == 422
    content = text(response)
    assert "Say what was done" in content
    assert 'value="ok"' in content
    assert LedgerEntry.objects.count() == before
    critical.refresh_from_db()
    assert critical.acknowledged_at is None


def test_acknowledging_twice_is_refused(critical, doctor_client):
    doctor_client.post(url_of("acknowledge", critical.pk), {"note": "repeat test"})
    response = doctor_client.post(
        url_of("acknowledge", critical.pk), {"note": "again"}, follow=True
    )
    assert any(m.startswith("Already acknowledged at 30-11-2026") for m in flashed(response))


def test_walk_in_criticals_are_open_to_any_doctor(tech, doctor_client):
    sample = received_cbc(tech)
    lab.enter(sample, {"HB": "5.0"})
    services.results_verify(actor=tech, sample=sample)
    content = text(doctor_client.get(ALERTS))
    unassigned = re.search(r'<table class="list" id="unassigned">(.*?)</table>', content, re.S)
    assert "Haemoglobin 5.0 g/dL" in unassigned.group(1)
    assert "critical lab result" not in content.split("<h1>")[0]  # not in anyone's banner


def test_alerts_are_for_doctors(critical, tech_client, nurse_client):
    for client in (tech_client, nurse_client):
        assert client.get(ALERTS).status_code == 403
        post = client.post(url_of("acknowledge", critical.pk), {"note": "seen it"})
        assert post.status_code == 403
    critical.refresh_from_db()
    assert critical.acknowledged_at is None


def test_an_unknown_alert_is_a_404_page(doctor_client, catalogue):
    assert doctor_client.post(url_of("acknowledge", 999), {"note": "xyz"}).status_code == 404


# -- analyzer messages ------------------------------------------------------------------


def oru(accession: str, control_id: str = "MSG0001", value: str = "9.1") -> str:
    return "\r".join(
        [
            f"MSH|^~\\&|XN-1000|LAB|AJEYA|HOSP|20261130083000||ORU^R01|{control_id}|P|2.5.1",
            "PID|1||UNKNOWN",
            f"OBR|1|{accession}||CBC",
            f"OBX|1|NM|HGB^Haemoglobin||{value}|g/dL|||||F",
        ]
    )


def unmatched(control_id: str = "MSG0001", accession: str = "9999999999") -> InboundMessage:
    services.analyzer_message_store(
        services.AnalyzerMessage(
            sending_application="XN-1000",
            sending_facility="LAB",
            control_id=control_id,
            accession=accession,
            observations=[services.Observation(code="HGB", value="9.1", unit="g/dL")],
            raw=oru(accession, control_id),
        )
    )
    return InboundMessage.objects.get(control_id=control_id)


def test_waiting_messages_are_listed_with_their_detail(tech_client, catalogue):
    message = unmatched()
    assert message.status == MessageStatus.UNMATCHED
    content = text(tech_client.get(MESSAGES))
    assert f'id="message-{message.pk}"' in content
    assert "No sample with accession &#x27;9999999999&#x27;: kept to be matched." in content
    assert "ORU^R01|MSG0001" in content


def test_a_message_is_set_aside_with_a_reason(tech, tech_client, catalogue):
    message = unmatched()
    response = tech_client.post(
        url_of("message_dismiss", message.pk), {"reason": "QC sample run"}, follow=True
    )
    assert flashed(response) == ["Message MSG0001 set aside."]
    message.refresh_from_db()
    assert message.status == MessageStatus.DISMISSED
    assert message.resolved_by == tech
    content = text(response)
    assert "No messages waiting." in content
    assert "QC sample run" in content


def test_setting_aside_needs_a_reason(tech_client, catalogue):
    message = unmatched()
    response = tech_client.post(url_of("message_dismiss", message.pk), {"reason": ""})
    assert response.status_code == 422
    assert "Say why the message is set aside." in text(response)
    message.refresh_from_db()
    assert message.status == MessageStatus.UNMATCHED


@pytest.mark.skipif(not HAS_HL7, reason="ajeya.lab.hl7 (read_oru) is not written yet")
def test_a_message_is_matched_to_its_sample(tech, tech_client):
    sample = received_cbc(tech)
    message = unmatched()
    response = tech_client.post(
        url_of("message_match", message.pk), {"accession": sample.accession}, follow=True
    )
    assert flashed(response) == [
        f"Message MSG0001 matched to {sample.accession}: 1 result(s) stored."
    ]
    message.refresh_from_db()
    assert message.status == MessageStatus.MATCHED
    hb = result(sample, "HB")
    assert (hb.value, hb.source) == ("9.1", "analyzer")


@pytest.mark.skipif(not HAS_HL7, reason="ajeya.lab.hl7 (read_oru) is not written yet")
def test_a_wrong_match_re_renders_with_the_accession_typed(tech, tech_client):
    message = unmatched()
    bad = bad_check_digit(services.make_accession(5, 2026))
    response = tech_client.post(url_of("message_match", message.pk), {"accession": bad})
    assert response.status_code == 422
    content = text(response)
    assert "fails its check digit" in content
    assert f'value="{bad}"' in content
    message.refresh_from_db()
    assert message.status == MessageStatus.UNMATCHED


def test_messages_are_refused_to_nurses_and_doctors(nurse_client, doctor_client, catalogue):
    message = unmatched()
    for client in (nurse_client, doctor_client):
        assert client.get(MESSAGES).status_code == 403
        post = client.post(url_of("message_dismiss", message.pk), {"reason": "x"})
        assert post.status_code == 403
    message.refresh_from_db()
    assert message.status == MessageStatus.UNMATCHED


# -- the catalogue, a patient's lab orders, the OPD's list of tests ---------------------


def test_the_catalogue_shows_each_test_with_its_ranges_and_limits(nurse_client, catalogue):
    content = text(nurse_client.get(CATALOGUE))
    hb = row(content, "test-HB")
    for shown in ("718-7", "Whole blood", "Lavender top (EDTA)", "g/dL", "120 min"):
        assert shown in hb
    assert "Male, from 18 y: 13.0 - 17.0" in hb
    assert "Female, from 18 y: 12.0 - 15.0" in hb
    assert "&lt; 7.0 or &gt; 20.0" in hb
    assert "LAB-CBC" in row(content, "panel-CBC")
    assert "HB, TLC" in row(content, "panel-CBC")
    assert content.index("Haematology") < content.index("Biochemistry")


def test_the_patient_page_loads_the_patients_lab_orders(tech, nurse_client, clerk_client, patient):
    order = lab.walk_in(["CBC"], actor=tech, patient=patient)
    detail = reverse("patients:detail", args=[patient.uhid])
    fragment = url_of("patient_orders", patient.uhid)
    assert f'hx-get="{fragment}"' in text(nurse_client.get(detail))
    assert fragment not in text(clerk_client.get(detail))
    response = nurse_client.get(fragment, headers={"HX-Request": "true"})
    content = text(response)
    assert content.startswith('<section id="lab-orders">')
    assert order.number in content
    assert accesses(patient.uhid, AccessKind.VIEWED) == 3  # two patient pages, one list
    assert "<h1>Kavita Joshi" in text(nurse_client.get(fragment))
    assert clerk_client.get(fragment).status_code == 403


def test_the_consultation_offers_the_orderable_tests(clerk, doctor, doctor_client, clinic):
    from tests.opd import factories as opd

    lab.load_catalogue()
    visit = opd.called(clerk, doctor, clinic)
    content = text(doctor_client.get(reverse("opd:consult", args=[visit.pk])))
    options = re.search(r'<datalist id="lab-panels">(.*?)</datalist>', content, re.S).group(1)
    assert '<option value="Complete blood count">' in options
    assert '<option value="Glucose, fasting">' in options
    assert 'list="lab-panels"' in content


def test_a_failing_notice_provider_does_not_take_pages_down(critical, doctor_client, monkeypatch):
    from ajeya.core import notices

    def broken(user):
        raise RuntimeError("provider down")

    monkeypatch.setattr(notices, "_providers", [broken, *notices._providers])
    notices.register(broken)  # registering again changes nothing
    assert notices._providers.count(broken) == 1
    response = doctor_client.get("/")
    assert response.status_code == 200
    assert "1 critical lab result to acknowledge" in text(response)


def test_a_waiting_messages_patient_is_recorded_as_listed(tech_client, catalogue):
    from ajeya.lab import hl7
    from ajeya.ledger.models import AccessEntry
    from tests.lab import hl7_samples

    raw = hl7_samples.oru("2699999990", control_id="PID-1", segments=None)
    services.analyzer_message_store(hl7.read_oru(raw))
    message = InboundMessage.objects.get(control_id="PID-1")
    assert (message.status, message.patient_uhid) == (MessageStatus.UNMATCHED, "100000001")
    tech_client.get(MESSAGES)
    listed = AccessEntry.objects.filter(patient_uhid="100000001", what="listed")
    assert listed.count() == 1
