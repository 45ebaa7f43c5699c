"""Load the laboratory catalogue from a TOML file (the starter one ships with Ajeya).

Loading is additive and idempotent: tests, panels and analyzers whose code exists are
left as they are (a catalogue in use is changed through the ledgered set-up, never by
re-reading a file), so `ajeya seed` and `ajeya lab catalogue` can run again safely.
Everything is checked before anything is written.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.db import transaction

from ajeya.core.errors import ValidationFailed
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


def _check(data: dict) -> list[str]:
    problems: list[str] = []
    codes: set[str] = set()
    for n, test in enumerate(data.get("test", []), start=1):
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
        if test.get("code") in codes:
            problems.append(f"{where}: code used twice")
        codes.add(test.get("code"))
        if not test.get("ranges"):
            problems.append(f"{where}: give at least one reference range")
        for r in test.get("ranges", []):
            if set(r) - RANGE_FIELDS:
                problems.append(f"{where}: unknown range fields {sorted(set(r) - RANGE_FIELDS)}")
            if r.get("sex", "") not in RangeSex.values:
                problems.append(f"{where}: range sex must be M, F or empty")
            low, high = r.get("low"), r.get("high")
            if low is not None and high is not None and low > high:
                problems.append(f"{where}: range low {low} is above high {high}")
            age = r.get("age", [0, 150])
            if len(age) != 2 or age[0] >= age[1]:
                problems.append(f"{where}: age band {age} must be [from, to) in years")
    by_code = {t.get("code"): t for t in data.get("test", [])}
    for panel in data.get("panel", []):
        where = f"panel {panel.get('code')}"
        members = [by_code.get(code) for code in panel.get("tests", [])]
        if not members:
            problems.append(f"{where}: lists no tests")
        if any(m is None for m in members):
            problems.append(f"{where}: names a test that is not in the file")
            continue
        kinds = {(m["container"], m["specimen"]) for m in members}
        if len(kinds) > 1:
            problems.append(f"{where}: its tests need different containers ({sorted(kinds)})")
    for analyzer in data.get("analyzer", []):
        for their, ours in analyzer.get("codes", {}).items():
            if ours not in by_code and not LabTest.objects.filter(code=ours).exists():
                problems.append(f"analyzer {analyzer.get('code')}: {their} maps to unknown {ours}")
    return problems


def load(path: Path | None = None, *, actor=None) -> Loaded:
    data = read(path or STARTER)
    problems = _check(data)
    if problems:
        raise ValidationFailed({"catalogue": problems})
    loaded = Loaded()
    with transaction.atomic():
        existing = set(LabTest.objects.values_list("code", flat=True))
        tests: dict[str, LabTest] = {t.code: t for t in LabTest.objects.all()}
        singles = []
        for spec in data.get("test", []):
            if spec["code"] in existing:
                continue
            fields = {k: v for k, v in spec.items() if k in TEST_FIELDS}
            if "delta_percent" in fields:
                fields["delta_percent"] = _decimal(fields["delta_percent"])
            test = LabTest(**fields)
            ledger.create_sealed(test, actor=actor, reason="catalogue loaded")
            tests[test.code] = test
            loaded.tests += 1
            for r in spec["ranges"]:
                age = r.get("age", [0, 150])
                ledger.create_sealed(
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
                    ),
                    actor=actor,
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
        panel_codes = set(Panel.objects.values_list("code", flat=True))
        for spec in [*data.get("panel", []), *singles]:
            if spec["code"] in panel_codes:
                continue
            members = [tests[code] for code in spec["tests"]]
            panel = Panel(
                code=spec["code"],
                name=spec["name"],
                section=members[0].section,
                price_code=spec.get("price_code", ""),
                tat_minutes=spec.get("tat_minutes", 240),
            )
            ledger.create_sealed(panel, actor=actor, reason="catalogue loaded")
            for position, test in enumerate(members, start=1):
                ledger.create_sealed(
                    PanelTest(panel=panel, test=test, position=position), actor=actor
                )
            panel_codes.add(panel.code)
            loaded.panels += 1
        for spec in data.get("analyzer", []):
            analyzer = Analyzer.objects.filter(code=spec["code"]).first()
            if analyzer is None:
                analyzer = Analyzer(
                    code=spec["code"],
                    name=spec["name"],
                    section=spec["section"],
                    sending_application=spec["sending_application"],
                )
                ledger.create_sealed(analyzer, actor=actor, reason="catalogue loaded")
                loaded.analyzers += 1
            known = set(
                AnalyzerMapping.objects.filter(analyzer=analyzer).values_list(
                    "analyzer_code", flat=True
                )
            )
            for their, ours in spec.get("codes", {}).items():
                if their in known:
                    continue
                test = tests.get(ours) or LabTest.objects.get(code=ours)
                ledger.create_sealed(
                    AnalyzerMapping(analyzer=analyzer, analyzer_code=their, test=test),
                    actor=actor,
                )
                loaded.mappings += 1
    return loaded
