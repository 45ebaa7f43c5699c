"""What the recovery machinery did: backups, what each target has of the ledger, and
restore drills. Operational records (not ledgered): a restore rebuilds them from the
snapshot, and a drill's result is about the backups, not the hospital's records."""

from __future__ import annotations

from django.db import models


class BackupRun(models.Model):
    target = models.CharField(max_length=60)
    backup_id = models.CharField(max_length=40, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    stored_bytes = models.BigIntegerField(default=0)
    plain_bytes = models.BigIntegerField(default=0)
    object_count = models.IntegerField(default=0)
    documents_added = models.IntegerField(default=0)
    changes_seq = models.BigIntegerField(default=0)
    message = models.TextField(blank=True)
    trigger = models.CharField(max_length=20, default="cli")

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"backup {self.backup_id or '?'} to {self.target}: {'ok' if self.ok else 'FAILED'}"


class ShipState(models.Model):
    """How far each target has the ledger (both chains) and the documents."""

    target = models.CharField(max_length=60, primary_key=True)
    changes_seq = models.BigIntegerField(default=0)
    accesses_seq = models.BigIntegerField(default=0)
    shipped_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.target}: changes #{self.changes_seq}, accesses #{self.accesses_seq}"


class DrillRun(models.Model):
    target = models.CharField(max_length=60)
    backup_id = models.CharField(max_length=40, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    seconds = models.FloatField(default=0)
    phases = models.JSONField(default=dict)  # phase -> seconds
    data_age_seconds = models.FloatField(null=True, blank=True)
    restored_to = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict)  # table -> {"restored": n, "live": n}
    message = models.TextField(blank=True)
    trigger = models.CharField(max_length=20, default="cli")

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"drill {self.started_at:%Y-%m-%d %H:%M}: {'ok' if self.ok else 'FAILED'}"
