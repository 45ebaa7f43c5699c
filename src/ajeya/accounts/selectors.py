"""Reads about staff accounts."""

from __future__ import annotations

from django.db.models import QuerySet
from django_otp import devices_for_user

from ajeya.accounts.models import User


def user_has_confirmed_device(user: User) -> bool:
    return any(True for _ in devices_for_user(user, confirmed=True))


def staff_list() -> QuerySet[User]:
    return User.objects.select_related("department").order_by("role", "username")
