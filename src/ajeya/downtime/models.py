"""Care during downtime: the keys and state of each location's offline snapshot, paper
kits of pre-allocated numbers, and the back-entry of what was written on paper.

Snapshot keys and states are operational (not ledgered): the key is what the ward PC's
passphrase derives, and a snapshot is a copy of records the ledger already holds.
Kits, voided numbers and back-entries are ledgered like every other record.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

USER = settings.AUTH_USER_MODEL


class LocationKind(models.TextChoices):
    WARD = "ward", "Ward"
    OPD = "opd", "OPD department"


class SnapshotKey(models.Model):
    """The AES key a location's passphrase derives (PBKDF2, salt, iterations): the
    server never stores the passphrase itself."""

    location = models.CharField(max_length=40, primary_key=True)  # "ward:MED1", "opd:MED"
    salt = models.BinaryField(max_length=16)
    iterations = models.PositiveIntegerField()
    key = models.BinaryField(max_length=32)
    made_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"downtime key for {self.location}"


class SnapshotState(models.Model):
    """The last snapshot written for a location, or why it could not be."""

    location = models.CharField(max_length=40, primary_key=True)
    title = models.CharField(max_length=120)
    made_at = models.DateTimeField(null=True, blank=True)  # of the last good file
    path = models.CharField(max_length=400, blank=True)
    size = models.PositiveIntegerField(default=0)
    patients = models.PositiveIntegerField(default=0)
    tried_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["location"]

    def __str__(self) -> str:
        return f"snapshot of {self.location}"


class NumberKind(models.TextChoices):
    UHID = "uhid", "UHID"
    ACCESSION = "accession", "Accession number"
    RECEIPT = "receipt", "Receipt number"


class Kit(models.Model):
    """Blocks of numbers reserved for one department's paper forms: the live system's
    counters were moved past them, so it never issues them."""

    number = models.CharField(max_length=12, unique=True, editable=False)
    department = models.ForeignKey("core.Department", on_delete=models.PROTECT)
    made_at = models.DateTimeField()
    made_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")  # fmt: skip
    uhid_first = models.PositiveBigIntegerField(default=0)  # UHID serials
    uhid_count = models.PositiveIntegerField(default=0)
    accession_year = models.PositiveSmallIntegerField(default=0)
    accession_first = models.PositiveBigIntegerField(default=0)
    accession_count = models.PositiveIntegerField(default=0)
    counter = models.ForeignKey("billing.Counter", on_delete=models.PROTECT, null=True,
                                blank=True)  # fmt: skip
    receipt_year = models.CharField(max_length=7, blank=True)  # financial year, "2026-27"
    receipt_first = models.PositiveBigIntegerField(default=0)
    receipt_count = models.PositiveIntegerField(default=0)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-made_at"]

    def __str__(self) -> str:
        return f"kit {self.number} ({self.department})"


class KitVoid(models.Model):
    """A number that will never be used: a spoiled form, a lost page."""

    kit = models.ForeignKey(Kit, on_delete=models.PROTECT, related_name="voids")
    kind = models.CharField(max_length=10, choices=NumberKind.choices)
    value = models.CharField(max_length=30)
    reason = models.CharField(max_length=200)
    voided_at = models.DateTimeField()
    voided_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["kind", "value"]
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="kit_void_once")]

    def __str__(self) -> str:
        return f"{self.value} voided"


class BackEntry(models.Model):
    """A paper record entered after the downtime against a kit's number: where it came
    from (form, time written on paper) and who typed it in, beside the record itself."""

    kit = models.ForeignKey(Kit, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=10, choices=NumberKind.choices)
    value = models.CharField(max_length=30)
    form_number = models.CharField(max_length=30)
    written_at = models.DateTimeField()  # the time on the paper
    entered_at = models.DateTimeField()
    entered_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    subject_type = models.CharField(max_length=40)
    subject_id = models.CharField(max_length=64)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-entered_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="backentry_number_once"),
            models.CheckConstraint(
                condition=models.Q(written_at__lte=models.F("entered_at")),
                name="backentry_written_before_entered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value} entered from form {self.form_number}"
