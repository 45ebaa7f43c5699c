"""Finding patients by UHID, phone, ABHA and name; likely duplicates."""

import datetime as dt

import pytest

from ajeya.core.identifiers import format_uhid
from ajeya.patients import selectors
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(clerk):
    return {
        "ramesh": PatientFactory(actor=clerk, name="Ramesh Kumar Sharma", phone="9810012345"),
        "lakshmi": PatientFactory(actor=clerk, name="Lakshmi Devi", phone="9810099999"),
        "rajesh": PatientFactory(
            actor=clerk, name="Rajesh Sarma", phone="9000000001", abha_number="91000000000001"
        ),
        "suresh": PatientFactory(actor=clerk, name="Suresh Yadav", phone="9810012345"),
    }


def names(result):
    return [p.name for p in result.patients]


def test_by_uhid_as_printed_with_spaces(people):
    result = selectors.patient_search(format_uhid(people["lakshmi"].uhid))
    assert result.kind == "uhid"
    assert names(result) == ["Lakshmi Devi"]


def test_a_mistyped_uhid_check_digit_is_pointed_out(people):
    uhid = people["lakshmi"].uhid
    wrong = uhid[:-1] + str((int(uhid[-1]) + 1) % 10)
    result = selectors.patient_search(wrong)
    assert list(result.patients) == []
    assert "check digit" in result.message


def test_by_phone_in_any_usual_form(people):
    for typed in ("9810012345", "+91 98100 12345", "098100-12345", "919810012345"):
        result = selectors.patient_search(typed)
        assert result.kind == "phone"
        assert names(result) == ["Ramesh Kumar Sharma", "Suresh Yadav"]


def test_by_abha(people):
    assert names(selectors.patient_search("91-0000-0000-0001")) == ["Rajesh Sarma"]


def test_partial_numbers_get_a_message_not_a_scan(people):
    result = selectors.patient_search("98100")
    assert result.kind == "empty"
    assert "whole" in result.message


def test_by_name_prefix_of_any_word(people):
    assert names(selectors.patient_search("ram")) == ["Ramesh Kumar Sharma"]
    assert names(selectors.patient_search("sharma")) == ["Ramesh Kumar Sharma"]
    assert names(selectors.patient_search("r s")) == ["Rajesh Sarma", "Ramesh Kumar Sharma"]
    assert names(selectors.patient_search("RAMESH   kumar")) == ["Ramesh Kumar Sharma"]


def test_sounds_like_finds_spelling_variants(people):
    result = selectors.patient_search("Laxmi", similar=True)
    assert names(result) == ["Lakshmi Devi"]
    assert result.scores[people["lakshmi"].pk] >= 70


def test_when_no_name_starts_so_similar_names_are_offered(people):
    result = selectors.patient_search("Rajes Sharma")
    assert result.kind == "similar"
    assert "sound similar" in result.message
    assert "Rajesh Sarma" in names(result)


@pytest.mark.parametrize(
    "hostile",
    [
        "'; DROP TABLE patients_patient; --",
        '" OR 1=1 --',
        "%_%",
        "<script>alert(1)</script>",
        "x" * 10_000,
        "\x00\x01",
    ],
)
def test_hostile_queries_are_just_text(people, hostile):
    result = selectors.patient_search(hostile)
    assert list(result.patients) == []
    assert names(selectors.patient_search("ramesh")) == ["Ramesh Kumar Sharma"]


def test_duplicates_same_phone(people):
    found = selectors.patient_likely_duplicates(name="Anita Rao", phone="+919810012345")
    assert {d.patient.name for d in found} == {"Ramesh Kumar Sharma", "Suresh Yadav"}
    assert all("same phone number" in d.reasons for d in found)


def test_duplicates_similar_name_and_birth_year(people):
    found = selectors.patient_likely_duplicates(
        name="Ramesh Kumar Sarma", date_of_birth=dt.date(1981, 1, 1)
    )
    assert [d.patient.name for d in found] == ["Ramesh Kumar Sharma"]
    assert found[0].reasons == ["similar name, born around the same year"]


def test_no_duplicate_for_a_similar_name_born_decades_apart(people):
    assert (
        selectors.patient_likely_duplicates(
            name="Ramesh Kumar Sharma", date_of_birth=dt.date(2015, 1, 1)
        )
        == []
    )


def test_duplicates_same_abha(people):
    found = selectors.patient_likely_duplicates(name="X Y", abha_number="91000000000001")
    assert [d.patient.name for d in found] == ["Rajesh Sarma"]
