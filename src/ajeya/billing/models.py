"""Billing: the tariff, patients' accounts with their charges, bills, money received and
paid back, discounts, and each cashier's day-end closing.

Nothing here is ever edited to correct it: a wrong charge is reversed by a new negative
charge, a refund is a new payment going the other way, a discount is its own row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

USER = settings.AUTH_USER_MODEL
MONEY = {"max_digits": 12, "decimal_places": 2}


class RateClass(models.TextChoices):
    """Which price of a tariff item a patient pays."""

    GENERAL = "general", "General"
    PRIVATE = "private", "Private ward"
    STAFF = "staff", "Staff"
    BPL = "bpl", "BPL / free"
    CGHS = "cghs", "CGHS"
    PMJAY = "pmjay", "PM-JAY"
    ESI = "esi", "ESI"
    ECHS = "echs", "ECHS"
    STATE = "state", "State health scheme"
    OTHER = "other", "Other scheme"


SCHEME_RATE_CLASSES = frozenset(
    {RateClass.CGHS, RateClass.PMJAY, RateClass.ESI, RateClass.ECHS, RateClass.STATE,
     RateClass.OTHER}
)  # fmt: skip


class ItemKind(models.TextChoices):
    REGISTRATION = "registration", "Registration"
    CONSULTATION = "consultation", "Consultation"
    LAB = "lab", "Laboratory test"
    BED = "bed", "Bed charge (per day)"
    PROCEDURE = "procedure", "Procedure"
    PACKAGE = "package", "Scheme package"
    OTHER = "other", "Other service"


class TariffItem(models.Model):
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=14, choices=ItemKind.choices)
    department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, null=True, blank=True
    )
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=0)  # GST, percent
    sac_code = models.CharField("SAC code", max_length=8, blank=True)
    is_active = models.BooleanField(default=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tax_rate__gte=0, tax_rate__lte=100), name="tariff_tax_rate"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class TariffPrice(models.Model):
    """One price of an item for one rate class from one date (to another, inclusive).

    Periods of one item and rate class never overlap (checked by the service under a lock
    on the item), so a bill's date names exactly one price; a price change adds a period
    and never rewrites a past bill. `scheme_share` is the percent of the line a scheme
    pays (scheme rate classes only); the patient pays the rest.
    """

    item = models.ForeignKey(TariffItem, on_delete=models.PROTECT, related_name="prices")
    rate_class = models.CharField(max_length=10, choices=RateClass.choices)
    amount = models.DecimalField(**MONEY)
    scheme_share = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["item", "rate_class", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "rate_class", "effective_from"], name="tariff_price_start"
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="tariff_price_amount"),
            models.CheckConstraint(
                condition=models.Q(scheme_share__gte=0, scheme_share__lte=100),
                name="tariff_price_share",
            ),
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True)
                | models.Q(effective_to__gte=models.F("effective_from")),
                name="tariff_price_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.code} {self.rate_class} {self.amount} from {self.effective_from}"


class Counter(models.Model):
    """A cash counter: receipts are numbered per counter per financial year."""

    code = models.CharField(max_length=12, unique=True)
    name = models.CharField(max_length=60)
    is_active = models.BooleanField(default=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class AccountKind(models.TextChoices):
    OPD = "opd", "Outpatient"
    IPD = "ipd", "Inpatient stay"


class Account(models.Model):
    """Where a patient's charges and money meet: one outpatient account per patient, one
    per admission."""

    number = models.CharField(max_length=16, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT)
    kind = models.CharField(max_length=4, choices=AccountKind.choices)
    admission = models.OneToOneField(
        "ipd.Admission", on_delete=models.PROTECT, null=True, blank=True
    )
    opened_at = models.DateTimeField()
    package = models.ForeignKey(  # a scheme package booked for this stay
        TariffItem, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"], condition=models.Q(kind="opd"), name="account_one_opd"
            ),
            models.CheckConstraint(
                condition=models.Q(kind="opd", admission__isnull=True)
                | models.Q(kind="ipd", admission__isnull=False),
                name="account_kind_admission",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class Charge(models.Model):
    """One service given, priced when it was given. A reversal is a new charge with the
    negative amounts of the one it `reverses`."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="charges")
    item = models.ForeignKey(TariffItem, on_delete=models.PROTECT, null=True, blank=True)
    code = models.CharField(max_length=20)
    description = models.CharField(max_length=160)
    department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, null=True, blank=True
    )
    # What gave rise to it ("lab.item:42", "bed:IP2600000012:2026-11-27"): posting the
    # same source twice is refused by the database, so capture can run any number of times.
    source = models.CharField(max_length=60, blank=True)
    service_date = models.DateField()
    quantity = models.DecimalField(max_digits=8, decimal_places=2, default=1)
    rate_class = models.CharField(max_length=10, choices=RateClass.choices)
    unit_price = models.DecimalField(**MONEY)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    amount = models.DecimalField(**MONEY)  # quantity x unit price, rounded once
    tax = models.DecimalField(**MONEY)
    scheme_amount = models.DecimalField(**MONEY)  # what the scheme pays
    patient_amount = models.DecimalField(**MONEY)  # amount + tax - scheme_amount
    in_package = models.BooleanField(default=False)  # covered by the stay's package rate
    priced = models.BooleanField(default=True)  # False: the tariff had no price; re-price
    posted_at = models.DateTimeField()
    posted_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversal"
    )
    reason = models.CharField(max_length=200, blank=True)
    bill = models.ForeignKey(
        "Bill", on_delete=models.PROTECT, null=True, blank=True, related_name="lines"
    )
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["service_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source"],
                condition=~models.Q(source="") & models.Q(reverses__isnull=True),
                name="charge_source_once",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gte=0) | models.Q(reverses__isnull=False),
                name="charge_negative_only_reversal",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "bill"], name="charge_unbilled"),
            models.Index(fields=["service_date", "department"], name="charge_day"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.amount}"

    @property
    def total(self):
        return self.amount + self.tax


