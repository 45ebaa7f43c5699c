"""core.money's rules as properties, without a database: what an amount is, how a line is
rounded and split, that a bill's total is the sum of its lines, and the Indian grouping."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ajeya.billing import pricing
from ajeya.core import money

D = Decimal
PAISA = D("0.01")
MANY = settings(max_examples=200, deadline=None)

paise = st.integers(min_value=1, max_value=int(money.MAX_AMOUNT * 100))
amounts = paise.map(lambda p: D(p) / 100)
unit_prices = st.integers(min_value=0, max_value=5_000_000).map(lambda p: D(p) / 100)
quantities = st.integers(min_value=1, max_value=99_900).map(lambda q: D(q) / 100)
tax_rates = st.sampled_from([D(0), D(5), D(12), D(18)])
shares = st.one_of(
    st.integers(min_value=0, max_value=100).map(D),
    st.integers(min_value=0, max_value=10_000).map(lambda s: D(s) / 100),
)


def places(value: Decimal) -> int:
    return -value.as_tuple().exponent


# -- parse -----------------------------------------------------------------------------


@MANY
@given(amounts)
def test_an_amount_with_at_most_two_places_is_accepted_as_typed(value):
    for text in (str(value), f"{value:.2f}", f" {value} ", money.inr(value)):
        parsed = money.parse(text)
        assert parsed == value
        assert places(parsed) == 2


@MANY
@given(amounts)
def test_a_decimal_or_whole_number_is_accepted_too(value):
    assert money.parse(value) == value
    assert money.parse(int(value) or 1) == D(int(value) or 1)


def test_zero_only_when_allowed():
    with pytest.raises(money.MoneyError, match="must be more than zero"):
        money.parse("0")
    assert money.parse("0", allow_zero=True) == D("0.00")
    assert money.parse("0.00", allow_zero=True) == D("0.00")


below_max = st.integers(min_value=1, max_value=int(money.MAX_AMOUNT * 100) - 1).map(
    lambda p: D(p) / 100
)


@MANY
@given(below_max, st.integers(min_value=1, max_value=9), st.text(alphabet="0123456789", max_size=4))
def test_more_than_two_places_is_refused_not_rounded(value, third, more):
    text = f"{value:.2f}{third}{more}"
    with pytest.raises(money.MoneyError, match="more than two decimal places"):
        money.parse(text)


@MANY
@given(amounts)
def test_a_negative_amount_is_refused_by_name(value):
    with pytest.raises(money.MoneyError, match=r"cannot be negative \(-"):
        money.parse(f"-{value}", allow_zero=True)


def _decimal_or_none(text: str) -> Decimal | None:
    try:
        value = D(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


@MANY
@given(st.text(max_size=12))
def test_text_that_is_not_a_number_is_refused_by_name(text):
    if _decimal_or_none(text.strip().replace(",", "").removeprefix("₹").strip()) is not None:
        return  # a number after all; other tests cover numbers
    with pytest.raises(money.MoneyError, match="is not a number"):
        money.parse(text, what="Deposit")


@pytest.mark.parametrize(
    "text",
    ["NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "₹inf", "", "₹", "1,0.0.0"],
)
def test_nan_infinity_and_empty_are_not_numbers(text):
    with pytest.raises(money.MoneyError, match="is not a number"):
        money.parse(text)


@MANY
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_is_refused_whatever_its_value(number):
    with pytest.raises(money.MoneyError, match="not a float"):
        money.parse(number)


@MANY
@given(st.integers(min_value=int(money.MAX_AMOUNT * 100) + 1, max_value=10**20))
def test_more_than_the_largest_amount_is_refused_by_name(too_many_paise):
    text = str(D(too_many_paise) / 100)
    with pytest.raises(money.MoneyError, match="more than the largest amount"):
        money.parse(text)


@pytest.mark.parametrize("text", ["1E+100", "9" * 29, "-1E+50"])
def test_an_absurdly_large_amount_is_refused_with_a_message_not_a_traceback(text):
    with pytest.raises(money.MoneyError, match=r"largest amount|negative"):
        money.parse(text)


def test_the_message_names_what_was_given():
    with pytest.raises(money.MoneyError, match=r"^Refund 'ten' is not a number\.$"):
        money.parse("ten", what="Refund")


# -- rounding and splitting ------------------------------------------------------------


@MANY
@given(amounts, shares)
def test_a_split_always_adds_up_to_the_total(total, percent):
    share, rest = money.split(total, percent)
    assert share + rest == total
    assert places(share) == 2
    assert D(0) <= share <= total
    assert share == (total * percent / 100).quantize(PAISA, rounding=ROUND_HALF_UP)


@MANY
@given(amounts)
def test_a_whole_share_or_none(total):
    assert money.split(total, D(100)) == (total, D("0.00"))
    assert money.split(total, D(0)) == (D("0.00"), total)


def test_half_a_paisa_rounds_up():
    assert money.round_paise(D("0.005")) == D("0.01")
    assert money.round_paise(D("0.004999")) == D("0.00")
    assert money.round_paise(D("-0.005")) == D("-0.01")  # half away from zero: a reversal mirrors
    assert money.percent_of(D("33.33"), D(18)) == D("6.00")  # 5.9994
    assert money.line_amount(D("0.33"), D("10.05")) == D("3.32")  # 3.3165


line = st.tuples(quantities, unit_prices, tax_rates, shares)


@MANY
@given(line)
def test_a_line_is_paid_in_full_by_the_scheme_and_the_patient(spec):
    quantity, unit, rate, share = spec
    a = pricing.amounts(unit_price=unit, quantity=quantity, tax_rate=rate, scheme_share=share)
    assert a.amount + a.tax == a.scheme_amount + a.patient_amount
    assert a.amount == (quantity * unit).quantize(PAISA, rounding=ROUND_HALF_UP)
    assert a.tax == (a.amount * rate / 100).quantize(PAISA, rounding=ROUND_HALF_UP)
    for part in (a.amount, a.tax, a.scheme_amount, a.patient_amount):
        assert places(part) == 2
        assert part >= 0
    reversed_ = pricing.negated(a)
    assert a.amount + reversed_.amount == 0
    assert a.patient_amount + reversed_.patient_amount == 0


@MANY
@given(st.lists(line, min_size=1, max_size=30))
def test_a_bill_is_the_sum_of_its_rounded_lines_never_rounded_again(specs):
    lines = [
        pricing.amounts(unit_price=u, quantity=q, tax_rate=r, scheme_share=s)
        for q, u, r, s in specs
    ]
    # The totals as services.bill_create makes them.
    amount = money.total(c.amount for c in lines)
    tax = money.total(c.tax for c in lines)
    scheme = money.total(c.scheme_amount for c in lines)
    patient = money.total(c.patient_amount for c in lines)
    assert amount + tax == scheme + patient
    assert amount == sum((c.amount for c in lines), D(0))
    assert patient == sum((c.patient_amount for c in lines), D(0))
    for total in (amount, tax, scheme, patient):
        assert places(total) == 2  # the sum of paise is paise: nothing to round
    # Reversing every line brings the bill to exactly nothing.
    back = [pricing.negated(c) for c in lines]
    assert money.total(c.patient_amount for c in lines + back) == 0


weights = st.lists(
    st.integers(min_value=0, max_value=10_000_000).map(lambda w: D(w) / 100),
    min_size=1,
    max_size=20,
).filter(lambda ws: sum(ws) > 0)


@MANY
@given(st.integers(min_value=-(10**10), max_value=10**10).map(lambda p: D(p) / 100), weights)
def test_an_allocation_adds_up_and_each_part_is_within_a_paisa(amount, ws):
    parts = money.allocate(amount, ws)
    assert len(parts) == len(ws)
    assert sum(parts, D(0)) == amount
    whole = sum(ws, D(0))
    for part, w in zip(parts, ws, strict=True):
        assert places(part) == 2 or part == 0
        assert abs(part - amount * w / whole) < PAISA
        if w == 0:
            assert part == 0
        assert (part <= 0) if amount < 0 else (part >= 0)


def test_an_allocation_needs_weights():
    for bad in ([], [D(0)], [D(1), D(-1)]):
        with pytest.raises(ValueError, match="weights"):
            money.allocate(D("10.00"), bad)
    assert money.allocate(D("10.00"), [D(1)] * 3) == [D("3.34"), D("3.33"), D("3.33")]


def test_the_total_of_nothing_is_zero_rupees():
    assert money.total([]) == D("0.00")
    assert places(money.total([])) == 2


# -- showing money ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (D("12345678.90"), "₹1,23,45,678.90"),
        (D("99999999.99"), "₹9,99,99,999.99"),
        (D("100000"), "₹1,00,000.00"),
        (D("10000"), "₹10,000.00"),
        (D("1000"), "₹1,000.00"),
        (D("999.5"), "₹999.50"),
        (D("0"), "₹0.00"),
        (D("-0.00"), "₹0.00"),
        (D("0.05"), "₹0.05"),
        (D("-1234.5"), "-₹1,234.50"),
        (D("-12345678.9"), "-₹1,23,45,678.90"),
        (D("1234567890"), "₹1,23,45,67,890.00"),
        (D("10.005"), "₹10.01"),
    ],
)
def test_indian_grouping(value, shown):
    assert money.inr(value) == shown


def test_nothing_shows_as_nothing():
    assert money.inr(None) == ""


INDIAN = re.compile(r"^-?₹(\d{1,2}(,\d\d)*,\d{3}|\d{1,3})\.\d\d$")


@MANY
@given(st.integers(min_value=-(10**12), max_value=10**12).map(lambda p: D(p) / 100))
def test_grouping_is_lakhs_and_crores_and_reads_back(value):
    shown = money.inr(value)
    assert INDIAN.match(shown), shown
    assert shown.startswith("-") == (value < 0)
    assert D(shown.replace("₹", "").replace(",", "")) == value
    if 0 < value <= money.MAX_AMOUNT:
        assert money.parse(shown) == value
