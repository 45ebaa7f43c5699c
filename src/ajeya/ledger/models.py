"""The ledger: an append-only, hash-chained record of every change."""

from __future__ import annotations

from django.db import models


class LedgerAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"
    CANCEL = "cancel", "Cancelled"


class LedgerEntry(models.Model):
    """One change. `hash` = SHA-256(previous hash ‖ canonical bytes of this entry)."""

    seq = models.BigIntegerField(primary_key=True)
    recorded_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=40, blank=True)
    action = models.CharField(max_length=12, choices=LedgerAction.choices)
    subject_type = models.CharField(max_length=60)
    subject_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    state_hash = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True)
    ip = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=12, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["subject_type", "subject_id", "seq"])]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.subject_type}:{self.subject_id}"
