"""Money: rupees as `Decimal`, exact to the paisa, and every rounding rule in one place.

The rules (docs/billing.md):
- An amount is held to two places (paise); input with more places is refused, not rounded.
- A line's amount is quantity x unit price, rounded once to the paisa (half up, as
  Indian bills print); its tax is amount x rate, rounded once; a share of a line (what
  a scheme pays) is rounded once and the rest is the other party's, so the shares add up
  to the line exactly.
- A bill's totals are sums of its lines' rounded amounts, never re-rounded: the total of
  any bill equals the sum of its lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

PAISA = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
MAX_AMOUNT = Decimal("99999999.99")  # fits the Decimal(12, 2) columns money is kept in


class MoneyError(ValueError):
    """Input that is not an amount of money; the message names the problem."""


def round_paise(value: Decimal) -> Decimal:
    """The one rounding: to the paisa, half up."""
    return Decimal(value).quantize(PAISA, rounding=ROUND_HALF_UP)


def parse(text: str | Decimal | int, *, allow_zero: bool = False, what: str = "Amount") -> Decimal:
    """An amount typed by a person (or passed by a service): at most two decimal places,
    not negative, not above MAX_AMOUNT. Commas between digit groups are accepted."""
    if isinstance(text, float):
        raise MoneyError(f"{what} must be given as a decimal, not a float.")
    raw = str(text).strip().replace(",", "").removeprefix("₹").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise MoneyError(f"{what} '{text}' is not a number.") from None
    if not value.is_finite():
        raise MoneyError(f"{what} '{text}' is not a number.")
    # Size first: quantizing an absurd number (1E+100) would overflow the context.
    if value < 0:
        raise MoneyError(f"{what} cannot be negative ({raw}).")
    if value > MAX_AMOUNT:
        raise MoneyError(f"{what} {raw} is more than the largest amount, {MAX_AMOUNT}.")
    if value != value.quantize(PAISA, rounding=ROUND_HALF_UP):
        raise MoneyError(f"{what} {raw} has more than two decimal places (paise).")
    if value == 0 and not allow_zero:
        raise MoneyError(f"{what} must be more than zero.")
    return value.quantize(PAISA) + 0  # + 0: "-0" is 0.00


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    return round_paise(Decimal(quantity) * Decimal(unit_price))


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    """`percent` of `amount`, rounded once (tax, a scheme's share)."""
    return round_paise(Decimal(amount) * Decimal(percent) / HUNDRED)


def split(total: Decimal, percent: Decimal) -> tuple[Decimal, Decimal]:
    """(`percent` share, the rest): the two always add up to `total` exactly."""
    share = percent_of(total, percent)
    return share, total - share


def allocate(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`amount` split in proportion to `weights` (none negative, their sum above zero):
    each part is rounded once, down to the paisa, and the paise left over go one each to
    the parts with the largest remainders (ties: the earlier part), so the parts add up
    to `amount` exactly (the largest-remainder method)."""
    whole = sum(weights, ZERO)
    if whole <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be zero or more with a sum above zero")
    sign = -1 if amount < 0 else 1
    paise = int(abs(amount) / PAISA)
    exact = [Decimal(paise) * w / whole for w in weights]
    parts = [int(x) for x in exact]  # truncation: every x is zero or more
    order = sorted(range(len(weights)), key=lambda i: (parts[i] - exact[i], i))
    for i in order[: paise - sum(parts)]:
        parts[i] += 1
    return [sign * Decimal(p) * PAISA for p in parts]


def total(amounts: Iterable[Decimal]) -> Decimal:
    """Sum of amounts that are already rounded; no further rounding."""
    return sum((Decimal(a) for a in amounts), ZERO)


def inr(value: Decimal | None) -> str:
    """₹1,23,456.78: the Indian grouping (lakh, crore), minus sign before the symbol."""
    if value is None:
        return ""
    amount = round_paise(Decimal(value))
    sign = "-" if amount < 0 else ""
    rupees, paise = f"{abs(amount):.2f}".split(".")
    if len(rupees) > 3:
        head, tail = rupees[:-3], rupees[-3:]
        groups = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        if head:
            groups.insert(0, head)
        rupees = ",".join([*groups, tail])
    return f"{sign}₹{rupees}.{paise}"
