"""Sample labels and the laboratory report PDF: what they print, who may print them, and
that printing is logged."""

from __future__ import annotations

import datetime as dt
import io

import orjson
import pytest
from django.db import connection
from django.urls import reverse
from pypdf import PdfReader
from reportlab.lib.units import mm

from ajeya.core.roles import Role
from ajeya.lab import documents, services
from ajeya.lab.models import Report, Sample
from ajeya.ledger.models import AccessEntry, AccessKind
from tests.lab import factories as lab
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


# -- helpers shared with test_verification.py -----------------------------------------


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def authorise(sample: Sample, values: dict[str, str]) -> Report:
    """Enter, verify (technician) and authorise (pathologist): the report it issues."""
    lab.enter(sample, values)
    services.results_verify(actor=lab.technician(), sample=sample)
    return services.results_authorise(actor=lab.pathologist(), sample=sample)


def stat_order(clock_at, tests=("CBC", "FBS")):
    """A STAT walk-in order for Kamala Devi (56, F) at 08:00 IST, every sample received
    at 08:20; returns the order and its samples by container."""
    lab.load_catalogue()
    clock_at(2026, 11, 30, 8, 0)
    patient = PatientFactory(name="Kamala Devi", sex="F", date_of_birth=dt.date(1970, 3, 1))
    order = lab.walk_in(list(tests), patient=patient, priority="stat")
    clock_at(2026, 11, 30, 8, 20)
    samples = lab.received(order)
    return order, {s.container: s for s in samples}


def signer(report: Report) -> str:
    """Who the stored content says authorised the first result."""
    return orjson.loads(report.content)["sections"][0]["results"][0]["authorised_by"]


def printed(what: AccessKind = AccessKind.PRINTED):
    return list(AccessEntry.objects.filter(what=what).values_list("patient_uhid", flat=True))


@pytest.fixture
def order(clock_at):
    return stat_order(clock_at)


def report_url(report: Report) -> str:
    return reverse("lab:report_pdf", kwargs={"number": report.number})


# -- labels ----------------------------------------------------------------------------


def labels_url(order, **query) -> str:
    url = reverse("lab:labels", kwargs={"number": order.number})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_one_label_a_page_sized_for_the_label_printer(order, client_as):
    order, samples = order
    client = client_as(Role.NURSE)
    response = client.get(labels_url(order))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 2  # EDTA for the CBC, fluoride for the FBS
    for page in reader.pages:
        assert float(page.mediabox.width) == pytest.approx(50 * mm)
        assert float(page.mediabox.height) == pytest.approx(25 * mm)
    edta, fluoride = (s.accession for s in sorted(samples.values(), key=lambda s: s.accession))
    first, second = (page.extract_text() for page in reader.pages)
    patient = order.patient
    for text in (first, second):
        assert "Kamala Devi" in text
        assert f"UHID {patient.uhid_display}" in text
        assert "56 y / F" in text
        assert "STAT" in text
        assert "Coll. 30-11-26 08:20" in text
    assert edta in first
    assert "Lavender top (EDTA)" in first
    assert "Haematology" in first
    assert "CBC" in first
    assert fluoride in second
    assert "Grey top (fluoride)" in second
    assert "Biochemistry" in second
    assert "FBS" in second
    assert printed() == [patient.uhid]


def test_a_routine_label_before_collection_shows_the_order_time(clock_at, client_as):
    lab.load_catalogue()
    clock_at(2026, 11, 30, 9, 5)
    order = lab.walk_in(["FBS"], patient=PatientFactory(name="A Very Long Patient Name Indeed"))
    text = pdf_text(client_as(Role.LAB_TECHNICIAN).get(labels_url(order)).content)
    assert "Routine" in text
    assert "STAT" not in text
    assert "Ord. 30-11-26 09:05" in text
    assert "A Very Long Patient Name Indeed" not in text  # cut to the label's width
    assert "A Very Long Patient" in text


def test_one_label_again_by_accession_and_rejected_samples_are_left_out(order, client_as):
    order, samples = order
    client = client_as(Role.LAB_TECHNICIAN)
    edta = samples["edta"]
    response = client.get(labels_url(order, accession=edta.accession))
    assert len(PdfReader(io.BytesIO(response.content)).pages) == 1
    assert edta.accession in pdf_text(response.content)

    again = services.sample_reject(actor=lab.technician(), sample=edta, reason="clotted")
    text = pdf_text(client.get(labels_url(order)).content)
    assert again.accession in text
    assert edta.accession not in text
    assert client.get(labels_url(order, accession=edta.accession)).status_code == 404


