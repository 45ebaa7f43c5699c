"""Which rate a patient pays, the tariff's documented fallbacks, a charge that arrived
before its price (unpriced, re-priced, and no bill until then), and tax on a line."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ajeya.billing import capture, pricing, selectors, services, tariff
from ajeya.billing.models import Charge, RateClass
from ajeya.core.errors import Conflict, ValidationFailed
from ajeya.ledger.models import LedgerEntry
from ajeya.patients.models import Patient
from tests.billing import factories as f
from tests.ipd.factories import assert_sealed, entries
from tests.patients.factories import PatientFactory

D = Decimal
DAY = dt.date(2026, 11, 30)


# -- the rate class: no database needed ------------------------------------------------


@pytest.mark.parametrize(
    ("category", "scheme", "bed", "rate"),
    [
        ("general", "", None, RateClass.GENERAL),
        ("general", "", "general", RateClass.GENERAL),
        ("general", "", "icu", RateClass.GENERAL),
        ("general", "", "hdu", RateClass.GENERAL),
        ("general", "", "private", RateClass.PRIVATE),
        ("general", "", "semi_private", RateClass.PRIVATE),
        ("bpl", "", None, RateClass.BPL),
        ("bpl", "", "private", RateClass.BPL),
        ("staff", "", None, RateClass.STAFF),
        ("staff", "", "private", RateClass.STAFF),
        ("scheme", "cghs", None, RateClass.CGHS),
        ("scheme", "pmjay", "private", RateClass.PMJAY),
        ("scheme", "esi", None, RateClass.ESI),
        ("scheme", "echs", None, RateClass.ECHS),
        ("scheme", "state", None, RateClass.STATE),
        ("scheme", "other", "semi_private", RateClass.OTHER),
        ("scheme", "", None, RateClass.GENERAL),  # a scheme patient with no scheme named
    ],
)
def test_the_rate_class_of_each_patient(category, scheme, bed, rate):
    patient = Patient(category=category, scheme=scheme)
    assert pricing.rate_class_for(patient, bed_category=bed) == rate


# -- prices and their fallbacks --------------------------------------------------------


@pytest.fixture
def item(db):
    """A procedure priced for general, private, BPL and CGHS (60 % to the scheme)."""
    made = tariff.item_create(
        actor=None, code="PROC-T", name="Test procedure", kind="procedure", system=True
    )
    for rate, amount, share in [
        ("general", "100", None),
        ("private", "400", None),
        ("bpl", "5", None),
        ("cghs", "150", "60"),
    ]:
        tariff.price_add(
            actor=None,
            item=made,
            rate_class=rate,
            amount=amount,
            effective_from=dt.date(2026, 4, 1),
            scheme_share=share,
            system=True,
        )
    return made


@pytest.fixture
def bare(db):
    """An item with no price at all."""
    return tariff.item_create(
        actor=None, code="PROC-NONE", name="Unpriced", kind="procedure", system=True
    )


@pytest.mark.parametrize(
    ("rate", "price"),
    [
        ("general", pricing.Price(D("100.00"), D("0"), "general")),
        ("private", pricing.Price(D("400.00"), D("0"), "private")),
        ("bpl", pricing.Price(D("5.00"), D("0"), "bpl")),
        ("cghs", pricing.Price(D("150.00"), D("60.00"), "cghs")),
        ("staff", pricing.Price(D("100.00"), D("0"), "general")),  # no staff price: general
        ("pmjay", pricing.Price(D("100.00"), D("0"), "general")),  # scheme does not cover it
        ("other", pricing.Price(D("100.00"), D("0"), "general")),
    ],
)
def test_a_price_or_its_fallback(item, rate, price):
    assert pricing.price_on(item, rate, DAY) == price


@pytest.mark.parametrize(
    ("rate", "price"),
    [
        ("general", None),
        ("private", None),
        ("staff", None),
        ("cghs", None),
        ("bpl", pricing.Price(D("0.00"), D("0.00"), "bpl")),  # BPL without a price: free
    ],
)
def test_an_item_without_any_price(bare, rate, price):
    assert pricing.price_on(bare, rate, DAY) == price


def test_before_the_tariff_starts_there_is_no_price(item):
    assert pricing.price_on(item, "general", dt.date(2026, 3, 31)) is None
    assert pricing.price_on(item, "cghs", dt.date(2026, 3, 31)) is None
    assert pricing.price_on(item, "bpl", dt.date(2026, 3, 31)).amount == D("0.00")


def test_a_scheme_pays_its_share_and_the_patient_the_rest(item, clock_at):
    clock_at(2026, 11, 30, 10, 0)
    cghs = PatientFactory(category="scheme", scheme="cghs", scheme_beneficiary_id="CG77")
    account = services.account_for(patient=cghs)
    charge = services.charge_post(actor=f.cashier(), account=account, code="proc-t", quantity="3")
    assert (charge.rate_class, charge.unit_price, charge.amount) == ("cghs", D("150"), D("450"))
    assert (charge.scheme_amount, charge.patient_amount) == (D("270.00"), D("180.00"))


# -- a charge the tariff could not price -----------------------------------------------


@pytest.fixture
def unpriced_reg(db, clock_at):
    """A new patient whose registration fee was captured before REG had a price."""
    clock_at(2026, 11, 30, 10, 0)
    f.schedule.department("MRD")
    tariff.item_create(
        actor=None, code="REG", name="Registration", kind="registration", system=True
    )
    patient = PatientFactory()
    result = capture.capture(patient=patient)
    assert (result.posted, result.unpriced) == (1, ["REG"])
    return Charge.objects.get(account__patient=patient)


def test_an_unpriced_charge_is_kept_at_nothing_and_blocks_the_bill(unpriced_reg):
    charge = unpriced_reg
    assert (charge.priced, charge.amount, charge.patient_amount) == (False, D("0"), D("0"))
    clerk = f.cashier()
    before = LedgerEntry.objects.count()
    with pytest.raises(Conflict, match=r"1 charge\(s\) have no tariff price \(REG\)"):
        services.bill_create(actor=clerk, account=charge.account)
    assert LedgerEntry.objects.count() == before
    with pytest.raises(ValidationFailed, match="still has no price for REG on 30-11-2026"):
        services.charge_reprice(actor=clerk, charge=charge)
    assert LedgerEntry.objects.count() == before


def test_an_unpriced_charge_is_repriced_once_the_price_is_added(unpriced_reg):
    charge, clerk = unpriced_reg, f.cashier()
    tariff.price_add(
        actor=f.supervisor(),
        item=charge.item,
        rate_class="general",
        amount="10",
        effective_from=dt.date(2026, 4, 1),
    )

    priced = services.charge_reprice(actor=clerk, charge=charge)

    assert (priced.priced, priced.amount, priced.patient_amount) == (True, D("10.00"), D("10.00"))
    assert_sealed(priced)
    assert entries(priced)[-1].reason == "priced from the tariff"
    assert entries(priced)[-1].before["priced"] is False
    with pytest.raises(Conflict, match="priced already"):
        services.charge_reprice(actor=clerk, charge=priced)
    bill = services.bill_create(actor=clerk, account=priced.account)
    assert (bill.amount, bill.patient_amount) == (D("10.00"), D("10.00"))
    assert selectors.balance(priced.account).patient_due == D("10.00")


def test_a_charge_for_a_code_the_tariff_does_not_have_is_repriced_when_it_arrives(db, clock_at):
    clock_at(2026, 11, 30, 10, 0)
    patient = PatientFactory()
    capture.capture(patient=patient)
    charge = Charge.objects.get(account__patient=patient)
    assert (charge.item, charge.code, charge.priced) == (None, "REG", False)
    f.load_tariff()
    priced = services.charge_reprice(actor=f.cashier(), charge=charge)
    assert (priced.item.code, priced.amount, priced.priced) == ("REG", D("10.00"), True)


def test_a_repriced_charge_books_its_revenue_to_the_items_department(db, clock_at):
    clock_at(2026, 11, 30, 10, 0)
    patient = PatientFactory()
    capture.capture(patient=patient)
    f.load_tariff()
    charge = services.charge_reprice(
        actor=f.cashier(), charge=Charge.objects.get(account__patient=patient)
    )
    assert charge.department.code == "MRD"


def test_a_price_a_hand_posted_charge_lacks_is_refused_outright(bare, clock_at):
    clock_at(2026, 11, 30, 10, 0)
    account = services.account_for(patient=PatientFactory())
    with pytest.raises(ValidationFailed, match="no price for PROC-NONE on 30-11-2026"):
        services.charge_post(actor=f.cashier(), account=account, code="PROC-NONE")
    assert not Charge.objects.exists()


def test_a_bpl_patient_pays_nothing_for_an_item_without_a_bpl_price(bare, clock_at):
    clock_at(2026, 11, 30, 10, 0)
    account = services.account_for(patient=PatientFactory(category="bpl"))
    charge = services.charge_post(actor=f.cashier(), account=account, code="PROC-NONE")
    assert (charge.priced, charge.rate_class, charge.patient_amount) == (True, "bpl", D("0.00"))


# -- tax --------------------------------------------------------------------------------


@pytest.fixture
def tariff_loaded(db, clock_at):
    clock_at(2026, 11, 30, 10, 0)
    f.load_tariff()


@pytest.mark.parametrize(
    ("quantity", "amount", "tax"),
    [("1", "100.00", "18.00"), ("3", "300.00", "54.00"), ("0.5", "50.00", "9.00")],
)
def test_a_medical_certificate_carries_gst(tariff_loaded, quantity, amount, tax):
    account = services.account_for(patient=PatientFactory())
    charge = services.charge_post(
        actor=f.cashier(), account=account, code="PROC-CERT", quantity=quantity
    )
    assert (charge.tax_rate, charge.amount, charge.tax) == (D("18.00"), D(amount), D(tax))
    assert charge.patient_amount == D(amount) + D(tax)
    bill = services.bill_create(actor=f.cashier(), account=account)
    assert (bill.amount, bill.tax, bill.patient_amount) == (D(amount), D(tax), D(amount) + D(tax))


def test_a_scheme_that_does_not_price_a_taxed_item_leaves_it_all_to_the_patient(tariff_loaded):
    cghs = PatientFactory(category="scheme", scheme="cghs", scheme_beneficiary_id="CG1")
    account = services.account_for(patient=cghs)
    charge = services.charge_post(actor=f.cashier(), account=account, code="PROC-CERT")
    assert (charge.rate_class, charge.scheme_amount, charge.patient_amount) == (
        "general",
        D("0.00"),
        D("118.00"),
    )


def test_tax_is_rounded_once_per_line(db, clock_at):
    clock_at(2026, 11, 30, 10, 0)
    odd = tariff.item_create(
        actor=None, code="OTH-ODD", name="Odd", kind="other", tax_rate="18", system=True
    )
    tariff.price_add(
        actor=None,
        item=odd,
        rate_class="general",
        amount="33.33",
        effective_from=dt.date(2026, 4, 1),
        system=True,
    )
    account = services.account_for(patient=PatientFactory())
    clerk = f.cashier()
    lines = [services.charge_post(actor=clerk, account=account, code="OTH-ODD") for _ in range(3)]
    assert [c.tax for c in lines] == [D("6.00")] * 3  # 5.9994 each
    bill = services.bill_create(actor=clerk, account=account)
    assert (bill.amount, bill.tax, bill.patient_amount) == (D("99.99"), D("18.00"), D("117.99"))
