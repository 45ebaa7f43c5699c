"""Lockdown: one switch makes the system read-only except its emergency functions, ends
every session and pauses exports; switching it off takes two people.

Switching on, asking to switch off and confirming are ledgered like any record. `active()`
is read on every request (the middleware remembers it for the request, so a page pays one
indexed query) and by the ledger's write guard before every append."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from importlib import import_module

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django_otp import devices_for_user

from ajeya.core import clock, context
from ajeya.core.errors import Conflict, Locked, ValidationFailed
from ajeya.core.locking import locked
from ajeya.core.roles import Perm, require_perm
from ajeya.core.validation import require_reason
from ajeya.defense.models import Lockdown
from ajeya.ledger import services as ledger
from ajeya.ledger.registry import state_of

# The defence app's own records (alerts the rules raise as the system, canaries,
# incidents, lockdowns) are written during a lockdown: that is when they matter most.
OWN_SUBJECTS = "defense."


# -- reading the state: cheap, remembered for one request ------------------------------


class _Memo:
    known = False
    value: Lockdown | None = None


_memo: ContextVar[_Memo | None] = ContextVar("ajeya_lockdown", default=None)


@contextlib.contextmanager
def remembered() -> Iterator[None]:
    """Within this block (one request), `active()` asks the database once."""
    token = _memo.set(_Memo())
    try:
        yield
    finally:
        _memo.reset(token)


# Outside a request (CLI, worker, seeding) the answer is kept for a second: every
# ledgered write asks, and a query per write would slow bulk work for a switch that is
# flipped once in a crisis. A switch made in another process holds within that second;
# one made in this process holds at once (_forget).
OUTSIDE_TTL = 1.0
_outside: tuple[float, Lockdown | None] | None = None


def _forget() -> None:
    global _outside
    _outside = None
    memo = _memo.get()
    if memo is not None:
        memo.known = False


def active() -> Lockdown | None:
    """The lockdown in force, or None: asked once per request, and at most once a second
    outside one."""
    global _outside
    memo = _memo.get()
    if memo is not None and memo.known:
        return memo.value
    now = time.monotonic()
    if memo is None and _outside is not None and now - _outside[0] < OUTSIDE_TTL:
        return _outside[1]
    value = Lockdown.objects.select_related("started_by").filter(current=True).first()
    if memo is not None:
        memo.known, memo.value = True, value
    else:
        _outside = (now, value)
    return value


def history(limit: int = 20) -> QuerySet[Lockdown]:
    return Lockdown.objects.select_related("started_by", "off_requested_by", "ended_by")[:limit]


def _name(user) -> str:
    if user is None:
        return "the server operator"
    return user.full_name or user.username


def _since(lockdown: Lockdown) -> str:
    started = clock.local(lockdown.started_at)
    if started.date() == clock.today():
        return f"{started:%H:%M} IST"
    return f"{started:%d-%m-%Y %H:%M} IST"


def banner(lockdown: Lockdown) -> str:
    """What every page says while it lasts."""
    return (
        f"LOCKDOWN since {_since(lockdown)} by {_name(lockdown.started_by)}: "
        "read-only except emergency functions"
    )


def refusal(lockdown: Lockdown) -> str:
    """What a refused change or export is told."""
    return (
        f"The system is in lockdown since {_since(lockdown)} by "
        f"{_name(lockdown.started_by)}: read-only except emergency functions."
    )


def context_processor(request) -> dict:
    """`lockdown_banner` for base.html: on every page of staff who are logged in, and on
    the login page; never on the public pages patients see (it names a member of staff)."""
    current = active()
    if current is None:
        return {"lockdown_banner": ""}
    user = getattr(request, "user", None)
    match = getattr(request, "resolver_match", None)
    shown = (user is not None and user.is_authenticated) or (
        match is not None and match.view_name == "accounts:login"
    )
    return {"lockdown_banner": banner(current) if shown else ""}


def write_guard(change: ledger.Change) -> None:
    """Asked by the ledger before every append (registered in DefenseConfig.ready()):
    refuse while a lockdown lasts, unless the page is an emergency function or the record
    is the defence app's own."""
    if change.subject_type.startswith(OWN_SUBJECTS) or context.current().emergency:
        return
    current = active()
    if current is not None:
        raise Locked(refusal(current))


