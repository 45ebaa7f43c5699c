"""The tariff master: items, their prices by rate class and date, and counters; and the
TOML file they load from (`tariff.toml` ships as the starter; `ajeya billing tariff FILE`
adds a hospital's own).

A price is a period. Adding one that starts after an open-ended period closes that
period the day before (a price revision); any other overlap is refused and named, so a
day never has two prices and an old bill's price is never rewritten. Loading checks the
whole file before it writes anything.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.db.models import Q

from ajeya.billing.models import (
    SCHEME_RATE_CLASSES,
    Counter,
    ItemKind,
    RateClass,
    TariffItem,
    TariffPrice,
)
from ajeya.core import money
from ajeya.core.errors import Conflict, ValidationFailed
from ajeya.core.locking import locked
from ajeya.core.models import Department
from ajeya.core.roles import Perm, require_perm
from ajeya.ledger import services as ledger
from ajeya.ledger.registry import state_of

STARTER = Path(__file__).with_name("tariff.toml")
ITEM_FIELDS = {"code", "name", "kind", "department", "tax_rate", "sac_code", "prices"}
REVISION_FIELDS = {"code", "rate", "amount", "from", "to", "share"}
MAX_CODE = 20


def _when(day: dt.date | None) -> str:
    return f"{day:%d-%m-%Y}" if day else "open-ended"


def _overlapping(item: TariffItem, rate_class: str, start: dt.date, end: dt.date | None):
    query = TariffPrice.objects.filter(item=item, rate_class=rate_class).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gte=start)
    )
    if end is not None:
        query = query.filter(effective_from__lte=end)
    return query.order_by("effective_from")


def price_add(
    *,
    actor,
    item: TariffItem,
    rate_class: str,
    amount,
    effective_from: dt.date,
    effective_to: dt.date | None = None,
    scheme_share=None,
    system: bool = False,
) -> TariffPrice:
    """Add a price period; an open-ended earlier period is closed the day before."""
    if not system:
        require_perm(actor, Perm.TARIFF_MANAGE)
    errors: dict[str, list[str]] = {}
    if rate_class not in RateClass.values:
        errors["rate_class"] = [f"{rate_class!r} is not a rate class."]
    try:
        value = money.parse(amount, allow_zero=True, what="Price")
    except money.MoneyError as exc:
        errors["amount"] = [str(exc)]
    if effective_to is not None and effective_to < effective_from:
        errors["effective_to"] = ["The period ends before it starts."]
    if scheme_share is None:
        share = Decimal(100) if rate_class in SCHEME_RATE_CLASSES else money.ZERO
    else:
        try:
            share = Decimal(str(scheme_share))
            if not share.is_finite() or not 0 <= share <= 100:
                raise ValueError
        except (ArithmeticError, ValueError):
            errors["scheme_share"] = ["The scheme's share is a percentage from 0 to 100."]
    if not errors and share and rate_class not in SCHEME_RATE_CLASSES:
        errors["scheme_share"] = ["Only a scheme's rate has a share the scheme pays."]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        locked(TariffItem.objects).get(pk=item.pk)  # one writer per item's prices
        clashes = list(_overlapping(item, rate_class, effective_from, effective_to))
        closable = (
            len(clashes) == 1
            and clashes[0].effective_to is None
            and clashes[0].effective_from < effective_from
            and effective_to is None
        )
        if clashes and not closable:
            c = clashes[0]
            raise Conflict(
                f"{item.code} {rate_class}: {_when(effective_from)} to {_when(effective_to)} "
                f"overlaps the price {c.amount} from {_when(c.effective_from)} to "
                f"{_when(c.effective_to)}."
            )
        if clashes:
            old = clashes[0]
            before = state_of(old)
            old.effective_to = effective_from - dt.timedelta(days=1)
            ledger.save_sealed(old, actor=actor, before=before, reason="price revised")
        price = TariffPrice(
            item=item,
            rate_class=rate_class,
            amount=value,
            scheme_share=share,
            effective_from=effective_from,
            effective_to=effective_to,
        )
        ledger.create_sealed(price, actor=actor, reason="tariff price")
    return price


def _new_item(
    *, code: str, name: str, kind: str, department=None, tax_rate="0", sac_code=""
) -> TariffItem:
    """A checked, unsaved tariff item (the file loader saves many at once)."""
    code = code.strip().upper()
    errors: dict[str, list[str]] = {}
    if not code or len(code) > MAX_CODE or not all(ch.isalnum() or ch in "-_" for ch in code):
        errors["code"] = [f"A code is 1 to {MAX_CODE} letters, digits, '-' or '_'."]
    if not name.strip():
        errors["name"] = ["Name the service."]
    if kind not in ItemKind.values:
        errors["kind"] = [f"{kind!r} is not a kind of service."]
    try:
        rate = Decimal(str(tax_rate))
        if not rate.is_finite() or not 0 <= rate <= 100:
            raise ValueError
    except (ArithmeticError, ValueError):
        errors["tax_rate"] = ["Tax rate is a percentage from 0 to 100."]
    if errors:
        raise ValidationFailed(errors)
    return TariffItem(
        code=code,
        name=name.strip(),
        kind=kind,
        department=department,
        tax_rate=rate,
        sac_code=sac_code.strip(),
    )


def item_create(
    *, actor, code: str, name: str, kind: str, department=None, tax_rate="0", sac_code="",
    system: bool = False,
) -> TariffItem:  # fmt: skip
    if not system:
        require_perm(actor, Perm.TARIFF_MANAGE)
    item = _new_item(
        code=code, name=name, kind=kind, department=department, tax_rate=tax_rate,
        sac_code=sac_code,
    )  # fmt: skip
    if TariffItem.objects.filter(code=item.code).exists():
        raise Conflict(f"Tariff item {item.code} exists already.")
    with transaction.atomic():
        ledger.create_sealed(item, actor=actor, reason="tariff item")
    return item


def counter_create(*, actor, code: str, name: str, system: bool = False) -> Counter:
    if not system:
        require_perm(actor, Perm.TARIFF_MANAGE)
    code = code.strip().upper()
    if not code or len(code) > 12 or not all(ch.isalnum() or ch == "-" for ch in code):
        raise ValidationFailed({"code": ["A counter code is 1 to 12 letters, digits or '-'."]})
    if Counter.objects.filter(code=code).exists():
        raise Conflict(f"Counter {code} exists already.")
    counter = Counter(code=code, name=name.strip() or code)
    with transaction.atomic():
        ledger.create_sealed(counter, actor=actor)
    return counter


# -- the file --------------------------------------------------------------------------


@dataclass
class Loaded:
    items: int = 0
    prices: int = 0


def _date(value, where: str, problems: list[str]) -> dt.date | None:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: {value!r} is not a date (YYYY-MM-DD)")
        return None


def _price(value, where: str, problems: list[str]) -> Decimal | None:
    try:
        return money.parse(str(value), allow_zero=True, what=where)
    except money.MoneyError as exc:
        problems.append(str(exc))
        return None


def _check(data: dict, departments: set[str]) -> tuple[list[dict], list[dict], list[str]]:
    problems: list[str] = []
    unknown = set(data) - {"effective_from", "schemes", "item", "revision"}
    if unknown:
        problems.append(f"unknown keys {sorted(unknown)}: expected [[item]] and [[revision]]")
    start = _date(data.get("effective_from", "2026-04-01"), "effective_from", problems)
    shares = data.get("schemes", {})
    for rate, share in shares.items():
        if rate not in SCHEME_RATE_CLASSES:
            problems.append(f"[schemes]: {rate!r} is not a scheme rate class")
        elif not isinstance(share, int | float) or not 0 <= share <= 100:
            problems.append(f"[schemes]: {rate} share must be a percentage from 0 to 100")
    items, revisions, codes = [], [], set()
    for n, spec in enumerate(data.get("item", []), 1):
        spec = {**spec, "code": str(spec.get("code", "")).strip().upper()}
        where = f"item {n} ({spec.get('code', '?')})"
        if set(spec) - ITEM_FIELDS:
            problems.append(f"{where}: unknown fields {sorted(set(spec) - ITEM_FIELDS)}")
        for key in ("code", "name", "kind"):
            if not spec.get(key):
                problems.append(f"{where}: {key} is required")
        if spec.get("code") in codes:
            problems.append(f"{where}: code {spec['code']} appears twice")
        codes.add(spec.get("code"))
        if spec.get("kind") and spec["kind"] not in ItemKind.values:
            problems.append(f"{where}: kind {spec['kind']!r} is not one of {ItemKind.values}")
        dept = spec.get("department", "")
        if dept and dept not in departments:
            problems.append(f"{where}: no department with code {dept!r}")
        prices = spec.get("prices", {})
        if not isinstance(prices, dict) or not prices:
            problems.append(f'{where}: prices must be a table like {{ general = "10.00" }}')
            prices = {}
        parsed = {}
        for rate, amount in prices.items():
            if rate not in RateClass.values:
                problems.append(f"{where}: {rate!r} is not a rate class")
                continue
            parsed[rate] = _price(amount, f"{where} {rate} price", problems)
        items.append({**spec, "prices": parsed})
    for n, spec in enumerate(data.get("revision", []), 1):
        spec = {**spec, "code": str(spec.get("code", "")).strip().upper()}
        where = f"revision {n} ({spec.get('code', '?')})"
        if set(spec) - REVISION_FIELDS:
            problems.append(f"{where}: unknown fields {sorted(set(spec) - REVISION_FIELDS)}")
        if spec.get("rate") not in RateClass.values:
            problems.append(f"{where}: {spec.get('rate')!r} is not a rate class")
        revisions.append(
            {
                **spec,
                "amount": _price(spec.get("amount"), f"{where} amount", problems),
                "from": _date(spec.get("from"), f"{where} from", problems),
                "to": _date(spec["to"], f"{where} to", problems) if "to" in spec else None,
            }
        )
    for item in items:
        item["start"] = start
        item["shares"] = shares
    return items, revisions, problems


def load(path: Path = STARTER, *, actor=None) -> Loaded:
    """Add the file's items (and their prices) that are not in the tariff yet, then its
    revisions that are not there yet; everything is checked first."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ValidationFailed(f"No tariff file at {path}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationFailed(f"{path.name} is not valid TOML: {exc}.") from None
    departments = {d.code: d for d in Department.objects.all()}
    items, revisions, problems = _check(data, set(departments))
    existing = {i.code: i for i in TariffItem.objects.all()}
    known = set(existing) | {i["code"] for i in items}
    problems += [
        f"revision of unknown item {r.get('code')!r}"
        for r in revisions
        if r.get("code") not in known
    ]
    if problems:
        raise ValidationFailed({"file": problems})
    loaded = Loaded()
    with transaction.atomic():
        # New items and their first prices in two bulk writes (each row sealed and
        # ledgered): a new item has no price yet, so its periods cannot overlap.
        made = [
            _new_item(
                code=spec["code"],
                name=spec["name"],
                kind=spec["kind"],
                department=departments.get(spec.get("department", "")),
                tax_rate=spec.get("tax_rate", "0"),
                sac_code=spec.get("sac_code", ""),
            )
            for spec in items
            if spec["code"] not in existing
        ]
        ledger.create_sealed_many(made, actor=actor, reason="tariff item")
        by_code = {item.code: item for item in made}
        prices = [
            TariffPrice(
                item=by_code[spec["code"]],
                rate_class=rate,
                amount=amount,
                scheme_share=Decimal(str(spec["shares"].get(rate, 100)))
                if rate in SCHEME_RATE_CLASSES
                else money.ZERO,
                effective_from=spec["start"],
            )
            for spec in items
            if spec["code"] in by_code
            for rate, amount in spec["prices"].items()
        ]
        ledger.create_sealed_many(prices, actor=actor, reason="tariff price")
        existing.update(by_code)
        loaded.items, loaded.prices = len(made), len(prices)
        for rev in revisions:
            item = existing[rev["code"]]
            if TariffPrice.objects.filter(
                item=item, rate_class=rev["rate"], effective_from=rev["from"]
            ).exists():
                continue
            share = rev.get("share")
            if share is None and rev["rate"] in SCHEME_RATE_CLASSES:
                share = data.get("schemes", {}).get(rev["rate"])
            price_add(actor=actor, item=item, rate_class=rev["rate"], amount=rev["amount"],
                      effective_from=rev["from"], effective_to=rev["to"], scheme_share=share,
                      system=True)  # fmt: skip
            loaded.prices += 1
    return loaded
