"""Defence: what the detection rules raised (alerts), the decoy records they watch
(canaries), lockdowns, and the incidents investigators open. All ledgered: evidence
that can be edited without trace is not evidence. The watchers' read positions are
operational (WatchMark)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

USER = settings.AUTH_USER_MODEL


class Severity(models.TextChoices):
    INFO = "info", "Information"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class Rule(models.TextChoices):
    CANARY = "canary", "Canary record touched"
    MASS_ACCESS = "mass_access", "Mass access to patient records"
    MASS_CHANGE = "mass_change", "Mass change of records"
    BRUTE_FORCE = "brute_force", "Password guessing (brute force)"
    NEW_COUNTRY = "new_country", "Login from a new country or network"
    ODD_HOURS = "odd_hours", "Administrator login at an unusual hour"
    DOCUMENTS = "documents", "Document store changed, missing or encrypted"
    LEDGER = "ledger", "Ledger verification failed"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """One thing a rule saw. While it is not resolved, the same `key` (rule + who/what)
    adds to it (`count`, `last_seen_at`) instead of raising another."""

    rule = models.CharField(max_length=16, choices=Rule.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    key = models.CharField(max_length=200)
    title = models.CharField(max_length=200)
    evidence = models.JSONField(default=dict)
    link = models.CharField(max_length=300, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    patient_uhid = models.CharField(max_length=12, blank=True)
    raised_at = models.DateTimeField()  # when the rule first fired
    occurred_at = models.DateTimeField()  # when what it saw happened
    last_seen_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=12, choices=AlertStatus.choices,
                              default=AlertStatus.OPEN)  # fmt: skip
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="+")  # fmt: skip
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")  # fmt: skip
    notes = models.TextField(blank=True)
    incident = models.ForeignKey("defense.Incident", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="alerts")  # fmt: skip
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=~models.Q(status="resolved"),
                name="alert_one_open_per_key",
            )
        ]
        indexes = [models.Index(fields=["status", "severity"], name="defense_alert_open")]

    def __str__(self) -> str:
        return f"{self.get_severity_display()}: {self.title}"


class Canary(models.Model):
    """A decoy patient nobody has a reason to open: any look at it is an alarm."""

    patient = models.OneToOneField("patients.Patient", on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=200, blank=True)
    added_at = models.DateTimeField()
    added_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")  # fmt: skip
    seal = models.CharField(max_length=64, blank=True, editable=False)

    def __str__(self) -> str:
        return f"canary {self.patient_id}"


class WatchMark(models.Model):
    """How far a watcher has read (a ledger chain's sequence, a log's id)."""

    name = models.CharField(max_length=40, primary_key=True)
    value = models.BigIntegerField(default=0)
    moved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.value}"


class Lockdown(models.Model):
    """One lockdown, from the switch on to the switch off. Off is asked for by one
    person and confirmed by another."""

    started_at = models.DateTimeField()
    started_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")  # fmt: skip
    reason = models.CharField(max_length=300)
    off_requested_at = models.DateTimeField(null=True, blank=True)
    off_requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True,
                                         related_name="+")  # fmt: skip
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")  # fmt: skip
    end_note = models.CharField(max_length=300, blank=True)
    # True while it lasts, NULL after: unique, so the database holds one lockdown at a time
    # (NULLs never collide).
    current = models.BooleanField(null=True, default=True, unique=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(ended_by=models.F("off_requested_by")),
                name="lockdown_off_two_people",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"lockdown from {self.started_at}"


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open: investigating"
    CONTAINED = "contained", "Contained"
    CLOSED = "closed", "Closed"


class Incident(models.Model):
    """A security incident: the alerts that made it, the time window investigated, and
    what CERT-In is told (within 6 hours of detection)."""

    number = models.CharField(max_length=16, unique=True, editable=False)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=60)  # CERT-In's incident type
    status = models.CharField(max_length=10, choices=IncidentStatus.choices,
                              default=IncidentStatus.OPEN)  # fmt: skip
    detected_at = models.DateTimeField()  # the CERT-In 6-hour clock starts here
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    summary = models.TextField(blank=True)
    systems_affected = models.TextField(blank=True)
    actions_taken = models.TextField(blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)  # to CERT-In
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(window_end__gte=models.F("window_start")),
                name="incident_window_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.number}: {self.title}"
