"""Load the laboratory catalogue from a TOML file (the starter one ships with Ajeya).

Loading is additive and idempotent: tests, panels and analyzers whose code exists are
left as they are (a catalogue in use is changed through the ledgered set-up, never by
re-reading a file), so `ajeya seed` and `ajeya lab catalogue` can run again safely.
Everything is checked before anything is written, and every problem is named.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.db import transaction

from ajeya.core.errors import ValidationFailed
from ajeya.lab import cache
from ajeya.lab.models import (
    Analyzer,
    AnalyzerMapping,
    Container,
    LabTest,
    Panel,
    PanelTest,
    RangeSex,
    ReferenceRange,
    ResultType,
    Section,
    Specimen,
)
from ajeya.ledger import services as ledger

STARTER = Path(__file__).with_name("catalogue.toml")
DAYS_PER_YEAR = 365
MAX_AGE_YEARS = 150
MAX_DECIMALS = 4  # a result's numeric value keeps four decimal places
TABLES = ("test", "panel", "analyzer")
TEST_FIELDS = {
    "code",
    "name",
    "loinc",
    "section",
    "specimen",
    "container",
    "result_type",
    "unit",
    "decimals",
    "choices",
    "method",
    "tat_minutes",
    "delta_percent",
    "price_code",
}
RANGE_FIELDS = {"sex", "age", "low", "high", "critical_low", "critical_high", "normal_text"}
LIMITS = ("critical_low", "low", "high", "critical_high")  # in the order they must rise
PANEL_FIELDS = {"code", "name", "price_code", "tat_minutes", "tests"}
ANALYZER_FIELDS = {"code", "name", "section", "sending_application", "codes"}
REASON = "catalogue loaded"


@dataclass
class Loaded:
    tests: int = 0
    panels: int = 0
    analyzers: int = 0
    mappings: int = 0


def read(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ValidationFailed(f"No catalogue file at {path}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationFailed(f"{path.name} is not valid TOML: {exc}.") from None


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _tables(data: dict, problems: list[str]) -> dict[str, list[dict]]:
    """The file's [[test]], [[panel]] and [[analyzer]] arrays; anything else is named."""
    found: dict[str, list[dict]] = {}
    for key, value in data.items():
        if key not in TABLES:
            problems.append(f"unknown table {key!r}: expected [[test]], [[panel]] or [[analyzer]]")
        elif not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            problems.append(f"{key} must be written as [[{key}]] tables")
        else:
            found[key] = value
    return found


def _check_range(where: str, test: dict, r, problems: list[str]) -> None:
    if not isinstance(r, dict):
        problems.append(f"{where}: a range must be a table like {{ low = 1, high = 2 }}")
        return
    if set(r) - RANGE_FIELDS:
        problems.append(f"{where}: unknown range fields {sorted(set(r) - RANGE_FIELDS)}")
    if r.get("sex", "") not in RangeSex.values:
        problems.append(f"{where}: range sex must be M, F or empty")
    limits = {k: r.get(k) for k in LIMITS if r.get(k) is not None}
    bad = [k for k, v in limits.items() if not _is_number(v) or v < 0]
    if bad:
        problems.append(f"{where}: range {', '.join(bad)} must be numbers, 0 or more")
    else:
        given = [(k, limits[k]) for k in LIMITS if k in limits]
        for (k1, v1), (k2, v2) in itertools.pairwise(given):
            if v1 > v2:
                problems.append(f"{where}: range {k1} {v1} is above {k2} {v2}")
    age = r.get("age", [0, MAX_AGE_YEARS])
    if (
        not isinstance(age, list)
        or len(age) != 2
        or not all(_is_number(a) for a in age)
        or not 0 <= age[0] < age[1] <= MAX_AGE_YEARS
    ):
        problems.append(f"{where}: age band {age} must be [from, to) in years, 0 to 150")
    normal = r.get("normal_text", "")
    options = [c for c in str(test.get("choices", "")).split("|") if c]
    if normal and test.get("result_type") == ResultType.CHOICE and normal not in options:
        problems.append(f"{where}: normal_text {normal!r} is not one of its choices")


