"""The tariff master: loading the starter file, price revisions by date, refused
overlaps and bad files (each named, nothing written), and who may set prices."""

from __future__ import annotations

import datetime as dt
import tomllib
from decimal import Decimal

import pytest

from ajeya.billing import pricing, selectors, services, tariff
from ajeya.billing.models import Bill, Charge, TariffItem, TariffPrice
from ajeya.core.errors import Conflict, PermissionRefused, ValidationFailed
from ajeya.ledger.models import LedgerEntry
from tests.billing import factories as f
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

D = Decimal
DAY = dt.date


@pytest.fixture
def loaded():
    f.load_tariff()
    f.cashier(), f.supervisor()  # staff exist before a test counts what is written


@pytest.fixture
def small():
    """Most tests need one priced item, not the whole starter file (which is slower)."""
    f.schedule.department("MED")
    ecg = tariff.item_create(actor=None, code="PROC-ECG", name="ECG", kind="procedure", system=True)
    tariff.price_add(
        actor=None,
        item=ecg,
        rate_class="general",
        amount="50",
        effective_from=DAY(2026, 4, 1),
        system=True,
    )
    f.cashier(), f.supervisor()


def counts() -> tuple[int, int, int]:
    return TariffItem.objects.count(), TariffPrice.objects.count(), LedgerEntry.objects.count()


def periods(code: str, rate: str) -> list[tuple]:
    return list(
        TariffPrice.objects.filter(item__code=code, rate_class=rate)
        .order_by("effective_from")
        .values_list("amount", "effective_from", "effective_to")
    )


# -- the starter file ------------------------------------------------------------------


def test_the_starter_file_loads_every_item_and_price_once():
    for code in ("MRD", "LAB", "SURG", "CARD", "ORTH", "MED"):
        f.schedule.department(code)
    with tariff.STARTER.open("rb") as handle:
        data = tomllib.load(handle)
    prices = sum(len(i["prices"]) for i in data["item"]) + len(data["revision"])

    first = tariff.load()

    assert (first.items, first.prices) == (len(data["item"]), prices) == (40, 158)
    assert counts()[:2] == (40, 158)
    before = counts()
    again = tariff.load()
    assert (again.items, again.prices) == (0, 0)
    assert counts() == before  # not a single ledger entry either
    cert = TariffItem.objects.get(code="PROC-CERT")
    assert (cert.tax_rate, cert.sac_code, cert.department.code) == (D("18.00"), "998599", "MRD")
    pkg = TariffPrice.objects.get(item__code="PKG-DENGUE", rate_class="pmjay")
    assert (pkg.amount, pkg.scheme_share) == (D("12000.00"), D("100.00"))
    other = TariffPrice.objects.filter(rate_class="other")
    assert all(p.scheme_share == D(80) for p in other)
    assert set(
        TariffPrice.objects.filter(rate_class="general").values_list("scheme_share", flat=True)
    ) == {D(0)}


def test_the_starter_revisions_close_the_old_price_the_day_before(loaded):
    assert periods("LAB-CBC", "private") == [
        (D("250.00"), DAY(2026, 4, 1), DAY(2026, 9, 30)),
        (D("300.00"), DAY(2026, 10, 1), None),
    ]
    assert periods("BED-PVT", "general") == [
        (D("1500.00"), DAY(2026, 4, 1), DAY(2026, 9, 30)),
        (D("1800.00"), DAY(2026, 10, 1), None),
    ]
    cbc = TariffItem.objects.get(code="LAB-CBC")
    assert pricing.price_on(cbc, "private", DAY(2026, 9, 30)).amount == D("250.00")
    assert pricing.price_on(cbc, "private", DAY(2026, 10, 1)).amount == D("300.00")
    assert pricing.price_on(cbc, "private", DAY(2026, 3, 31)) is None  # before the tariff


# -- revisions by hand -----------------------------------------------------------------


def test_a_revision_closes_the_open_period_and_old_dates_keep_the_old_price(small):
    ecg = TariffItem.objects.get(code="PROC-ECG")
    new = tariff.price_add(
        actor=f.supervisor(),
        item=ecg,
        rate_class="general",
        amount="65.50",
        effective_from=DAY(2026, 11, 15),
    )
    assert periods("PROC-ECG", "general") == [
        (D("50.00"), DAY(2026, 4, 1), DAY(2026, 11, 14)),
        (D("65.50"), DAY(2026, 11, 15), None),
    ]
    assert (new.scheme_share, new.effective_to) == (D("0"), None)
    assert pricing.price_on(ecg, "general", DAY(2026, 11, 14)).amount == D("50.00")
    assert pricing.price_on(ecg, "general", DAY(2026, 11, 15)).amount == D("65.50")
    reasons = [
        e.reason
        for e in LedgerEntry.objects.filter(subject_type="billing.tariff_price").order_by("seq")
    ]
    assert reasons[-2:] == ["price revised", "tariff price"]  # closed, then the new one
    assert reasons.count("price revised") == 1


