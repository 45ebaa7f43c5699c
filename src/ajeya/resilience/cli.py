"""The recovery commands of `ajeya`: keys init, backup, ship, restore, drill, prune."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def _bars(*, quiet: bool = False):
    from ajeya.cli import _progress

    if quiet:  # --json: standard output carries the document only
        yield lambda step, done, total: None
        return
    with _progress() as progress:
        tasks: dict[str, int] = {}

        def advance(step: str, done: int, total: int | None) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(step, total=total)
            progress.update(tasks[step], completed=done, total=total)

        yield advance


def cmd_keys_init(args: argparse.Namespace) -> int:
    import segno

    from ajeya.cli import out
    from ajeya.resilience import keys

    made = keys.init(Path(args.out))
    out.print(f"Backup key made. Public half (stays on this server): {made.public_path}")
    out.print(f"  {made.recipient}", markup=False)
    out.print(f"PRIVATE half (take it off this server now): {made.private_path}", markup=False)
    out.print(f"Backups are signed with this server's key {made.signer_id}; the key file names it.")
    if args.paper:
        out.print("\n" + made.secret_text, markup=False)
        buffer = io.StringIO()
        segno.make(made.secret_text, error="m").terminal(out=buffer, compact=True)
        out.print(buffer.getvalue(), markup=False, highlight=False)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from ajeya.cli import CLIError, out
    from ajeya.resilience import backup

    with _bars() as progress:
        results = backup.backup(args.target, progress=progress)
    failed = [r for r in results if not r.ok]
    for r in results:
        run = r.run
        if r.ok:
            out.print(
                f"Backup {r.backup_id} to {r.target}: {run.object_count} objects, "
                f"{run.stored_bytes / 1e6:,.1f} MB stored ({run.plain_bytes / 1e6:,.1f} MB "
                f"database), {run.documents_added} new documents, ledger to "
                f"#{run.changes_seq}, {(run.finished_at - run.started_at).total_seconds():.1f} s.",
                markup=False,
            )
    if failed:
        raise CLIError("; ".join(f"backup to {r.target} FAILED: {r.message}" for r in failed))
    return 0


def cmd_ship(args: argparse.Namespace) -> int:
    from ajeya.cli import CLIError, out
    from ajeya.resilience import shipping
    from ajeya.resilience.models import ShipState

    outcome = shipping.ship_all()
    if not outcome:
        raise CLIError("no backup targets: set AJEYA_BACKUP_TARGETS (see docs/recovery.md)")
    for name, result in outcome.items():
        state = ShipState.objects.filter(target=name).first()
        where = (
            f"ledger to #{state.changes_seq}, accesses to #{state.accesses_seq}" if state else ""
        )
        out.print(f"{name}: {result} ({where})", markup=False)
    bad = [name for name, result in outcome.items() if result != "ok"]
    if bad:
        raise CLIError(f"shipping failed to {', '.join(bad)}")
    return 0


def _moment(text: str) -> dt.datetime:
    from ajeya.cli import EXIT_USAGE, CLIError

    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CLIError(
            f"--at {text!r} is not a time like 2026-11-27T14:30 (IST)", EXIT_USAGE
        ) from None
    if moment.tzinfo is None:  # staff think in IST (TIME_ZONE)
        from django.utils import timezone

        moment = timezone.make_aware(moment)
    return moment


def cmd_restore(args: argparse.Namespace) -> int:
    from ajeya.cli import out
    from ajeya.resilience import keys, restore, targets

    key = keys.load_restore_key(Path(args.key))
    target = targets.resolve(args.source)
    at = _moment(args.at) if args.at else None
    with _bars(quiet=args.json) as progress:
        outcome = restore.restore(
            target, key, at=at, backup_id=args.backup, overwrite=args.overwrite,
            progress=progress,
        )  # fmt: skip
    if args.json:
        print(json.dumps(outcome.as_dict(), indent=2))
        return 0
    out.print(f"Restored backup {outcome.backup_id} into {outcome.database}.", markup=False)
    for phase in restore.PHASES:
        out.print(f"  {phase:<8} {outcome.phases[phase]:8.2f} s")
    out.print(f"  {'total':<8} {sum(outcome.phases.values()):8.2f} s")
    age = outcome.data_age_seconds
    out.print(
        f"Replayed {outcome.replayed.changes:,} changes and {outcome.replayed.accesses:,} "
        f"record views; {outcome.documents:,} documents. Data up to {outcome.restored_to} UTC"
        + (f" ({age:,.0f} s old)." if age is not None else "."),
        markup=False,
    )
    out.print(f"ajeya verify: clean ({outcome.verified.entries_checked:,} entries).")
    if outcome.stopped_short:
        out.print(f"Note: {outcome.stopped_short}.", markup=False)
    return 0


def cmd_drill(args: argparse.Namespace) -> int:
    from ajeya.cli import CLIError, out
    from ajeya.resilience import drill, keys

    keys.load_restore_key(Path(args.key))  # a bad key file is one line before any work
    with out.status("Restoring the latest backup into a scratch place…"):
        run = drill.drill(Path(args.key), args.target)
    if not run.ok:
        raise CLIError(f"restore drill FAILED: {run.message}")
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run.phases.items())
    out.print(
        f"Restore drill passed: backup {run.backup_id} from {run.target} restored and verified "
        f"in {run.seconds:.1f} s ({phases}); data {run.data_age_seconds or 0:,.0f} s old; "
        f"{run.message}.",
        markup=False,
    )
    return 0


def _signer(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from ajeya.cli import CLIError
    from ajeya.resilience import keys

    data = path.read_bytes() if path.is_file() else b""
    if b"BEGIN PUBLIC KEY" in data:
        key = serialization.load_pem_public_key(data)
        if isinstance(key, Ed25519PublicKey):
            return key
        raise CLIError(f"{path} is not an Ed25519 public key")
    return keys.load_restore_key(path).signer


def cmd_prune(args: argparse.Namespace) -> int:
    from django.conf import settings

    from ajeya.cli import EXIT_USAGE, CLIError, out
    from ajeya.resilience import retention, targets

    own = set(settings.AJEYA_BACKUP_TARGETS) | {
        spec["where"].rstrip("/") for spec in settings.AJEYA_BACKUP_TARGETS.values()
    }
    if args.source.rstrip("/") in own and Path(settings.AJEYA_BACKUP_PUBLIC_KEY).exists():
        raise CLIError(
            f"{args.source} is this app server's own backup target: prune runs where the "
            "backups live, with the storage's own credentials, never from the app server",
            EXIT_USAGE,
        )
    policy = retention.Policy(args.keep_last, args.keep_hourly, args.keep_daily,
                              args.keep_weekly, args.keep_monthly)  # fmt: skip
    target = targets.resolve(args.source).open()
    result = retention.prune(target, policy, _signer(Path(args.key)), dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    out.print(
        f"Keeping {len(result.kept)} backups ({retention.describe_policy(policy)}); "
        f"{verb} {len(result.deleted_backups)} backups, {result.deleted_objects} objects.",
        markup=False,
    )
    for line in result.locked[:20]:
        out.print(f"  still locked: {line}", markup=False)
    return 0


def add_commands(sub, add) -> None:
    from ajeya.cli import command_group

    action = command_group(add, "keys", "the backup key: make it, keep it off the server")
    init = action("init", cmd_keys_init, "make the backup key pair (and the signing key)")
    init.add_argument("--out", required=True, help="directory for the PRIVATE key (a USB stick)")
    init.add_argument("--paper", action="store_true", help="also print it as text and QR")

    backup = add("backup", cmd_backup, "back up the database, keys and documents now")
    backup.add_argument("--target", help="only this target (default: every one configured)")

    add("ship", cmd_ship, "ship new ledger entries to every target now (the worker does it)")

    restore = add("restore", cmd_restore, "restore the hospital from a backup target")
    restore.add_argument("--from", dest="source", required=True,
                         help="a target's name, a directory, or s3://bucket/prefix")  # fmt: skip
    restore.add_argument("--key", required=True, help="the private backup key file")
    restore.add_argument("--at", help="restore to this moment (IST unless an offset is given)")
    restore.add_argument("--backup", help="start from this backup id instead of the newest")
    restore.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing database (a SQLite file is kept aside)",
    )
    restore.add_argument("--json", action="store_true", help="print the outcome as JSON")

    drill = add("drill", cmd_drill, "restore the latest backup into a scratch place and check it")
    drill.add_argument("--key", required=True, help="the private backup key file")
    drill.add_argument("--target", help="drill from this target (default: the first one)")

    prune = add("prune", cmd_prune, "delete old backups by a retention policy (storage host)")
    prune.add_argument("--from", dest="source", required=True,
                       help="the backup directory or s3://bucket/prefix")  # fmt: skip
    prune.add_argument("--key", required=True,
                       help="the backup key file or the signing public key (PEM)")  # fmt: skip
    for rule in ("last", "hourly", "daily", "weekly", "monthly"):
        prune.add_argument(f"--keep-{rule}", type=int, default=0, metavar="N")
    prune.add_argument("--dry-run", action="store_true", help="say what would go; delete nothing")