def _check_test(n: int, test: dict, codes: set, problems: list[str]) -> None:
    where = f"test {test.get('code', n)}"
    unknown = set(test) - TEST_FIELDS - {"ranges", "orderable"}
    if unknown:
        problems.append(f"{where}: unknown fields {', '.join(sorted(unknown))}")
    for key in ("code", "name", "section", "specimen", "container"):
        if not test.get(key):
            problems.append(f"{where}: {key} is missing")
    for key, choices in (
        ("section", Section),
        ("specimen", Specimen),
        ("container", Container),
        ("result_type", ResultType),
    ):
        if key in test and test[key] not in choices.values:
            problems.append(f"{where}: unknown {key} {test[key]!r}")
    code = test.get("code")
    if isinstance(code, str) and len(code) > 16:
        problems.append(f"{where}: a code is at most 16 characters")
    if code in codes:
        problems.append(f"{where}: code used twice")
    codes.add(code)
    decimals = test.get("decimals", 1)
    if not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 4:
        problems.append(f"{where}: decimals must be a whole number from 0 to {MAX_DECIMALS}")
    tat = test.get("tat_minutes", 240)
    if not isinstance(tat, int) or isinstance(tat, bool) or tat < 1:
        problems.append(f"{where}: tat_minutes must be a whole number of minutes")
    delta = test.get("delta_percent")
    if delta is not None and (not _is_number(delta) or not 0 < delta < 10000):
        problems.append(f"{where}: delta_percent must be a number above 0")
    if test.get("result_type") == ResultType.CHOICE and not test.get("choices"):
        problems.append(f'{where}: a choice result lists its choices ("A|B|C")')
    ranges = test.get("ranges")
    if not ranges or not isinstance(ranges, list):
        problems.append(f"{where}: give at least one reference range")
        return
    for r in ranges:
        _check_range(where, test, r, problems)


def _check_panels(
    panels: list[dict], kinds_by_code: dict, singles: set[str], problems: list[str]
) -> None:
    codes: set[str] = set()
    for panel in panels:
        where = f"panel {panel.get('code')}"
        unknown = set(panel) - PANEL_FIELDS
        if unknown:
            problems.append(f"{where}: unknown fields {', '.join(sorted(unknown))}")
        for key in ("code", "name"):
            if not panel.get(key):
                problems.append(f"{where}: {key} is missing")
        code = panel.get("code")
        if code in codes or code in singles:
            problems.append(f"{where}: code used twice (a panel, or an orderable test)")
        codes.add(code)
        names = panel.get("tests", [])
        if not isinstance(names, list) or not names:
            problems.append(f"{where}: lists no tests")
            continue
        repeated = sorted({c for c in names if names.count(c) > 1})
        if repeated:
            problems.append(f"{where}: lists {', '.join(map(str, repeated))} twice")
        unknown_tests = [c for c in names if c not in kinds_by_code]
        if unknown_tests:
            problems.append(f"{where}: names unknown tests {', '.join(map(str, unknown_tests))}")
            continue
        kinds = {kinds_by_code[c] for c in names}
        if len(kinds) > 1:
            problems.append(f"{where}: its tests need different containers ({sorted(kinds)})")


def _check_analyzers(analyzers: list[dict], known_tests: set[str], problems: list[str]) -> None:
    codes: set[str] = set()
    senders: set[str] = set()
    for analyzer in analyzers:
        where = f"analyzer {analyzer.get('code')}"
        unknown = set(analyzer) - ANALYZER_FIELDS
        if unknown:
            problems.append(f"{where}: unknown fields {', '.join(sorted(unknown))}")
        for key in ("code", "name", "section", "sending_application"):
            if not analyzer.get(key):
                problems.append(f"{where}: {key} is missing")
        if analyzer.get("section") and analyzer["section"] not in Section.values:
            problems.append(f"{where}: unknown section {analyzer['section']!r}")
        if analyzer.get("code") in codes:
            problems.append(f"{where}: code used twice")
        codes.add(analyzer.get("code"))
        sender = analyzer.get("sending_application")
        if sender and (sender in senders):
            problems.append(f"{where}: sending_application {sender!r} used twice")
        senders.add(sender)
        mapping = analyzer.get("codes", {})
        if not isinstance(mapping, dict):
            problems.append(f"{where}: codes must be a table of analyzer code = test code")
            continue
        for their, ours in mapping.items():
            if ours not in known_tests:
                problems.append(f"{where}: {their} maps to unknown {ours}")


def _check(data: dict) -> list[str]:
    problems: list[str] = []
    tables = _tables(data, problems)
    tests, panels = tables.get("test", []), tables.get("panel", [])
    codes: set = set()
    for n, test in enumerate(tests, start=1):
        _check_test(n, test, codes, problems)
    # Panels and analyzers may name tests loaded before (from another file) too.
    kinds_by_code = {
        code: (container, specimen)
        for code, container, specimen in LabTest.objects.values_list(
            "code", "container", "specimen"
        )
    }
    kinds_by_code.update({t.get("code"): (t.get("container"), t.get("specimen")) for t in tests})
    singles = {t.get("code") for t in tests if t.get("orderable")}
    _check_panels(panels, kinds_by_code, singles, problems)
    _check_analyzers(tables.get("analyzer", []), set(kinds_by_code), problems)
    return problems


