"""Every write to staff accounts: create, password, two-factor enrolment and reset.

Each records a ledger entry; the state kept there never holds a password hash or
a TOTP secret.
"""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from ajeya.accounts.models import User
from ajeya.core.errors import ValidationFailed
from ajeya.core.locking import locked
from ajeya.core.models import Department
from ajeya.core.roles import Perm, Role, require_perm
from ajeya.ledger import services as ledger
from ajeya.ledger.models import LedgerAction
from ajeya.ledger.registry import seal, state_of

SUBJECT = "accounts.user"
DEVICE = "accounts.totpdevice"


def _locked_state(user: User) -> dict:
    """The account's state as the database holds it now, locked for this transaction:
    never a copy loaded before someone else changed the row."""
    return state_of(locked(User.objects).get(pk=user.pk))


def _record_user(actor, user: User, action: LedgerAction, reason: str = "", before=None) -> None:
    """Seal the account row as stored and record the change, in the caller's transaction."""
    current = locked(User.objects).get(pk=user.pk)
    after = seal(current)
    User.objects.filter(pk=user.pk).update(seal=current.seal)
    user.seal = current.seal
    ledger.record(
        ledger.Change(
            action=action,
            subject_type=SUBJECT,
            subject_id=str(user.pk),
            before=before,
            after=after,
            reason=reason,
            actor=actor,
        )
    )


def _record_device(actor, device: TOTPDevice, action: LedgerAction, reason: str = "") -> None:
    state = state_of(device)
    ledger.record(
        ledger.Change(
            action=action,
            subject_type=DEVICE,
            subject_id=str(device.pk),
            before=state if action == LedgerAction.DELETE else None,
            after=None if action == LedgerAction.DELETE else state,
            reason=reason,
            actor=actor,
        )
    )


def user_create(
    *,
    actor: User | None,
    username: str,
    full_name: str,
    role: Role | str,
    password: str,
    department: Department | None = None,
    employee_id: str = "",
    must_change_password: bool = False,
) -> User:
    """Create a staff account. `actor=None` is the bootstrap path (CLI, seeding)."""
    if actor is not None:
        require_perm(actor, Perm.STAFF_MANAGE)
    errors: dict[str, list[str]] = {}
    username = username.strip()
    if not username:
        errors["username"] = ["Enter a username."]
    if role not in Role.values:
        errors["role"] = [f"Unknown role {role!r}; choose one of {', '.join(Role.values)}."]
    if not full_name.strip():
        errors["full_name"] = ["Enter the person's full name."]
    candidate = User(username=username, full_name=full_name, role=role)
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationFailed(errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username,
                password=password,
                full_name=full_name.strip(),
                role=role,
                department=department,
                employee_id=employee_id,
                must_change_password=must_change_password,
            )
            _record_user(actor, user, LedgerAction.CREATE)
    except IntegrityError:
        raise ValidationFailed({"username": [f"The username {username!r} is taken."]}) from None
    return user


def _store_password(
    *, actor, user: User, password: str, field: str, reason: str, must_change: bool
) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed({field: list(exc.messages)}) from None
    with transaction.atomic():
        before = _locked_state(user)
        user.set_password(password)
        user.must_change_password = must_change
        user.save(update_fields=["password", "must_change_password"])
        _record_user(actor, user, LedgerAction.UPDATE, reason, before)


def user_set_password(*, actor: User | None, user: User, password: str, reason: str) -> None:
    """Set someone's password. When another person sets it, its owner must replace it at
    next login. `actor=None` is the bootstrap path (the CLI, demo accounts)."""
    someone_else = actor is not None and actor.pk != user.pk
    if someone_else:
        require_perm(actor, Perm.STAFF_MANAGE)
    _store_password(
        actor=actor,
        user=user,
        password=password,
        field="password",
        reason=reason or "password changed",
        must_change=someone_else,
    )


def password_change(*, user: User, current: str, new: str) -> None:
    """The owner changes their own password (and clears a forced change)."""
    if not user.check_password(current):
        raise ValidationFailed({"current_password": ["That is not your current password."]})
    if current == new:
        raise ValidationFailed(
            {"new_password": ["Choose a password different from the current one."]}
        )
    _store_password(
        actor=user,
        user=user,
        password=new,
        field="new_password",
        reason="password changed by its owner",
        must_change=False,
    )


def totp_device_start(*, user: User) -> TOTPDevice:
    """Begin enrolment: an unconfirmed device whose secret the user scans as a QR code."""
    with transaction.atomic():
        for stale in TOTPDevice.objects.filter(user=user, confirmed=False):
            _record_device(user, stale, LedgerAction.DELETE, "enrolment started again")
            stale.delete()
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
        _record_device(user, device, LedgerAction.CREATE)
        return device


def check_token(device, token: str) -> None:
    """Verify a one-time code; wrong codes slow further tries down (django-otp throttling)."""
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        raise ValidationFailed(
            {"token": ["Too many wrong codes in a row; wait a little, then try the current one."]}
        )
    if not device.verify_token(token.strip()):
        raise ValidationFailed({"token": ["That code is wrong or expired; try the current one."]})


def totp_device_confirm(*, user: User, device: TOTPDevice, token: str) -> None:
    """Finish enrolment once the user proves the app shows the right code."""
    if device.user_id != user.pk or device.confirmed:
        raise ValidationFailed({"token": ["This enrolment has expired; start again."]})
    check_token(device, token)
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        _record_device(user, device, LedgerAction.UPDATE, "two-factor authenticator enrolled")


def totp_reset(*, actor: User, user: User, reason: str) -> None:
    """Remove a user's authenticators (lost phone); they must enrol again at next login."""
    require_perm(actor, Perm.STAFF_MANAGE)
    if not reason.strip():
        raise ValidationFailed({"reason": ["Say why two-factor is being reset."]})
    with transaction.atomic():
        for device in TOTPDevice.objects.filter(user=user):
            _record_device(
                actor, device, LedgerAction.DELETE, f"two-factor reset: {reason.strip()}"
            )
            device.delete()


def user_unlock(*, actor: User, user: User, reason: str) -> int:
    """Lift a lockout after failed logins; returns how many lockout records were cleared."""
    from axes.utils import reset

    require_perm(actor, Perm.STAFF_MANAGE)
    if not reason.strip():
        raise ValidationFailed({"reason": ["Say why the account is being unlocked."]})
    with transaction.atomic():
        state = _locked_state(user)
        cleared = reset(username=user.username)
        _record_user(actor, user, LedgerAction.UPDATE, f"lockout lifted: {reason.strip()}", state)
    return cleared
