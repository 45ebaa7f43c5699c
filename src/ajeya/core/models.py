"""Hospital structure shared by every app, and the counters that issue identifiers."""

from __future__ import annotations

from django.db import models


class DepartmentKind(models.TextChoices):
    CLINICAL = "clinical", "Clinical"
    DIAGNOSTIC = "diagnostic", "Diagnostic"
    SUPPORT = "support", "Support and administration"


class Department(models.Model):
    code = models.CharField(max_length=12, unique=True)
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=12, choices=DepartmentKind.choices)
    is_active = models.BooleanField(default=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IdentifierSequence(models.Model):
    """The next serial for one kind of identifier (UHID, accession, receipt, ...).

    Serials are handed out under a row lock, so they are unique also with many
    writers on PostgreSQL; a block can be reserved (downtime kits) by moving
    `next_value` past it.
    """

    name = models.CharField(max_length=40, primary_key=True)
    next_value = models.BigIntegerField(default=1)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(next_value__gte=1), name="identifier_next_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name}: next {self.next_value}"