def test_labels_of_an_unknown_order_are_a_clear_404(client_as, db):
    response = client_as(Role.NURSE).get(reverse("lab:labels", kwargs={"number": "L269999999"}))
    assert response.status_code == 404
    assert "No lab order has number L269999999." in response.content.decode()
    assert printed() == []


@pytest.mark.parametrize("role", [Role.DOCTOR, Role.PATHOLOGIST, Role.REGISTRATION_CLERK])
def test_labels_are_for_those_who_collect_samples(order, client_as, role):
    order, _ = order
    assert client_as(role).get(labels_url(order)).status_code == 403
    assert printed() == []


def test_the_label_barcode_is_code128_set_c_with_quiet_zones():
    barcode = documents.label_barcode("2600000017")
    # Start C, five digit pairs, the check character, stop: what a scanner reads back.
    assert barcode.encoded[0] == 105
    assert barcode.encoded[-1] == 106
    assert "".join(f"{v:02d}" for v in barcode.encoded[1:-2]) == "2600000017"
    weighted = barcode.encoded[0] + sum(n * v for n, v in enumerate(barcode.encoded[1:-2], 1))
    assert barcode.encoded[-2] == weighted % 103
    assert barcode.barWidth == pytest.approx(0.375 * mm)
    assert barcode.lquiet == barcode.rquiet == pytest.approx(10 * 0.375 * mm)
    # 11 modules for start, each pair and the check character, 13 for stop.
    assert barcode.width == pytest.approx((11 * 7 + 13 + 20) * 0.375 * mm)
    assert barcode.width <= 48 * mm


def test_a_longer_number_is_narrowed_to_fit_the_label():
    barcode = documents.label_barcode("ABCDEFGHIJKLMNOP")
    assert barcode.width <= 48.001 * mm
    assert barcode.barWidth < 0.375 * mm


# -- the report ------------------------------------------------------------------------


def test_a_partial_report_prints_what_was_authorised(order, client_as, clock_at, monkeypatch):
    order, samples = order
    clock_at(2026, 11, 30, 9, 10)
    report = authorise(samples["fluoride"], {"FBS": "35"})  # critically low
    drawn = []
    real = documents.pdf.draw_qr
    monkeypatch.setattr(
        documents.pdf,
        "draw_qr",
        lambda c, value, *a, **k: drawn.append(value) or real(c, value, *a, **k),
    )
    client = client_as(Role.DOCTOR)
    response = client.get(report_url(report))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f"lab-report-{report.number}.pdf" in response["Content-Disposition"]
    text = pdf_text(response.content)
    accession = samples["fluoride"].accession
    for expected in (
        "Laboratory report",
        "Kamala Devi",
        f"UHID {order.patient.uhid_display} · 56 y / Female",
        f"Order {order.number} · Walk-in (lab counter) · priority STAT",
        "Doctor: Dr. Outside",
        "Glucose, fasting (FBS)",
        "Hexokinase",
        f"accession {accession}",
        "collected 30-11-2026 08:20 IST",
        "received 30-11-2026 08:20 IST",
        "35",
        "mg/dL",
        "70 - 100",
        "LL CRITICAL",
        f"Authorised by {signer(report)} at 30-11-2026 09:10 IST",
        "Partial report — tests pending",
        f"Report {report.number} · version 1",
        f"Fingerprint {report.content_hash[:16]}",
    ):
        assert expected in text, expected
    assert report.content_hash[16:32] not in text.split("open")[0]  # only 16 hex by the QR
    assert "SUPERSEDED" not in text
    assert "Haemoglobin" not in text  # not authorised yet
    path = reverse("lab:verify", args=[report.number, report.content_hash])
    assert drawn == [f"http://testserver{path}"]
    assert printed() == [order.patient.uhid]


def test_the_qr_payload_is_the_absolute_verification_address(order, rf, settings):
    _, samples = order
    settings.ALLOWED_HOSTS = ["his.hospital.local"]
    report = authorise(samples["fluoride"], {"FBS": "90"})
    request = rf.get("/", HTTP_HOST="his.hospital.local")
    assert documents.verify_url(request, report) == (
        f"http://his.hospital.local/lab/verify/{report.number}/{report.content_hash}/"
    )


