"""`ajeya lockdown on|off|status`: the switch from the server's console.

The console has no login, so each person named gives their current two-factor code: one
line each on standard input (in the order named), or at a prompt on a terminal."""

from __future__ import annotations

import argparse
import getpass
import sys

EXIT_REFUSED = 3  # as PermissionRefused: the person may not, or is not who they say


def _staff(username: str):
    from ajeya.accounts.models import User
    from ajeya.cli import EXIT_USAGE, CLIError
    from ajeya.core.roles import Perm, has_perm

    user = User.objects.filter(username=username).first()
    if user is None:
        raise CLIError(f"no staff account {username!r}", EXIT_USAGE)
    if not has_perm(user, Perm.DEFENSE_LOCKDOWN):
        raise CLIError(
            f"{username} ({user.get_role_display()}) may not switch lockdown; IT/security "
            "and hospital administrators may",
            EXIT_REFUSED,
        )
    return user


def _confirm_codes(people: list) -> None:
    """Read one code per person and check it against their authenticator."""
    from ajeya.cli import EXIT_USAGE, CLIError
    from ajeya.core.errors import ValidationFailed
    from ajeya.defense import lockdown

    for user in people:
        if sys.stdin.isatty():
            code = getpass.getpass(f"Two-factor code of {user.username}: ").strip()
        else:
            code = sys.stdin.readline().strip()
        if not code:
            raise CLIError(
                f"no two-factor code for {user.username} on standard input (one line each, "
                "in the order the people are named)",
                EXIT_USAGE,
            )
        try:
            lockdown.two_factor_check(user=user, token=code)
        except ValidationFailed as exc:
            raise CLIError(f"{user.username}: {exc.human}", EXIT_REFUSED) from None


def cmd_on(args: argparse.Namespace) -> int:
    from ajeya.cli import out
    from ajeya.defense import lockdown

    actor = None
    if args.by:
        actor = _staff(args.by)
        _confirm_codes([actor])
    made = lockdown.lockdown_on(actor=actor, reason=args.reason)
    out.print(f"{lockdown.banner(made)}.", markup=False)
    out.print(
        f"{made.sessions_ended} session(s) ended: everyone logs in again. Switching off takes "
        "two people: ajeya lockdown off --by USER --confirm-by OTHER --note TEXT",
        markup=False,
    )
    return 0


def cmd_off(args: argparse.Namespace) -> int:
    from ajeya.cli import EXIT_USAGE, CLIError, out
    from ajeya.defense import lockdown

    if args.by == args.confirm_by:
        raise CLIError("--by and --confirm-by must be two different people", EXIT_USAGE)
    requester, confirmer = _staff(args.by), _staff(args.confirm_by)
    current = lockdown.active()
    if current is None:
        raise CLIError("there is no lockdown to switch off")
    _confirm_codes([requester, confirmer])
    if current.off_requested_by_id != requester.pk:
        lockdown.lockdown_off_request(actor=requester, note=args.note)
    lockdown.lockdown_off_confirm(actor=confirmer, note=args.note)
    out.print(
        f"Lockdown is off: asked by {requester.username}, confirmed by {confirmer.username}. "
        "The system is writable again.",
        markup=False,
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from ajeya.cli import out
    from ajeya.core import clock
    from ajeya.defense import lockdown

    current = lockdown.active()
    if current is None:
        out.print("No lockdown: the system is running normally.")
        return 0
    out.print(f"{lockdown.banner(current)}.", markup=False)
    out.print(f"Reason: {current.reason}", markup=False)
    if current.off_requested_by_id is not None:
        who = current.off_requested_by
        asked = clock.local(current.off_requested_at)
        out.print(
            f"Switching off asked by {who.username} at {asked:%d-%m-%Y %H:%M} IST "
            f"({current.end_note}); waiting for a second person.",
            markup=False,
        )
    return 0


def add_commands(sub, add) -> None:
    from ajeya.cli import command_group

    action = command_group(add, "lockdown", "lockdown: read-only, sessions ended")

    on = action("on", cmd_on, "switch lockdown on now and end every session")
    on.add_argument("--reason", required=True, help="why (kept in the ledger)")
    on.add_argument("--by", default="", metavar="USERNAME",
                    help="who switches it on (their two-factor code is asked); "
                    "default: the server operator")  # fmt: skip

    off = action("off", cmd_off, "switch lockdown off: two people, each with their code")
    off.add_argument("--by", required=True, metavar="USERNAME", help="the first person")
    off.add_argument("--confirm-by", required=True, metavar="USERNAME",
                     help="the second person, who confirms")  # fmt: skip
    off.add_argument("--note", required=True, help="why it is safe now (kept in the ledger)")

    action("status", cmd_status, "is a lockdown on, since when, by whom")

    from ajeya.defense.incident_cli import add_commands as add_incident

    add_incident(sub, add)
