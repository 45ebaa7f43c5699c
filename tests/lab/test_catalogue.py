"""The catalogue loader: the starter file loads whole and once; a file with a problem is
refused with every problem named, and nothing of it is written."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ajeya.core.errors import ValidationFailed
from ajeya.lab import catalogue
from ajeya.lab.models import (
    Analyzer,
    AnalyzerMapping,
    LabTest,
    Panel,
    PanelTest,
    ReferenceRange,
)
from ajeya.ledger.models import LedgerEntry
from ajeya.ledger.verification import verify
from tests.ipd.factories import assert_sealed
from tests.lab import factories as lab

pytestmark = pytest.mark.django_db

HB_FILE = """
[[test]]
code = "HBX"
name = "Haemoglobin X"
section = "haematology"
specimen = "whole_blood"
container = "edta"
unit = "g/dL"
orderable = true
ranges = [{ low = 12, high = 16, critical_low = 7, critical_high = 20 }]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalogue.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> list[str]:
    """Load `path`, expecting a refusal; return the named problems (nothing written)."""
    before = lab.snapshot()
    with pytest.raises(ValidationFailed) as caught:
        catalogue.load(path)
    assert lab.snapshot() == before
    return caught.value.errors.get("catalogue") or [caught.value.message]


def test_the_starter_catalogue_loads_whole_with_a_range_for_every_test():
    data = catalogue.read(catalogue.STARTER)
    orderable = [t for t in data["test"] if t.get("orderable")]

    loaded = catalogue.load()

    assert loaded.tests == LabTest.objects.count() == len(data["test"]) >= 50
    assert loaded.panels == Panel.objects.count() == len(data["panel"]) + len(orderable)
    assert loaded.analyzers == Analyzer.objects.count() == len(data["analyzer"])
    assert loaded.mappings == sum(len(a["codes"]) for a in data["analyzer"])
    assert set(LabTest.objects.filter(ranges__isnull=True).values_list("code", flat=True)) == set()
    for panel in Panel.objects.prefetch_related("items__test"):
        members = [m.test for m in panel.items.all()]
        assert members, panel.code
        assert len({(t.container, t.specimen) for t in members}) == 1, panel.code
        assert [m.position for m in panel.items.all()] == list(range(1, len(members) + 1))
    cbc = Panel.objects.get(code="CBC")
    assert (cbc.name, cbc.price_code, cbc.section) == (
        "Complete blood count",
        "LAB-CBC",
        "haematology",
    )
    assert [m.test.code for m in cbc.items.all()][:3] == ["HB", "TLC", "RBC"]
    esr = Panel.objects.get(code="ESR")  # an orderable test is its own one-test panel
    assert esr.price_code == "LAB-ESR"
    assert [m.test.code for m in esr.items.all()] == ["ESR"]
    xn = Analyzer.objects.get(sending_application="XN-1000")
    assert AnalyzerMapping.objects.get(analyzer=xn, analyzer_code="HGB").test.code == "HB"
    assert_sealed(LabTest.objects.get(code="HB"))
    assert_sealed(ReferenceRange.objects.filter(test__code="K").get())
    assert verify(use_checkpoint_dir=False).findings == []


def test_age_bands_are_stored_in_days_and_limits_as_decimals():
    catalogue.load()
    hb = {
        (r.sex, r.age_min_days, r.age_max_days): r
        for r in ReferenceRange.objects.filter(test__code="HB")
    }
    assert set(hb) == {("M", 6570, 54750), ("F", 6570, 54750), ("", 365, 6570), ("", 0, 365)}
    male = hb[("M", 6570, 54750)]
    assert (male.low, male.high, male.critical_low, male.critical_high) == (
        Decimal("13.0000"),
        Decimal("17.0000"),
        Decimal("7.0000"),
        Decimal("20.0000"),
    )
    hbsag = ReferenceRange.objects.get(test__code="HBSAG")
    assert (hbsag.normal_text, hbsag.low, hbsag.high) == ("Non-reactive", None, None)
    assert LabTest.objects.get(code="HB").delta_percent == Decimal("20.0")


