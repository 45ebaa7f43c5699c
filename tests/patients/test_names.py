import pytest
from hypothesis import given
from hypothesis import strategies as st

from ajeya.patients.names import clean_display_name, fold, skeleton, tokens


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Lakshmi", "Laxmi"),
        ("Mohammed", "Muhammad"),
        ("Mohammad", "Mohamed"),
        ("Sharma", "Sarma"),
        ("Srinivas", "Shreenivas"),
        ("Rajesh", "Rajes"),
        ("Ishaan", "Eshan"),
        ("Chaudhary", "Choudhari"),
        ("Vijay", "Wijay"),
        ("Zainab", "Jainab"),
    ],
)
def test_spelling_variants_share_a_skeleton(one, other):
    assert skeleton(fold(one)) == skeleton(fold(other))


@pytest.mark.parametrize(
    ("one", "other"), [("Ramesh", "Suresh"), ("Anil", "Sunil"), ("Ravi", "Rani")]
)
def test_different_names_keep_different_skeletons(one, other):
    assert skeleton(fold(one)) != skeleton(fold(other))


def test_folding_drops_accents_and_punctuation_but_keeps_other_scripts():
    assert fold("  José  D'Souza ") == "jose d souza"
    assert tokens("रमेश कुमार") == ["रमेश", "कुमार"]
    assert skeleton("रमेश") == ""


def test_display_names_lose_stray_white_space():
    assert clean_display_name(" Ramesh \t  Kumar\n") == "Ramesh Kumar"


@given(st.text(max_size=60))
def test_folding_never_fails_and_is_stable(text):
    once = fold(text)
    assert fold(once) == once
    for token in tokens(text):
        assert " " not in token
        assert len(skeleton(token)) <= 20
