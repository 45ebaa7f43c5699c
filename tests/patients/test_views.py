"""The registration pages through Django's full HTTP stack, bad input included."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from ajeya.ledger.models import AccessEntry, AccessKind, LedgerEntry
from ajeya.patients.models import Patient
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db
REGISTER = "/patients/register/"


def form_data(**overrides) -> dict:
    data = {
        "name": "Kavita Joshi",
        "sex": "F",
        "date_of_birth": "1990-04-12",
        "age_years": "",
        "phone": "98111 22334",
        "address_line": "B-14, Lajpat Nagar",
        "district": "South Delhi",
        "state": "DL",
        "pincode": "110024",
        "guardian_name": "Mohan Joshi",
        "guardian_relation": "spouse",
        "abha_number": "",
        "aadhaar_last4": "",
        "category": "general",
        "scheme": "",
        "scheme_beneficiary_id": "",
    }
    data.update(overrides)
    return data


def test_register_then_land_on_the_record(clerk_client):
    page = clerk_client.get(REGISTER)
    assert b"autofocus" in page.content
    response = clerk_client.post(REGISTER, form_data())
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:detail", args=[patient.uhid])
    detail = clerk_client.get(response["Location"])
    assert patient.uhid_display.encode() in detail.content
    assert b"Print registration slip" in detail.content


def test_age_alone_is_enough(clerk_client):
    clerk_client.post(REGISTER, form_data(date_of_birth="", age_years="67"))
    patient = Patient.objects.get()
    assert patient.dob_estimated
    assert patient.age == 67


BAD_INPUT = [
    ({"name": ""}, "This field is required"),
    ({"name": "x" * 10_000}, "at most 100 characters (it has 10000)"),
    ({"name": "<script>alert(1)</script>"}, "letters, spaces and . &#x27; - only"),
    ({"sex": ""}, "This field is required"),
    ({"phone": "98-765"}, "10-digit Indian mobile"),
    ({"phone": "5811122334"}, "starting with 6, 7, 8 or 9"),
    ({"date_of_birth": "2999-01-01"}, "in the future"),
    ({"date_of_birth": "1890-01-01"}, "older than 130 years"),
    ({"date_of_birth": "31-31-2000"}, "Enter a valid date"),
    ({"date_of_birth": "", "age_years": ""}, "date of birth or an age"),
    ({"date_of_birth": "", "age_years": "-4"}, "greater than or equal to 0"),
    ({"abha_number": "9112345678901"}, "exactly 14 digits (this has 13)"),
    ({"abha_number": "91-1234-ABCD-9012"}, "exactly 14 digits"),
    ({"pincode": "ABCDEF"}, "6 digits"),
    ({"pincode": ""}, "This field is required"),
    ({"aadhaar_last4": "123412341234"}, "never stores the full number"),
    ({"state": "XX"}, "Select a valid choice"),
    ({"category": "scheme"}, "Choose the scheme"),
    ({"district": ""}, "This field is required"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_INPUT)
def test_bad_input_is_shown_on_the_form_and_nothing_is_saved(clerk_client, overrides, message):
    data = form_data(**overrides)
    response = clerk_client.post(REGISTER, data)
    assert response.status_code == 200
    content = response.content.decode()
    assert message in content
    assert "nothing has been saved" in content
    assert Patient.objects.count() == 0
    assert LedgerEntry.objects.filter(subject_type="patients.patient").count() == 0
    # What the clerk typed is still there to correct, not lost (the oversized name is
    # cut to the field's length by the browser, so compare its start).
    kept = [v for k, v in data.items() if v and k not in ("sex", "state", "category")]
    for value in kept[:3]:
        assert value[:50].replace("<", "&lt;").replace(">", "&gt;") in content


def test_markup_in_free_text_is_shown_escaped(clerk_client):
    clerk_client.post(
        REGISTER, form_data(address_line='<img src=x onerror="alert(1)"> <b>bold</b>')
    )
    patient = Patient.objects.get()
    page = clerk_client.get(reverse("patients:detail", args=[patient.uhid])).content.decode()
    assert "<img src=x" not in page
    assert "<b>bold</b>" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_likely_duplicates_stop_the_clerk_until_confirmed(clerk_client, clerk):
    existing = PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")
    first = clerk_client.post(REGISTER, form_data())
    assert first.status_code == 200
    assert b"This may be a patient we already have" in first.content
    assert existing.uhid_display.encode() in first.content
    assert Patient.objects.count() == 1

    confirmed = clerk_client.post(REGISTER, form_data(confirm_new="on"))
    assert confirmed.status_code == 302
    assert Patient.objects.count() == 2


def test_live_duplicate_panel_for_htmx(clerk_client, clerk):
    PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")
    response = clerk_client.post(
        reverse("patients:duplicates"), {"phone": "9811122334"}, HTTP_HX_REQUEST="true"
    )
    assert b"Use this patient" in response.content
    assert b"<html" not in response.content
    empty = clerk_client.post(reverse("patients:duplicates"), {"phone": "7000000000"})
    assert b"Use this patient" not in empty.content


def test_search_page_and_htmx_partial(clerk_client, clerk):
    PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")
    page = clerk_client.get("/patients/", {"q": "kavi"})
    assert b"Kavita Joshi" in page.content
    assert b"<html" in page.content
    partial = clerk_client.get("/patients/", {"q": "9811122334"}, HTTP_HX_REQUEST="true")
    assert b"Kavita Joshi" in partial.content
    assert b"<html" not in partial.content
    nothing = clerk_client.get("/patients/", {"q": "zzzzqqq"})
    assert b"No patient matches" in nothing.content


def test_search_pages_through_many_results_with_a_fixed_number_of_queries(
    clerk_client, clerk, django_assert_max_num_queries
):
    for n in range(30):
        PatientFactory(actor=clerk, name=f"Common Name {chr(65 + n % 26)}{chr(65 + n // 26)}")
    # 25 patients shown: still a fixed number of queries, their access entries included.
    with django_assert_max_num_queries(16):
        first = clerk_client.get("/patients/", {"q": "common"})
    assert b"30 patients found" in first.content
    assert AccessEntry.objects.filter(what=AccessKind.LISTED).count() == 25
    assert b"page 1 of 2" in first.content
    second = clerk_client.get("/patients/", {"q": "common", "page": "2"})
    assert second.content.count(b'href="/patients/1') == 10  # 5 rows x 2 links
    odd_page = clerk_client.get("/patients/", {"q": "common", "page": "banana"})
    assert odd_page.status_code == 200


def test_correcting_details_needs_a_reason(clerk_client, clerk):
    patient = PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")
    url = reverse("patients:edit", args=[patient.uhid])
    page = clerk_client.get(url)
    assert b"Reason for the change" in page.content
    data = form_data(name="Kavita Joshee", version=patient.version, reason="")
    refused = clerk_client.post(url, data)
    assert b"This field is required" in refused.content
    patient.refresh_from_db()
    assert patient.name == "Kavita Joshi"

    done = clerk_client.post(url, {**data, "reason": "as on voter ID"})
    assert done.status_code == 302
    patient.refresh_from_db()
    assert patient.name == "Kavita Joshee"
    assert [e.reason for e in LedgerEntry.objects.filter(action="update")] == ["as on voter ID"]

    stale = clerk_client.post(url, {**data, "name": "Kavita J", "reason": "old tab"})
    assert b"Someone else changed this patient" in stale.content


def test_unknown_uhid_is_a_404_page(clerk_client):
    response = clerk_client.get("/patients/100000000019/")
    assert response.status_code == 404
    assert b"No patient has UHID" in response.content


def test_the_slip_is_a_pdf_with_the_uhid(clerk_client, clerk):
    patient = PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")
    response = clerk_client.get(reverse("patients:slip", args=[patient.uhid]))
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    text = reader.pages[0].extract_text()
    assert patient.uhid_display in text
    assert "Kavita Joshi" in text
    assert "Printed by Sunita Verma" in text
    assert "Page 1 of 1" in text


def test_sql_and_markup_in_the_search_box_are_plain_text(clerk_client, clerk):
    PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")
    for hostile in ("'; DROP TABLE patients_patient; --", "<script>alert(1)</script>"):
        response = clerk_client.get("/patients/", {"q": hostile})
        assert response.status_code == 200
        assert b"<script>alert(1)</script>" not in response.content
    assert Patient.objects.count() == 1
    assert b"Kavita Joshi" in clerk_client.get("/patients/", {"q": "kavita"}).content


def test_an_age_typed_on_the_correction_form_replaces_the_date(clerk_client, clerk):
    patient = PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")
    url = reverse("patients:edit", args=[patient.uhid])
    data = form_data(
        date_of_birth=patient.date_of_birth.isoformat(),
        age_years="70",
        version=patient.version,
        reason="age as told by the family",
    )
    assert clerk_client.post(url, data).status_code == 302
    patient.refresh_from_db()
    assert patient.age == 70
    assert patient.dob_estimated