def _new_tests(specs: list[dict], tests: dict[str, LabTest], loaded: Loaded, actor) -> list:
    """Create the tests (and their ranges) not yet in the catalogue; returns the panel
    specs of the new orderable ones."""
    made: list[tuple[LabTest, dict]] = []
    for spec in specs:
        if spec["code"] in tests:
            continue
        fields = {k: v for k, v in spec.items() if k in TEST_FIELDS}
        if "delta_percent" in fields:
            fields["delta_percent"] = _decimal(fields["delta_percent"])
        made.append((LabTest(**fields), spec))
    ledger.create_sealed_many([t for t, _ in made], actor=actor, reason=REASON)
    ranges = []
    singles = []
    for test, spec in made:
        tests[test.code] = test
        for r in spec["ranges"]:
            age = r.get("age", [0, MAX_AGE_YEARS])
            ranges.append(
                ReferenceRange(
                    test=test,
                    sex=r.get("sex", ""),
                    age_min_days=int(age[0] * DAYS_PER_YEAR),
                    age_max_days=int(age[1] * DAYS_PER_YEAR),
                    low=_decimal(r.get("low")),
                    high=_decimal(r.get("high")),
                    critical_low=_decimal(r.get("critical_low")),
                    critical_high=_decimal(r.get("critical_high")),
                    normal_text=r.get("normal_text", ""),
                )
            )
        if spec.get("orderable"):
            singles.append(
                {
                    "code": spec["code"],
                    "name": spec["name"],
                    "price_code": spec.get("price_code") or f"LAB-{spec['code']}",
                    "tat_minutes": spec.get("tat_minutes", 240),
                    "tests": [spec["code"]],
                }
            )
    ledger.create_sealed_many(ranges, actor=actor, reason=REASON)
    loaded.tests = len(made)
    return singles


def _new_panels(specs: list[dict], tests: dict[str, LabTest], loaded: Loaded, actor) -> None:
    existing = set(Panel.objects.values_list("code", flat=True))
    made: list[tuple[Panel, list[LabTest]]] = []
    for spec in specs:
        if spec["code"] in existing:
            continue
        members = [tests[code] for code in spec["tests"]]
        panel = Panel(
            code=spec["code"],
            name=spec["name"],
            section=members[0].section,
            price_code=spec.get("price_code", ""),
            tat_minutes=spec.get("tat_minutes", 240),
        )
        made.append((panel, members))
    ledger.create_sealed_many([p for p, _ in made], actor=actor, reason=REASON)
    ledger.create_sealed_many(
        [
            PanelTest(panel=panel, test=test, position=position)
            for panel, members in made
            for position, test in enumerate(members, start=1)
        ],
        actor=actor,
        reason=REASON,
    )
    loaded.panels = len(made)


def _new_analyzers(specs: list[dict], tests: dict[str, LabTest], loaded: Loaded, actor) -> None:
    analyzers = {a.code: a for a in Analyzer.objects.all()}
    made = [
        Analyzer(
            code=spec["code"],
            name=spec["name"],
            section=spec["section"],
            sending_application=spec["sending_application"],
        )
        for spec in specs
        if spec["code"] not in analyzers
    ]
    ledger.create_sealed_many(made, actor=actor, reason=REASON)
    analyzers.update({a.code: a for a in made})
    known = set(AnalyzerMapping.objects.values_list("analyzer__code", "analyzer_code"))
    mappings = [
        AnalyzerMapping(analyzer=analyzers[spec["code"]], analyzer_code=their, test=tests[ours])
        for spec in specs
        for their, ours in spec.get("codes", {}).items()
        if (spec["code"], their) not in known
    ]
    ledger.create_sealed_many(mappings, actor=actor, reason=REASON)
    loaded.analyzers, loaded.mappings = len(made), len(mappings)


def load(path: Path | None = None, *, actor=None) -> Loaded:
    data = read(path or STARTER)
    problems = _check(data)
    if problems:
        raise ValidationFailed({"catalogue": problems})
    loaded = Loaded()
    with transaction.atomic():
        tests: dict[str, LabTest] = {t.code: t for t in LabTest.objects.all()}
        singles = _new_tests(data.get("test", []), tests, loaded, actor)
        _new_panels([*data.get("panel", []), *singles], tests, loaded, actor)
        _new_analyzers(data.get("analyzer", []), tests, loaded, actor)
    cache.invalidate()
    return loaded