def test_a_second_load_changes_nothing():
    catalogue.load()
    before = lab.snapshot()

    again = catalogue.load()

    assert again == catalogue.Loaded(tests=0, panels=0, analyzers=0, mappings=0)
    assert lab.snapshot() == before


def test_a_second_file_adds_to_the_catalogue_and_may_use_its_tests(tmp_path):
    catalogue.load()
    hb_ranges = list(ReferenceRange.objects.filter(test__code="HB").values_list("pk", "seal"))
    path = write(
        tmp_path,
        HB_FILE
        + """
[[panel]]
code = "ANAEMIA"
name = "Anaemia screen"
tests = ["HB", "HBX", "MCV"]

[[analyzer]]
code = "XN1000"
name = "Sysmex XN-1000 (haematology)"
section = "haematology"
sending_application = "XN-1000"
codes = { HGBX = "HBX", HGB = "HB" }
""",
    )

    loaded = catalogue.load(path, actor=lab.technician())

    assert loaded == catalogue.Loaded(tests=1, panels=2, analyzers=0, mappings=1)
    anaemia = Panel.objects.get(code="ANAEMIA")
    assert list(PanelTest.objects.filter(panel=anaemia).values_list("test__code", flat=True)) == [
        "HB",
        "HBX",
        "MCV",
    ]
    assert Panel.objects.get(code="HBX").price_code == "LAB-HBX"
    assert AnalyzerMapping.objects.get(analyzer_code="HGBX").test.code == "HBX"
    assert list(ReferenceRange.objects.filter(test__code="HB").values_list("pk", "seal")) == (
        hb_ranges
    )
    entry = LedgerEntry.objects.get(subject_type="lab.test", subject_id="HBX")
    assert (entry.actor_username, entry.reason) == ("tech-ravi", "catalogue loaded")
    assert verify(use_checkpoint_dir=False).findings == []


def test_a_file_that_is_not_toml_is_refused(tmp_path):
    [problem] = refused(write(tmp_path, "[[test]]\ncode = HB\n"))
    assert "catalogue.toml is not valid TOML" in problem


def test_a_missing_file_is_refused(tmp_path):
    [problem] = refused(tmp_path / "nowhere.toml")
    assert problem.startswith("No catalogue file at ")


