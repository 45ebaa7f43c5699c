"""The ledger: append-only, hash-chained records of every change and every patient view.

Each entry's hash covers its columns and its `payload` (the canonical JSON of the
states, reason, user agent and channel) chained to the entry before it: see
`ledger.services` for the exact bytes.
The database refuses UPDATE and DELETE on both tables (migration 0002's triggers).
"""

from __future__ import annotations

from functools import cached_property

import orjson
from django.db import models


class LedgerAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"
    CANCEL = "cancel", "Cancelled"


class AccessKind(models.TextChoices):
    VIEWED = "viewed", "Opened the record"
    LISTED = "listed", "Shown in a search result"
    EDIT_FORM = "edit_form", "Opened the correction form"
    PRINTED = "printed", "Printed a document"
    EXPORTED = "exported", "Exported"
    HISTORY = "history", "Viewed who saw or changed it"


class ChainedEntry(models.Model):
    seq = models.BigIntegerField(primary_key=True)
    recorded_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=40, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    payload = models.TextField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        abstract = True
        ordering = ["seq"]

    @cached_property
    def data(self) -> dict:
        return orjson.loads(self.payload)

    @property
    def user_agent(self) -> str:
        return self.data.get("user_agent", "")

    @property
    def channel(self) -> str:
        return self.data.get("channel", "")


class LedgerEntry(ChainedEntry):
    """One change to a ledgered record, with its state after (and before) the change."""

    action = models.CharField(max_length=12, choices=LedgerAction.choices)
    subject_type = models.CharField(max_length=60)
    subject_id = models.CharField(max_length=64)
    state_hash = models.CharField(max_length=64, blank=True)

    class Meta(ChainedEntry.Meta):
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "seq"], name="ledger_subject_idx"),
            models.Index(fields=["recorded_at"], name="ledger_time_idx"),
            models.Index(fields=["actor_username", "seq"], name="ledger_actor_idx"),
            models.Index(fields=["ip", "seq"], name="ledger_ip_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.subject_type}:{self.subject_id}"

    @property
    def before(self) -> dict | None:
        return self.data.get("before")

    @property
    def after(self) -> dict | None:
        return self.data.get("after")

    @property
    def reason(self) -> str:
        return self.data.get("reason", "")


class AccessEntry(ChainedEntry):
    """One look at a patient's identifiable data: who, which patient, what, when, where."""

    patient_uhid = models.CharField(max_length=12)
    what = models.CharField(max_length=12, choices=AccessKind.choices)

    class Meta(ChainedEntry.Meta):
        verbose_name_plural = "access entries"
        indexes = [
            models.Index(fields=["patient_uhid", "seq"], name="access_patient_idx"),
            models.Index(fields=["recorded_at"], name="access_time_idx"),
            models.Index(fields=["actor_username", "seq"], name="access_actor_idx"),
            models.Index(fields=["ip", "seq"], name="access_ip_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.actor_username} {self.what} {self.patient_uhid}"


class VerificationRun(models.Model):
    """The outcome of one `ajeya verify` (by hand or scheduled), for the dashboards."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    entries_checked = models.BigIntegerField()
    rows_checked = models.BigIntegerField()
    checkpoint_seq = models.BigIntegerField(null=True, blank=True)
    findings = models.JSONField(default=list)
    trigger = models.CharField(max_length=20)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"verify {self.started_at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'FAILED'}"