def test_a_price_change_never_rewrites_a_charge_or_a_bill(small, clock_at):
    clock_at(2026, 11, 20, 10, 0)
    clerk = f.cashier()
    account = services.account_for(patient=PatientFactory())
    billed = services.charge_post(actor=clerk, account=account, code="PROC-ECG")
    bill = services.bill_create(actor=clerk, account=account)
    running = services.charge_post(actor=clerk, account=account, code="PROC-ECG")
    clock_at(2026, 11, 25, 10, 0)

    tariff.price_add(
        actor=f.supervisor(),
        item=TariffItem.objects.get(code="PROC-ECG"),
        rate_class="general",
        amount="80",
        effective_from=DAY(2026, 11, 21),
    )

    for charge in (billed, running):
        charge.refresh_from_db()
        assert (charge.unit_price, charge.amount, charge.patient_amount) == (D("50.00"),) * 3
    bill.refresh_from_db()
    assert (bill.amount, bill.patient_amount) == (D("50.00"), D("50.00"))
    assert selectors.bill_patient_total(Bill.objects.get(pk=bill.pk)) == D("50.00")
    # A service given before the change is still charged at the old price; one given
    # after it at the new.
    late = services.charge_post(
        actor=clerk, account=account, code="PROC-ECG", service_date=DAY(2026, 11, 20)
    )
    today = services.charge_post(actor=clerk, account=account, code="PROC-ECG")
    assert (late.amount, today.amount) == (D("50.00"), D("80.00"))


@pytest.mark.parametrize(
    ("start", "end", "named"),
    [
        (DAY(2026, 5, 1), DAY(2026, 6, 30), "01-05-2026 to 30-06-2026"),  # inside the open one
        (DAY(2026, 3, 1), None, "01-03-2026 to open-ended"),  # starts before it
        (DAY(2026, 4, 1), None, "01-04-2026 to open-ended"),  # the same start
        (DAY(2026, 1, 1), DAY(2026, 4, 1), "01-01-2026 to 01-04-2026"),  # touches its first day
    ],
)
def test_an_overlapping_period_is_refused_naming_both_and_nothing_is_written(
    small, start, end, named
):
    ecg = TariffItem.objects.get(code="PROC-ECG")
    before = counts()
    with pytest.raises(Conflict) as refused:
        tariff.price_add(
            actor=f.supervisor(),
            item=ecg,
            rate_class="general",
            amount="70",
            effective_from=start,
            effective_to=end,
        )
    assert refused.value.message == (
        f"PROC-ECG general: {named} overlaps the price 50.00 from 01-04-2026 to open-ended."
    )
    assert counts() == before
    assert periods("PROC-ECG", "general") == [(D("50.00"), DAY(2026, 4, 1), None)]


def test_a_revision_between_two_periods_is_refused_and_the_closed_one_is_named(loaded):
    cbc = TariffItem.objects.get(code="LAB-CBC")
    before = counts()
    with pytest.raises(Conflict, match="from 01-04-2026 to 30-09-2026"):
        tariff.price_add(
            actor=f.supervisor(),
            item=cbc,
            rate_class="private",
            amount="275",
            effective_from=DAY(2026, 9, 1),
        )
    assert counts() == before


