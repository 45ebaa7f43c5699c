"""Scheduled reports and their archive: a schedule says which report runs how often
(and for which department); each run keeps the files it made, named by their SHA-256
under VAR_DIR/reports-archive, so a stored file never changes and a changed one is
found."""

from __future__ import annotations

from django.conf import settings
from django.db import models

USER = settings.AUTH_USER_MODEL


class Frequency(models.TextChoices):
    DAILY = "daily", "Daily (yesterday)"
    WEEKLY = "weekly", "Weekly (last Monday to Sunday)"
    MONTHLY = "monthly", "Monthly (last calendar month)"


class RunStatus(models.TextChoices):
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ReportSchedule(models.Model):
    report = models.CharField(max_length=60)  # the registry's slug
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, null=True, blank=True
    )
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    active = models.BooleanField(default=True)
    next_run_on = models.DateField()
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["report", "frequency"]
        indexes = [models.Index(fields=["active", "next_run_on"])]

    def __str__(self) -> str:
        return f"{self.report} ({self.get_frequency_display()})"


class ReportRun(models.Model):
    schedule = models.ForeignKey(ReportSchedule, on_delete=models.PROTECT, related_name="runs")
    period_start = models.DateField()
    period_end = models.DateField()
    generated_at = models.DateTimeField()
    status = models.CharField(max_length=6, choices=RunStatus.choices)
    error = models.TextField(blank=True)
    # {"csv": {"sha256": …, "name": …, "size": …}, "xlsx": …, "pdf": …}
    files = models.JSONField(default=dict, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-generated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "period_start", "period_end"], name="report_run_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.schedule.report} {self.period_start} to {self.period_end}"

    @property
    def formats(self) -> list[str]:
        return [fmt for fmt in ("csv", "xlsx", "pdf") if fmt in self.files]


class OpdDay(models.Model):
    """The OPD of one closed day, counted once: one row per clinic, consulting doctor
    and patient category (as it stood when the day was counted). Derived data, rebuilt
    from the ledgered visits (reports/rollup.py), so it carries no seal of its own.
    `patients` holds the distinct patient ids of the row's visits (sorted, 4 bytes each),
    so a period's distinct patients are a union, not a scan of every visit."""

    date = models.DateField()
    clinic = models.ForeignKey("appointments.Clinic", on_delete=models.CASCADE, related_name="+")
    doctor = models.ForeignKey(
        USER, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    category = models.CharField(max_length=10)
    scheme = models.CharField(max_length=10, blank=True)
    visits = models.PositiveIntegerField()
    booked = models.PositiveIntegerField()
    seen = models.PositiveIntegerField()
    no_show = models.PositiveIntegerField()
    consultations = models.PositiveIntegerField()
    admit_advised = models.PositiveIntegerField()
    patients = models.BinaryField()

    class Meta:
        indexes = [models.Index(fields=["date"], name="opdday_date")]

    def __str__(self) -> str:
        return f"OPD {self.date:%d-%m-%Y} clinic {self.clinic_id}: {self.visits} visits"


class RollupDay(models.Model):
    """A closed day whose OpdDay rows are built (a day without visits has none)."""

    date = models.DateField(primary_key=True)
    built_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"OPD {self.date:%d-%m-%Y} counted"


class RollupState(models.Model):
    """The last ledger entry the rollup has read: changes after it are re-counted."""

    seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"OPD counted up to ledger entry #{self.seq}"