class BillKind(models.TextChoices):
    OPD = "opd", "OPD bill"
    IPD = "ipd", "IPD final bill"


class Bill(models.Model):
    """The unbilled charges of an account, finalised under one number. Totals are the
    sums of its lines when it was made; later reversals of its lines join it as lines."""

    number = models.CharField(max_length=24, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="bills")
    kind = models.CharField(max_length=4, choices=BillKind.choices)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)
    tax = models.DecimalField(**MONEY)
    scheme_amount = models.DecimalField(**MONEY)
    patient_amount = models.DecimalField(**MONEY)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancel_reason = models.CharField(max_length=200, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at"], name="bill_day")]

    def __str__(self) -> str:
        return self.number


class PaymentKind(models.TextChoices):
    PAYMENT = "payment", "Payment"
    DEPOSIT = "deposit", "Advance deposit"
    SETTLEMENT = "settlement", "Scheme settlement"
    REFUND = "refund", "Refund"


class PaymentMode(models.TextChoices):
    CASH = "cash", "Cash"
    CARD = "card", "Card"
    UPI = "upi", "UPI"
    SCHEME = "scheme", "Scheme"


class ApprovalStatus(models.TextChoices):
    DONE = "done", "Done"
    AWAITING = "awaiting", "Awaiting approval"
    REJECTED = "rejected", "Rejected"


class Payment(models.Model):
    """Money in (payment, deposit, scheme settlement) or out (refund) at a counter.

    The receipt (or refund voucher) number is given when money moves, from a gapless
    series per counter per financial year; a refund waiting for approval has none yet.
    """

    number = models.CharField(max_length=30, unique=True, null=True, blank=True)
    counter = models.ForeignKey(Counter, on_delete=models.PROTECT)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payments")
    bill = models.ForeignKey(
        Bill, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    kind = models.CharField(max_length=10, choices=PaymentKind.choices)
    mode = models.CharField(max_length=8, choices=PaymentMode.choices)
    amount = models.DecimalField(**MONEY)
    reference = models.CharField(max_length=40, blank=True)  # UPI UTR, card approval, claim
    reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.DONE
    )
    requested_at = models.DateTimeField()
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)  # when money moved
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_positive"),
            models.CheckConstraint(
                condition=~models.Q(decided_by=models.F("requested_by")),
                name="payment_approver_other",
            ),
            models.CheckConstraint(
                condition=models.Q(status="done", number__isnull=False, paid_at__isnull=False)
                | (~models.Q(status="done") & models.Q(number__isnull=True)),
                name="payment_number_when_done",
            ),
        ]
        indexes = [
            models.Index(fields=["paid_at"], name="payment_day"),
            models.Index(fields=["counter", "requested_by", "paid_at"], name="payment_cashier"),
        ]

    def __str__(self) -> str:
        return self.number or f"{self.get_kind_display()} (awaiting approval)"


class Discount(models.Model):
    """A concession on a bill; above the approval limit it waits for a second person."""

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="discounts")
    amount = models.DecimalField(**MONEY)
    reason = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.DONE
    )
    requested_at = models.DateTimeField()
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="discount_positive"),
            models.CheckConstraint(
                condition=~models.Q(decided_by=models.F("requested_by")),
                name="discount_approver_other",
            ),
        ]

    def __str__(self) -> str:
        return f"Discount {self.amount} on {self.bill}"


class DayClose(models.Model):
    """One cashier's day at one counter, closed once: expected vs counted by mode."""

    counter = models.ForeignKey(Counter, on_delete=models.PROTECT)
    cashier = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    date = models.DateField()
    closed_at = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-date", "counter"]
        constraints = [
            models.UniqueConstraint(fields=["counter", "cashier", "date"], name="day_close_once")
        ]

    def __str__(self) -> str:
        return f"{self.counter.code} {self.date}"


class DayCloseLine(models.Model):
    close = models.ForeignKey(DayClose, on_delete=models.PROTECT, related_name="lines")
    mode = models.CharField(max_length=8, choices=PaymentMode.choices)
    expected = models.DecimalField(**MONEY)  # receipts minus refunds in this mode
    counted = models.DecimalField(**MONEY)
    difference = models.DecimalField(**MONEY)  # counted - expected
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["close", "mode"]
        constraints = [
            models.UniqueConstraint(fields=["close", "mode"], name="day_close_line_mode")
        ]

    def __str__(self) -> str:
        return f"{self.close} {self.mode}: {self.difference}"