def test_a_closed_period_may_follow_another_without_touching_it(small):
    proc = tariff.item_create(actor=f.supervisor(), code="proc-x", name="X", kind="procedure")
    assert proc.code == "PROC-X"
    tariff.price_add(
        actor=f.supervisor(),
        item=proc,
        rate_class="general",
        amount="10",
        effective_from=DAY(2026, 4, 1),
        effective_to=DAY(2026, 4, 30),
    )
    tariff.price_add(
        actor=f.supervisor(),
        item=proc,
        rate_class="general",
        amount="12",
        effective_from=DAY(2026, 5, 1),
    )
    assert periods("PROC-X", "general") == [
        (D("10.00"), DAY(2026, 4, 1), DAY(2026, 4, 30)),
        (D("12.00"), DAY(2026, 5, 1), None),
    ]


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"amount": "-1"}, "amount", "cannot be negative"),
        ({"amount": "12.345"}, "amount", "two decimal places"),
        ({"amount": "ten"}, "amount", "not a number"),
        ({"rate_class": "vip"}, "rate_class", "'vip' is not a rate class"),
        ({"effective_to": DAY(2026, 3, 31)}, "effective_to", "ends before it starts"),
        ({"rate_class": "staff", "scheme_share": "50"}, "scheme_share", "Only a scheme's rate"),
        ({"rate_class": "cghs", "scheme_share": "101"}, "scheme_share", "from 0 to 100"),
        ({"rate_class": "cghs", "scheme_share": "NaN"}, "scheme_share", "from 0 to 100"),
    ],
)
def test_a_bad_price_is_named_and_nothing_written(small, kwargs, field, message):
    proc = TariffItem.objects.get(code="PROC-ECG")
    args = {"rate_class": "echs", "amount": "20", "effective_from": DAY(2026, 4, 1), **kwargs}
    before = counts()
    with pytest.raises(ValidationFailed) as refused:
        tariff.price_add(actor=f.supervisor(), item=proc, **args)
    assert message in " ".join(refused.value.errors[field])
    assert counts() == before


def test_only_the_tariff_manager_sets_prices(small):
    ecg = TariffItem.objects.get(code="PROC-ECG")
    before = counts()
    with pytest.raises(PermissionRefused):
        tariff.price_add(
            actor=f.cashier(),
            item=ecg,
            rate_class="general",
            amount="70",
            effective_from=DAY(2026, 12, 1),
        )
    with pytest.raises(PermissionRefused):
        tariff.item_create(actor=f.cashier(), code="NEW", name="New", kind="other")
    with pytest.raises(PermissionRefused):
        tariff.counter_create(actor=f.cashier(), code="OPD-9", name="Nine")
    assert counts() == before


# -- a hospital's own file -------------------------------------------------------------

GOOD_ITEM = """
[[item]]
code = "XRAY-CHEST"
name = "Chest X-ray"
kind = "procedure"
department = "MED"
prices = { general = "150.00", cghs = "120.00" }
"""


def write(tmp_path, text: str, name: str = "hospital.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused_load(path) -> list[str]:
    before = counts()
    with pytest.raises(ValidationFailed) as refused:
        tariff.load(path)
    assert counts() == before
    return [m for msgs in refused.value.errors.values() for m in msgs]


def test_a_hospitals_file_adds_its_items_and_revisions_once(small, tmp_path):
    path = write(
        tmp_path,
        'effective_from = "2026-07-01"\n'
        + GOOD_ITEM
        + """
[[revision]]
code = "PROC-ECG"
rate = "general"
amount = "60.00"
from = "2026-12-01"

[[revision]]
code = "XRAY-CHEST"
rate = "cghs"
amount = "130.00"
from = "2027-01-01"
share = 90
""",
    )
    done = tariff.load(path)
    assert (done.items, done.prices) == (1, 4)
    assert periods("XRAY-CHEST", "cghs") == [
        (D("120.00"), DAY(2026, 7, 1), DAY(2026, 12, 31)),
        (D("130.00"), DAY(2027, 1, 1), None),
    ]
    shares = TariffPrice.objects.filter(item__code="XRAY-CHEST", rate_class="cghs")
    assert [p.scheme_share for p in shares.order_by("effective_from")] == [D(100), D(90)]
    assert periods("PROC-ECG", "general")[-1] == (D("60.00"), DAY(2026, 12, 1), None)
    before = counts()
    assert tariff.load(path) == tariff.Loaded(0, 0)
    assert counts() == before


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (GOOD_ITEM.replace("cghs =", "vip ="), "item 1 (XRAY-CHEST): 'vip' is not a rate class"),
        (GOOD_ITEM.replace('"150.00"', '"-150"'), "XRAY-CHEST) general price cannot be negative"),
        (GOOD_ITEM.replace('"150.00"', '"1.505"'), "more than two decimal places"),
        (
            GOOD_ITEM.replace('"150.00"', '"free"'),
            "XRAY-CHEST) general price 'free' is not a number",
        ),
        (GOOD_ITEM + GOOD_ITEM, "item 2 (XRAY-CHEST): code XRAY-CHEST appears twice"),
        (GOOD_ITEM.replace('"MED"', '"RADIO"'), "no department with code 'RADIO'"),
        (GOOD_ITEM.replace("procedure", "scan"), "kind 'scan' is not one of"),
        (GOOD_ITEM.replace('name = "Chest X-ray"\n', ""), "item 1 (XRAY-CHEST): name is required"),
        (GOOD_ITEM.replace("prices", "price"), "unknown fields ['price']"),
        ("[[items]]\ncode = 'A'\n", "unknown keys ['items']"),
        ('effective_from = "1st April"\n' + GOOD_ITEM, "effective_from: '1st April' is not a date"),
        ("[schemes]\ncghs = 120\n" + GOOD_ITEM, "cghs share must be a percentage from 0 to 100"),
        ("[schemes]\nvip = 50\n", "'vip' is not a scheme rate class"),
        (
            '[[revision]]\ncode = "NOPE"\nrate = "general"\namount = "1"\nfrom = "2026-12-01"\n',
            "revision of unknown item 'NOPE'",
        ),
        (
            '[[revision]]\ncode = "PROC-ECG"\nrate = "vip"\namount = "1"\nfrom = "2026-12-01"\n',
            "revision 1 (PROC-ECG): 'vip' is not a rate class",
        ),
        (
            '[[revision]]\ncode = "PROC-ECG"\nrate = "general"\namount = "1"\nfrom = "soon"\n',
            "revision 1 (PROC-ECG) from: 'soon' is not a date",
        ),
    ],
    ids=[
        "rate-class",
        "negative",
        "paise",
        "not-number",
        "duplicate",
        "department",
        "kind",
        "required",
        "field",
        "table-key",
        "date",
        "share",
        "scheme",
        "unknown-item",
        "revision-rate",
        "revision-date",
    ],
)
def test_a_bad_file_is_refused_naming_each_problem_and_nothing_is_written(
    small, tmp_path, text, problem
):
    # A good item in the same file is not written either: the file is checked first.
    path = write(
        tmp_path, text if "XRAY" in text else text + GOOD_ITEM.replace("XRAY-CHEST", "OK-1")
    )
    problems = refused_load(path)
    assert any(problem in p for p in problems), problems
    assert not TariffItem.objects.filter(code__in=["XRAY-CHEST", "OK-1"]).exists()