# -- two-factor re-confirmation --------------------------------------------------------


def two_factor_check(*, user, token: str) -> None:
    """The person at the keyboard proves again who they are: a fresh code from one of
    their enrolled authenticators (a session left open is not enough to lock a hospital
    down or to let it out)."""
    from ajeya.accounts.services import check_token

    devices = list(devices_for_user(user, confirmed=True))
    if not devices:
        raise ValidationFailed(
            {"token": [f"{user.username} has no two-factor authenticator: enrol one first."]}
        )
    refusals: list[ValidationFailed] = []
    for device in devices:
        try:
            check_token(device, token)
        except ValidationFailed as exc:
            refusals.append(exc)
        else:
            return
    raise refusals[0]


# -- the switch --------------------------------------------------------------------------


def _end_all_sessions() -> int:
    """Everyone logs in again (with two-factor): an intruder's session ends with the rest."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store, "get_model_class"):
        raise RuntimeError(f"lockdown needs sessions in the database, not {store.__module__}")
    deleted, _ = store.get_model_class().objects.all().delete()
    return deleted


def lockdown_on(*, actor, reason: str) -> Lockdown:
    """Switch lockdown on and end every session. `actor=None` is the server operator
    (`ajeya lockdown on`). The returned lockdown's `sessions_ended` says how many ended."""
    if actor is not None:
        require_perm(actor, Perm.DEFENSE_LOCKDOWN)
    reason = require_reason(reason, why="Say why the system is locked down")[:300]
    lockdown = Lockdown(started_at=clock.now(), started_by=actor, reason=reason)
    try:
        with transaction.atomic():
            ledger.create_sealed(lockdown, actor=actor, reason=reason)
            lockdown.sessions_ended = _end_all_sessions()
    except IntegrityError:  # one active lockdown at a time (Lockdown.current is unique)
        raise _already_on() from None
    _forget()
    return lockdown


def _already_on() -> Conflict:
    _forget()
    current = active()
    if current is None:
        return Conflict("Lockdown could not be switched on; try again.")
    return Conflict(f"Lockdown is already on, since {_since(current)}.")


def _current_locked() -> Lockdown:
    current = locked(Lockdown.objects).filter(current=True).first()
    if current is None:
        raise Conflict("There is no lockdown to switch off.")
    return current


def lockdown_off_request(*, actor, note: str) -> Lockdown:
    """The first of the two people: ask to switch it off, saying why it is safe."""
    require_perm(actor, Perm.DEFENSE_LOCKDOWN)
    note = require_reason(note, why="Say why it is safe to switch lockdown off")[:300]
    with transaction.atomic():
        current = _current_locked()
        if current.off_requested_by_id is not None:
            asked = clock.local(current.off_requested_at)
            raise Conflict(
                f"{_name(current.off_requested_by)} asked to switch it off at "
                f"{asked:%H:%M}: a second person confirms."
            )
        before = state_of(current)
        current.off_requested_at, current.off_requested_by = clock.now(), actor
        current.end_note = note
        ledger.save_sealed(current, actor=actor, before=before, reason=note)
    return current


def lockdown_off_confirm(*, actor, note: str) -> Lockdown:
    """The second person: confirm, and the system is writable again."""
    require_perm(actor, Perm.DEFENSE_LOCKDOWN)
    note = require_reason(note, why="Say why you agree to switch lockdown off")[:300]
    try:
        with transaction.atomic():
            current = _current_locked()
            if current.off_requested_by_id is None:
                raise Conflict("Nobody has asked to switch it off yet: one person asks, "
                               "a second confirms.")  # fmt: skip
            if current.off_requested_by_id == actor.pk:
                raise Conflict("You asked to switch it off: a second person must confirm.")
            before = state_of(current)
            current.ended_at, current.ended_by, current.current = clock.now(), actor, None
            ledger.save_sealed(current, actor=actor, before=before, reason=note)
    except IntegrityError:  # the database's own two-people rule, should this one slip
        raise Conflict("A second person must confirm switching lockdown off.") from None
    _forget()
    return current