def test_the_final_version_and_the_superseded_one(order, client_as, clock_at):
    order, samples = order
    clock_at(2026, 11, 30, 9, 0)
    first = authorise(samples["fluoride"], {"FBS": "90"})
    clock_at(2026, 11, 30, 9, 30)
    cbc = {code: "5" for code in lab.results_of(samples["edta"])}
    cbc["HB"] = "16.2"  # above a woman's range
    final = authorise(samples["edta"], cbc)
    assert (final.version, final.is_final) == (2, True)
    client = client_as(Role.PATHOLOGIST)

    text = pdf_text(client.get(report_url(final)).content)
    assert "Partial report" not in text
    assert "SUPERSEDED" not in text
    assert "Haemoglobin" in text
    assert "16.2" in text
    assert "H (high)" in text
    assert "Glucose, fasting" in text

    old = pdf_text(client.get(report_url(first)).content)
    assert "SUPERSEDED by version 2 (issued 30-11-2026 09:30 IST)" in old
    assert "Partial report — tests pending" in old
    assert "Haemoglobin" not in old  # the paper says what version 1 said
    assert printed() == [order.patient.uhid, order.patient.uhid]


def test_an_amendment_is_marked_and_the_old_version_keeps_the_old_value(order, client_as, clock_at):
    order, samples = order
    clock_at(2026, 11, 30, 9, 0)
    first = authorise(samples["fluoride"], {"FBS": "35"})
    clock_at(2026, 11, 30, 10, 0)
    result = lab.results_of(samples["fluoride"])["FBS"]
    services.result_amend(
        actor=lab.pathologist(), result=result, value="85", reason="sample was diluted"
    )
    amended = services.results_authorise(
        actor=lab.pathologist("dr-second"), sample=samples["fluoride"]
    )
    client = client_as(Role.LAB_TECHNICIAN)
    text = pdf_text(client.get(report_url(amended)).content)
    assert "Glucose, fasting [amended]" in text
    assert "Amended result: Glucose, fasting (FBS) — sample was diluted" in text
    assert "85" in text
    assert "LL CRITICAL" not in text
    old = pdf_text(client.get(report_url(first)).content)
    assert "SUPERSEDED by version 2" in old
    assert "LL CRITICAL" in old  # the value as authorised then, not the live row
    assert "Version 2 was issued because: FBS amended: sample was diluted" in old


def test_a_long_report_continues_with_the_patient_on_every_page(clock_at, client_as):
    order, samples = stat_order(clock_at, ("CBC", "LFT", "KFT", "LIPID", "COAG"))
    clock_at(2026, 11, 30, 9, 0)
    report = None
    for sample in samples.values():
        report = authorise(sample, {code: "1" for code in lab.results_of(sample)})
    response = client_as(Role.DOCTOR).get(report_url(report))
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) >= 2
    second = reader.pages[1].extract_text()
    assert f"Kamala Devi · UHID {order.patient.uhid_display} · report {report.number}" in second
    assert "(continued)" in second
    assert f"Page 2 of {len(reader.pages)}" in second
    assert "End of report" in reader.pages[-1].extract_text()


def test_a_tampered_report_is_not_printed(order, client_as, clock_at):
    order, samples = order
    report = authorise(samples["fluoride"], {"FBS": "35"})
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE lab_report SET content = REPLACE(content, '\"35\"', '\"95\"') WHERE id = %s",
            [report.pk],
        )
    response = client_as(Role.DOCTOR).get(report_url(report))
    assert response.status_code == 409
    assert response["Content-Type"].startswith("text/html")
    assert "fails its integrity check and is not printed" in response.content.decode()
    assert printed() == []


def test_an_unknown_report_is_a_404(client_as, db):
    response = client_as(Role.DOCTOR).get(reverse("lab:report_pdf", args=["L269999999-1"]))
    assert response.status_code == 404
    assert printed() == []


@pytest.mark.parametrize("role", [Role.REGISTRATION_CLERK, Role.BILLING_CLERK, Role.IT_SECURITY])
def test_the_report_is_refused_to_roles_without_lab_view(order, client_as, role):
    _, samples = order
    report = authorise(samples["fluoride"], {"FBS": "90"})
    assert client_as(role).get(report_url(report)).status_code == 403
    assert printed() == []


def test_anonymous_visitors_are_sent_to_log_in(order, client):
    order, samples = order
    report = authorise(samples["fluoride"], {"FBS": "90"})
    for url in (report_url(report), labels_url(order)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