def _test(**fields) -> str:
    spec = {
        "code": '"ZZ"',
        "name": '"Zed"',
        "section": '"biochemistry"',
        "specimen": '"serum"',
        "container": '"sst"',
        "ranges": "[{ low = 1, high = 2 }]",
    }
    spec.update(fields)
    return "[[test]]\n" + "".join(f"{k} = {v}\n" for k, v in spec.items() if v is not None)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (_test(section='"radiology"'), "test ZZ: unknown section 'radiology'"),
        (_test(container='"jar"'), "test ZZ: unknown container 'jar'"),
        (_test(result_type='"photo"'), "test ZZ: unknown result_type 'photo'"),
        (_test(colour='"red"'), "test ZZ: unknown fields colour"),
        (_test(name=None), "test ZZ: name is missing"),
        (_test(ranges=None), "test ZZ: give at least one reference range"),
        (_test(ranges="[{ low = 5, high = 2 }]"), "test ZZ: range low 5 is above high 2"),
        (
            _test(ranges="[{ low = 5, high = 9, critical_low = 6 }]"),
            "test ZZ: range critical_low 6 is above low 5",
        ),
        (
            _test(ranges="[{ high = 9, critical_high = 8 }]"),
            "test ZZ: range high 9 is above critical_high 8",
        ),
        (_test(ranges='[{ low = "1" }]'), "test ZZ: range low must be numbers, 0 or more"),
        (_test(ranges="[{ low = -1 }]"), "test ZZ: range low must be numbers, 0 or more"),
        (_test(ranges="[{ sex = 'X', low = 1 }]"), "test ZZ: range sex must be M, F or empty"),
        (_test(ranges="[{ age = [18, 1], low = 1 }]"), "test ZZ: age band [18, 1] must be"),
        (_test(ranges="[{ age = [0, 200], low = 1 }]"), "test ZZ: age band [0, 200] must be"),
        (_test(ranges="[{ lo = 1 }]"), "test ZZ: unknown range fields ['lo']"),
        (_test(ranges="[1]"), "test ZZ: a range must be a table"),
        (_test(decimals="6"), "test ZZ: decimals must be a whole number from 0 to 4"),
        (_test(tat_minutes="0"), "test ZZ: tat_minutes must be a whole number of minutes"),
        (_test(delta_percent="-5"), "test ZZ: delta_percent must be a number above 0"),
        (_test(code='"ABCDEFGHIJKLMNOPQ"'), "a code is at most 16 characters"),
        (_test(result_type='"choice"'), "test ZZ: a choice result lists its choices"),
        (
            _test(
                result_type='"choice"',
                choices='"Nil|Trace"',
                ranges='[{ normal_text = "Negative" }]',
            ),
            "test ZZ: normal_text 'Negative' is not one of its choices",
        ),
        (_test() + _test(), "test ZZ: code used twice"),
        (
            _test() + '[[tset]]\ncode = "X"\n',
            "unknown table 'tset': expected [[test]], [[panel]] or [[analyzer]]",
        ),
        ('[test]\ncode = "X"\n', "test must be written as [[test]] tables"),
        (
            _test()
            + _test(code='"YY"', specimen='"whole_blood"', container='"edta"')
            + '[[panel]]\ncode = "MIX"\nname = "Mixed"\ntests = ["ZZ", "YY"]\n',
            "panel MIX: its tests need different containers",
        ),
        (
            _test() + '[[panel]]\ncode = "P"\nname = "P"\ntests = ["ZZ", "NOPE"]\n',
            "panel P: names unknown tests NOPE",
        ),
        (
            _test() + '[[panel]]\ncode = "P"\nname = "P"\ntests = ["ZZ", "ZZ"]\n',
            "panel P: lists ZZ twice",
        ),
        (_test() + '[[panel]]\ncode = "P"\nname = "P"\ntests = []\n', "panel P: lists no tests"),
        (
            _test(orderable="true") + '[[panel]]\ncode = "ZZ"\nname = "P"\ntests = ["ZZ"]\n',
            "panel ZZ: code used twice",
        ),
        (
            _test() + '[[panel]]\ncode = "P"\ntests = ["ZZ"]\n',
            "panel P: name is missing",
        ),
        (
            _test()
            + '[[analyzer]]\ncode = "A1"\nname = "A"\nsection = "biochemistry"\n'
            + 'sending_application = "A1"\ncodes = { X = "NOPE" }\n',
            "analyzer A1: X maps to unknown NOPE",
        ),
        (
            _test()
            + '[[analyzer]]\ncode = "A1"\nname = "A"\nsection = "radiology"\n'
            + 'sending_application = "A1"\n',
            "analyzer A1: unknown section 'radiology'",
        ),
        (
            _test() + '[[analyzer]]\ncode = "A1"\nname = "A"\nsection = "biochemistry"\n',
            "analyzer A1: sending_application is missing",
        ),
    ],
)
def test_a_file_with_a_problem_is_refused_naming_it(tmp_path, text, problem):
    problems = refused(write(tmp_path, text))
    assert any(problem in p for p in problems), problems


def test_every_problem_of_a_file_is_named_at_once_and_nothing_is_loaded(tmp_path):
    text = (
        HB_FILE
        + _test(section='"radiology"')
        + _test(code='"YY"', ranges="[{ low = 3, high = 1 }]")
    )

    problems = refused(write(tmp_path, text))

    assert problems == [
        "test ZZ: unknown section 'radiology'",
        "test YY: range low 3 is above high 1",
    ]
    assert not LabTest.objects.filter(code="HBX").exists()  # the good test waits too