def test_every_problem_of_a_file_is_named_at_once(small, tmp_path):
    text = GOOD_ITEM.replace("cghs =", "vip =").replace('"MED"', '"RADIO"') + "[x]\n"
    problems = refused_load(write(tmp_path, text))
    assert len(problems) == 3, problems


def test_a_file_that_is_not_toml_is_named(small, tmp_path):
    problems = refused_load(write(tmp_path, "[[item]\ncode = ", "broken.toml"))
    assert len(problems) == 1
    assert problems[0].startswith("broken.toml is not valid TOML")


def test_a_missing_file_is_named(small, tmp_path):
    assert refused_load(tmp_path / "nowhere.toml") == [
        f"No tariff file at {tmp_path / 'nowhere.toml'}."
    ]


def test_an_overlapping_revision_in_a_file_writes_nothing_at_all(small, tmp_path):
    """The file passes its checks, but its second revision overlaps the first: the new
    item and the first revision, already written in the load's transaction, go too."""
    path = write(
        tmp_path,
        GOOD_ITEM
        + """
[[revision]]
code = "PROC-ECG"
rate = "general"
amount = "60.00"
from = "2026-12-01"

[[revision]]
code = "PROC-ECG"
rate = "general"
amount = "55.00"
from = "2026-11-01"
""",
    )
    before = counts()
    with pytest.raises(Conflict, match="PROC-ECG general: 01-11-2026 to open-ended overlaps"):
        tariff.load(path)
    assert counts() == before
    assert periods("PROC-ECG", "general") == [(D("50.00"), DAY(2026, 4, 1), None)]


def test_a_file_with_lower_case_codes_loads_twice_without_complaint(small, tmp_path):
    path = write(
        tmp_path,
        GOOD_ITEM.replace("XRAY-CHEST", "xray-chest")
        + '[[revision]]\ncode = "xray-chest"\nrate = "general"\namount = "160"\n'
        + 'from = "2026-12-01"\n',
    )
    tariff.load(path)
    before = counts()
    tariff.load(path)
    assert counts() == before


def test_charges_are_untouched_by_a_refused_file(small, tmp_path, clock_at):
    clock_at(2026, 11, 20, 10, 0)
    account = services.account_for(patient=PatientFactory())
    services.charge_post(actor=f.cashier(), account=account, code="PROC-ECG")
    charges = list(Charge.objects.values_list("pk", "amount", "seal"))
    refused_load(write(tmp_path, GOOD_ITEM + GOOD_ITEM))
    assert list(Charge.objects.values_list("pk", "amount", "seal")) == charges
