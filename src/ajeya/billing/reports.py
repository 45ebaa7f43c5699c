"""Collection reports for the back office — money received and paid back in a period per
counter, cashier, mode and department, and the department-wise revenue billed — with
their CSV and XLSX exports; and the few other reads the back-office pages need.

The report is made of a handful of queries whatever the number of payments: sums are
grouped in SQL, and the department split reads each bill's department shares once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet, Sum

from ajeya.billing.models import (
    ApprovalStatus,
    Bill,
    Charge,
    Counter,
    DayClose,
    Discount,
    Payment,
    PaymentKind,
    PaymentMode,
    TariffItem,
    TariffPrice,
)
from ajeya.core import money, tables
from ajeya.core.errors import NotFound, ValidationFailed
from ajeya.core.models import Department
from ajeya.core.periods import Period
from ajeya.core.tables import Table, safe_text

ZERO = money.ZERO
MAX_DAYS = 92
NO_BILL = "Advance deposits / not yet billed"
NO_DEPARTMENT = "No department"
ALL_COUNTERS = "All counters"


# -- the period --------------------------------------------------------------------------


def _counter(code: str | None) -> Counter | None:
    if not code:
        return None
    found = Counter.objects.filter(code=code.strip().upper()).first()
    if found is None:
        raise ValidationFailed({"counter": [f"There is no cash counter {code.strip()!r}."]})
    return found


# -- splitting a payment across departments ---------------------------------------------


# -- the report --------------------------------------------------------------------------


@dataclass
class Row:
    """One group's money: receipts in (payments and deposits), refunds out (negative)
    and scheme settlements, which are not money in a drawer and are kept apart."""

    key: str
    label: str
    receipts: int = 0
    collected: Decimal = ZERO
    refund_count: int = 0
    refunds: Decimal = ZERO  # negative: money paid back
    settlement_count: int = 0
    settlements: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        """Money kept: collected less refunded (scheme settlements apart)."""
        return self.collected + self.refunds

    def add(self, kind: str, amount: Decimal, count: int = 1) -> None:
        if kind == PaymentKind.REFUND:
            self.refund_count += count
            self.refunds -= amount
        elif kind == PaymentKind.SETTLEMENT:
            self.settlement_count += count
            self.settlements += amount
        else:
            self.receipts += count
            self.collected += amount


@dataclass
class Billed:
    """Revenue billed for one department: charges before tax, tax, and who pays it.
    gross + tax == scheme + patient."""

    key: str
    label: str
    gross: Decimal = ZERO
    tax: Decimal = ZERO
    scheme: Decimal = ZERO
    patient: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.gross + self.tax


@dataclass
class Collections:
    start: dt.date
    end: dt.date
    counter: Counter | None
    by_counter: list[Row]
    by_cashier: list[Row]
    by_mode: list[Row]
    by_department: list[Row]
    total: Row
    billed: list[Billed]
    billed_total: Billed
    bills: int = 0
    bills_cancelled: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def counter_label(self) -> str:
        return str(self.counter) if self.counter else ALL_COUNTERS


def _rows(groups: dict[str, Row], *, last: Iterable[str] = ()) -> list[Row]:
    tail = [groups[k] for k in last if k in groups]
    return sorted((r for k, r in groups.items() if k not in last), key=lambda r: r.label) + tail


Shares = tuple[tuple[str, ...], tuple[Decimal, ...], tuple[Decimal, ...], tuple[Decimal, ...]]


def _bill_shares(done: QuerySet[Payment]) -> dict[int, Shares]:
    """For each bill paid in the period: its departments (keys) with their patient,
    scheme and total shares, from the bill as it was made — its lines, not reversals
    that joined it later, so a past day's report does not change when a line is
    reversed today. No join and no order: this is the query that grows with the day."""
    lines: dict[int, list[tuple]] = defaultdict(list)
    for bill_id, dept_id, patient, scheme, total in (
        Charge.objects.filter(
            bill_id__in=done.filter(bill__isnull=False).values("bill_id").order_by(),
            reverses__isnull=True,
        )
        .values("bill_id", "department_id")
        .annotate(
            patient=Sum("patient_amount"), scheme=Sum("scheme_amount"),
            total=Sum(F("amount") + F("tax")),
        )
        .order_by()
        .values_list("bill_id", "department_id", "patient", "scheme", "total")
    ):  # fmt: skip
        lines[bill_id].append((str(dept_id) if dept_id else "-", patient, scheme, total))
    return {
        bill_id: tuple(zip(*sorted(parts, key=lambda p: (p[0] == "-", p[0])), strict=True))
        for bill_id, parts in lines.items()
    }


def _paid_in_full() -> Q:
    """Payments of their bill's whole patient share, on bills that have no reversal
    lines (so the bill's stored share is the sum of its lines as made)."""
    reversed_bills = (
        Charge.objects.filter(reverses__isnull=False, bill__isnull=False)
        .values("bill_id")
        .order_by()
    )
    return (
        Q(kind=PaymentKind.PAYMENT, bill__isnull=False)
        & Q(amount=F("bill__patient_amount"))
        & ~Q(bill_id__in=reversed_bills)
    )


def _department_rows(done: QuerySet[Payment]) -> list[Row]:
    """Money per department: a payment against a bill is split across the bill's
    departments in proportion to each one's patient share on the bill as it was made (a
    scheme settlement by the scheme's share); money not against a bill is its own row."""
    rows: dict[str, Row] = {}
    unbilled = Row("", NO_BILL)
    for kind, n, amount in (
        done.filter(bill__isnull=True)
        .values("kind")
        .annotate(n=Count("id"), total=Sum("amount"))
        .order_by()
        .values_list("kind", "n", "total")
    ):
        unbilled.add(kind, amount, n)
    sums: dict[tuple[str, str], list] = defaultdict(lambda: [0, ZERO])  # count, amount
    # Most payments pay their bill's whole patient share at once: their split is the
    # lines' shares exactly, with nothing to round, so SQL sums them by department.
    full = _paid_in_full()
    for dept_id, n, amount in (
        done.filter(full)
        .values("bill__lines__department_id")
        .annotate(
            n=Count("id", distinct=True, filter=Q(bill__lines__patient_amount__gt=0)),
            total=Sum("bill__lines__patient_amount"),
        )
        .order_by()
        .values_list("bill__lines__department_id", "n", "total")
    ):
        if n:
            found = sums[str(dept_id) if dept_id else "-", PaymentKind.PAYMENT]
            found[0] += n
            found[1] += amount
    rest = done.exclude(full)
    # Payments of the same amount on the same bill split the same way: one row each.
    on_bills = list(
        rest.filter(bill__isnull=False)
        .values_list("bill_id", "kind", "amount")
        .annotate(n=Count("id"))
        .order_by()
    )
    bills = _bill_shares(rest) if on_bills else {}
    splits: dict[tuple, list[Decimal]] = {}  # bills made alike split a fee alike
    for bill_id, kind, amount, n in on_bills:
        keys, patient, scheme, total = bills.get(bill_id, ((), (), (), ()))
        weights = scheme if kind == PaymentKind.SETTLEMENT else patient
        if sum(weights, ZERO) <= 0:  # nothing on the bill for this payer: by its total
            weights = total
        if not keys or sum(weights, ZERO) <= 0:
            unbilled.add(kind, amount * n, n)
            continue
        shape = (amount, *weights)
        if shape not in splits:
            splits[shape] = money.allocate(amount, list(weights))
        for key, part in zip(keys, splits[shape], strict=True):
            if part:
                found = sums[key, kind]
                found[0] += n
                found[1] += part * n
    names = dict(Department.objects.values_list("id", "name")) if sums else {}
    for (key, kind), (n, amount) in sums.items():
        label = names.get(int(key), key) if key != "-" else NO_DEPARTMENT
        rows.setdefault(key, Row(key, label)).add(kind, amount, n)
    if unbilled.receipts or unbilled.refund_count or unbilled.settlement_count:
        rows[""] = unbilled
    return _rows(rows, last=("-", ""))


def billed(
    start: dt.datetime, end: dt.datetime, department: Department | None = None
) -> tuple[list[Billed], Billed]:
    """Bills made in the period, by the department of each line (reversals that joined
    a bill count against it, so a cancelled bill adds nothing); optionally one
    department's lines only."""
    rows, total = [], Billed("", "Total")
    charges = Charge.objects.filter(bill__created_at__gte=start, bill__created_at__lt=end)
    if department is not None:
        charges = charges.filter(department=department)
    for g in (
        charges.values("department_id", "department__name")
        .annotate(
            gross=Sum("amount"), tax=Sum("tax"), scheme=Sum("scheme_amount"),
            patient=Sum("patient_amount"),
        )
        .order_by()
    ):  # fmt: skip
        b = Billed(
            str(g["department_id"] or "-"),
            g["department__name"] or NO_DEPARTMENT,
            g["gross"],
            g["tax"],
            g["scheme"],
            g["patient"],
        )
        rows.append(b)
        for name in ("gross", "tax", "scheme", "patient"):
            setattr(total, name, getattr(total, name) + getattr(b, name))
    rows.sort(key=lambda b: (b.key == "-", b.label))
    return rows, total


def collections(*, start: dt.date, end: dt.date, counter: str | None = None) -> Collections:
    """Money received and paid back at the counters on the IST days `start` to `end`
    (inclusive; at most MAX_DAYS), optionally at one counter, and the revenue billed."""
    period = Period(start, end).check(max_days=MAX_DAYS)
    chosen = _counter(counter)
    lo, hi = period.bounds()
    done = Payment.objects.filter(status=ApprovalStatus.DONE, paid_at__gte=lo, paid_at__lt=hi)
    if chosen is not None:
        done = done.filter(counter=chosen)
    by_counter: dict[str, Row] = {}
    by_cashier: dict[str, Row] = {}
    by_mode = {mode: Row(mode, label) for mode, label in PaymentMode.choices}
    total = Row("", "Total")
    for g in (
        done.values(
            "counter__code", "counter__name", "requested_by_id", "requested_by__username",
            "requested_by__full_name", "mode", "kind",
        )
        .annotate(n=Count("id"), total=Sum("amount"))
        .order_by()
    ):  # fmt: skip
        code = g["counter__code"]
        person = g["requested_by__full_name"] or g["requested_by__username"]
        for groups, key, label in (
            (by_counter, code, f"{g['counter__name']} ({code})"),
            (by_cashier, str(g["requested_by_id"]), person),
        ):
            groups.setdefault(key, Row(key, label)).add(g["kind"], g["total"], g["n"])
        by_mode[g["mode"]].add(g["kind"], g["total"], g["n"])
        total.add(g["kind"], g["total"], g["n"])
    bills = Bill.objects.filter(created_at__gte=lo, created_at__lt=hi).aggregate(
        n=Count("id"), cancelled=Count("id", filter=Q(cancelled_at__isnull=False))
    )
    billed_rows, billed_total = billed(lo, hi)
    notes = []
    if chosen is not None:
        notes.append("Revenue billed is for the whole hospital: bills are not made per counter.")
    return Collections(
        start=start,
        end=end,
        counter=chosen,
        by_counter=_rows(by_counter),
        by_cashier=_rows(by_cashier),
        by_mode=list(by_mode.values()),
        by_department=_department_rows(done),
        total=total,
        billed=billed_rows,
        billed_total=billed_total,
        bills=bills["n"],
        bills_cancelled=bills["cancelled"],
        notes=notes,
    )


# -- exports -------------------------------------------------------------------------------

MONEY_COLUMNS = [
    "Receipts", "Collected", "Refund vouchers", "Refunds", "Net collected",
    "Scheme settlements", "Settled by schemes",
]  # fmt: skip
BILLED_COLUMNS = ["Gross", "Tax", "Total", "Scheme pays", "Patient pays"]


Section = Table  # a titled table with a header, rows and a total (core.tables)


def _money_cells(r: Row) -> list:
    return [r.receipts, r.collected, r.refund_count, r.refunds, r.net, r.settlement_count,
            r.settlements]  # fmt: skip


def sections(c: Collections) -> list[Section]:
    """The report's tables, in the order the page, the CSV and the XLSX show them."""
    made = []
    for title, first, rows in (
        ("By counter", "Counter", c.by_counter),
        ("By cashier", "Cashier", c.by_cashier),
        ("By mode", "Mode", c.by_mode),
        ("By department", "Department", c.by_department),
    ):
        made.append(
            Section(
                title,
                [first, *MONEY_COLUMNS],
                [[r.label, *_money_cells(r)] for r in rows],
                ["Total", *_money_cells(c.total)],
            )
        )
    made.append(
        Section(
            f"Revenue billed ({c.bills} bills, {c.bills_cancelled} cancelled)",
            ["Department", *BILLED_COLUMNS],
            [[b.label, b.gross, b.tax, b.total, b.scheme, b.patient] for b in c.billed],
            ["Total", *(getattr(c.billed_total, n) for n in ("gross", "tax", "total", "scheme",
                                                           "patient"))],
        )
    )  # fmt: skip
    return made


def _heading(c: Collections) -> list[list]:
    return [
        ["Collections report"],
        ["From", c.start],
        ["To", c.end],
        ["Counter", c.counter_label],
        *([note] for note in c.notes),
    ]


def _text(value) -> str:
    """A cell as CSV text (dates ISO, money with two places); formula-like text quoted."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return safe_text(str(value))


def csv_rows(c: Collections) -> list[list[str]]:
    """The report as CSV rows: a heading, then each section with its header and total."""
    rows = [[_text(v) for v in line] for line in _heading(c)]
    for s in sections(c):
        rows += [[], [s.title], s.header]
        rows += [[_text(v) for v in line] for line in s.rows]
        if s.total:
            rows.append([_text(v) for v in s.total])
    return rows


def xlsx_bytes(c: Collections) -> bytes:
    """The report as one XLSX sheet laid out as the CSV is; money as numbers
    ('#,##0.00'), dates as dates."""
    title, *heading = _heading(c)
    return tables.xlsx_bytes(
        title[0],
        sections(c),
        heading=heading,
        sheet_name="Collections",
        widths={"A": 36, **dict.fromkeys("BCDEFGH", 16)},
    )


# -- other back-office reads --------------------------------------------------------------


def open_counters() -> QuerySet[Counter]:
    return Counter.objects.filter(is_active=True).order_by("code")


def usual_counter(cashier) -> Counter | None:
    """The counter the cashier last took money at, else the first open one."""
    last = (
        Payment.objects.filter(requested_by=cashier, counter__is_active=True)
        .select_related("counter")
        .order_by("-requested_at")
        .first()
    )
    return last.counter if last is not None else open_counters().first()


def closes_of(cashier, *, limit: int = 30) -> list[DayClose]:
    """The cashier's own day closes, latest first, with their lines."""
    return list(
        DayClose.objects.filter(cashier=cashier)
        .select_related("counter")
        .prefetch_related("lines")
        .order_by("-date", "counter__code")[:limit]
    )


def close_for(*, counter: Counter, cashier, date: dt.date) -> DayClose | None:
    return (
        DayClose.objects.filter(counter=counter, cashier=cashier, date=date)
        .prefetch_related("lines")
        .first()
    )


def refund_get(pk: int) -> Payment:
    found = Payment.objects.filter(pk=pk, kind=PaymentKind.REFUND).first()
    if found is None:
        raise NotFound("There is no such refund.")
    return found


def discount_get(pk: int) -> Discount:
    found = Discount.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound("There is no such discount.")
    return found


def tariff_items(query: str = "") -> QuerySet[TariffItem]:
    """Tariff items whose code or name holds `query`."""
    items = TariffItem.objects.select_related("department").order_by("code")
    query = query.strip()
    if query:
        items = items.filter(Q(code__icontains=query) | Q(name__icontains=query))
    return items


def prices_on(items: Iterable[TariffItem], day: dt.date) -> dict[int, dict[str, TariffPrice]]:
    """Each item's price per rate class on `day` (one query)."""
    found: dict[int, dict[str, TariffPrice]] = defaultdict(dict)
    for price in TariffPrice.objects.filter(
        item__in=[i.pk for i in items], effective_from__lte=day
    ).filter(Q(effective_to__isnull=True) | Q(effective_to__gte=day)):
        found[price.item_id][price.rate_class] = price
    return found


def tariff_item(code: str) -> TariffItem:
    found = TariffItem.objects.select_related("department").filter(code=code.upper()).first()
    if found is None:
        raise NotFound(f"There is no tariff item {code!r}.")
    return found


def price_periods(item: TariffItem) -> QuerySet[TariffPrice]:
    return item.prices.order_by("rate_class", "effective_from")
