"""Staff accounts: one role each, a department, and an employee number."""

from __future__ import annotations

from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import AbstractUser
from django.db import models

from ajeya.core.models import Department
from ajeya.core.roles import MFA_REQUIRED_ROLES, Role


class User(AbstractUser):
    full_name = models.CharField(max_length=150)
    role = models.CharField(max_length=30, choices=Role.choices)
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    employee_id = models.CharField(max_length=30, blank=True)
    # Set when someone else chose the password (a new account, a reset): the owner must
    # replace it at first login, so the person who set it cannot go on using it.
    must_change_password = models.BooleanField(default=False)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return f"{self.full_name or self.username} ({self.get_role_display()})"

    def check_password(self, raw_password: str) -> bool:
        # Django re-hashes a password at login when the hasher settings change, writing
        # the row behind the ledger's back; here checking never writes. New hasher
        # settings apply as people change their passwords (through the services).
        return check_password(raw_password, self.password)

    @property
    def mfa_required(self) -> bool:
        return self.role in MFA_REQUIRED_ROLES
