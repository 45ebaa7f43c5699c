"""The `ajeya` command: demo, serve, migrate, seed, createadmin, and Django's own commands.

Every failure ends with one readable line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

EXIT_USAGE = 2


class CLIError(Exception):
    """A refusal the operator can act on; printed as one line."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ajeya.config.settings")
    import django

    django.setup()


# --- commands ------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    with out.status("Bringing the database schema up to date…"):
        call_command("migrate", interactive=False, verbosity=0)
    out.print("Database schema is up to date.")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    logins = run_seed(patients=args.patients, seed=args.seed)
    print_logins(logins)
    return 0


def run_seed(*, patients: int, seed: int):
    from ajeya.accounts.models import User
    from ajeya.accounts.seed import seed_staff
    from ajeya.billing.seed import seed_billing
    from ajeya.core.roles import Role
    from ajeya.core.seed import seed_departments
    from ajeya.defense.seed import seed_defense
    from ajeya.downtime.seed import seed_downtime
    from ajeya.ipd.seed import seed_ipd_history, seed_wards
    from ajeya.lab.catalogue import load as load_lab_catalogue
    from ajeya.lab.seed import seed_lab
    from ajeya.opd.seed import seed_clinics, seed_opd_day
    from ajeya.patients.seed import seed_patients
    from ajeya.reports.seed import seed_reports

    if patients < 0:
        raise CLIError("--patients must be zero or more", EXIT_USAGE)
    departments = seed_departments()
    logins = seed_staff(departments)
    clerks = list(User.objects.filter(role=Role.REGISTRATION_CLERK).order_by("pk"))
    with _progress() as progress:
        task = progress.add_task("Patients", total=patients)
        seed_patients(
            patients, seed=seed, clerks=clerks, progress=lambda n: progress.advance(task, n)
        )
    with _progress() as progress:
        task = progress.add_task("Clinics, bookings and today's OPD", total=None)
        load_lab_catalogue()  # before the OPD day: its doctors order lab tests
        clinics = seed_clinics(departments)
        day = seed_opd_day(seed=seed)
        progress.update(task, total=1, completed=1)
        task = progress.add_task("Wards and two weeks of admissions", total=None)
        wards = seed_wards(departments)
        ward_history = seed_ipd_history(seed=seed)
        progress.update(task, total=1, completed=1)
        task = progress.add_task("Laboratory: a week of work and today's samples", total=None)
        lab = seed_lab(seed=seed)
        progress.update(task, total=1, completed=1)
        task = progress.add_task("Billing: tariff, charges and a day at the counters", total=None)
        billing = seed_billing(seed=seed)
        progress.update(task, total=1, completed=1)
        task = progress.add_task("Reports: schedules and their first runs", total=None)
        reports = seed_reports()
        progress.update(task, total=1, completed=1)
        task = progress.add_task("Downtime: a kit, paper forms entered back", total=None)
        downtime = seed_downtime(seed=seed)
        progress.update(task, total=1, completed=1)
        task = progress.add_task("Defence: canary records, a night's alerts", total=None)
        defense = seed_defense()
        progress.update(task, total=1, completed=1)
    out.print(
        f"Seeded {len(departments)} departments, {len(logins)} staff, {patients} patients, "
        f"{len(clinics)} clinics; {day['bookings']} bookings, {day['visits']} OPD visits today "
        f"({day['consultations']} seen); {len(wards)} wards, {ward_history['admissions']} "
        f"admissions in two weeks, {ward_history['inpatients']} inpatients now; "
        f"{lab['tests']} lab tests in the catalogue, {lab['orders']} lab orders seeded; "
        f"{billing['charges']} charges, {billing['bills']} bills, "
        f"{billing['payments'] + billing['deposits']} receipts; {reports['schedules']} "
        f"scheduled reports ({reports['runs']} in the archive); {downtime['kits']} downtime "
        f"kit(s), {downtime['entries']} paper forms entered back; {defense['canaries']} "
        f"canary records, {defense['alerts']} security alerts."
    )
    return logins


def cmd_createadmin(args: argparse.Namespace) -> int:
    from ajeya.accounts import services
    from ajeya.core.roles import MFA_REQUIRED_ROLES

    password = _read_new_password(args.password_stdin)
    user = services.user_create(
        actor=None,
        username=args.username,
        full_name=args.full_name,
        role=args.role,
        password=password,
    )
    out.print(f"Created {user.username} ({user.get_role_display()}).")
    if user.role in MFA_REQUIRED_ROLES:
        out.print("They will set up two-factor authentication at their first login.")
    return 0


def _read_new_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise CLIError("no password on standard input")
        return password
    if not sys.stdin.isatty():
        raise CLIError("no terminal to ask for a password; use --password-stdin", EXIT_USAGE)
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise CLIError("the two passwords differ")
    return first


def _gunicorn_argv(args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "ajeya.config.wsgi:application",
        "--bind",
        f"{args.host}:{args.port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--access-logfile",
        "-",
        "--forwarded-allow-ips",
        "127.0.0.1",
    ]


def cmd_serve(args: argparse.Namespace) -> int:
    out.print(f"Serving Ajeya at http://{args.host}:{args.port}/ (Ctrl+C stops it)")
    sys.stdout.flush()
    argv = _gunicorn_argv(args)
    os.execv(sys.executable, argv)  # noqa: S606 - replaces this process with gunicorn
    return 0  # pragma: no cover


def _serve_with_worker(args: argparse.Namespace) -> int:
    """The web server and the background worker together, stopped together."""
    import subprocess

    worker = subprocess.Popen([sys.executable, "-m", "ajeya", "worker"])
    out.print(f"Serving Ajeya at http://{args.host}:{args.port}/ with a worker (Ctrl+C stops both)")
    sys.stdout.flush()
    web = subprocess.Popen(_gunicorn_argv(args))  # noqa: S603
    try:
        return web.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for process in (web, worker):
            if process.poll() is None:
                process.terminate()
        for process in (web, worker):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def cmd_demo(args: argparse.Namespace) -> int:
    from django.conf import settings

    from ajeya.core import clock
    from ajeya.ledger import checkpoints, verification
    from ajeya.patients.models import Patient

    cmd_migrate(args)
    if Patient.objects.exists():
        out.print("Demo data is already there; giving the demo accounts fresh passwords.")
        logins = run_seed(patients=0, seed=args.seed)
    else:
        logins = run_seed(patients=args.patients, seed=args.seed)
    if not Path(settings.AJEYA_LEDGER_SIGNING_KEY).exists():
        kid = checkpoints.generate_keys(
            Path(settings.AJEYA_LEDGER_SIGNING_KEY), Path(settings.AJEYA_LEDGER_PUBLIC_KEY)
        )
        out.print(f"Made the ledger signing key {kid} in {settings.AJEYA_LEDGER_SIGNING_KEY}.")
    _, path = checkpoints.create()
    out.print(f"Signed a ledger checkpoint: {path.name}")
    started = clock.now()
    report = verification.verify()
    verification.save_run(report, trigger="demo", started_at=started)
    out.print(
        f"Verified {report.entries_checked:,} ledger entries and {report.rows_checked:,} rows: "
        + ("clean." if report.ok else f"{len(report.findings)} finding(s) — run `ajeya verify`.")
    )
    from ajeya.resilience import demo as recovery_demo

    with out.status("Backing up, shipping the ledger and drilling a restore…"):
        recovery = recovery_demo.set_up(Path(settings.VAR_DIR).parent)
    out.print(
        f"Backed up to {settings.AJEYA_BACKUP_TARGETS[recovery.target]['where']}; restore "
        + (
            f"drill passed in {recovery.drill_seconds:.1f} s."
            if recovery.drill_ok
            else f"drill FAILED: {recovery.drill_message}"
        ),
        markup=False,
    )
    if recovery.key_file:
        out.print(
            f"DEMO ONLY: the private backup key is at {recovery.key_file}; a hospital keeps "
            "it off the server (docs/recovery.md).",
            markup=False,
        )
    from ajeya.downtime.seed import DEMO_PASSPHRASE, demo_snapshots

    files, where = demo_snapshots()
    out.print(
        f"Downtime snapshots: {files} files in {where} (open one in a browser; DEMO ONLY "
        f"passphrase for every ward: {DEMO_PASSPHRASE}; docs/downtime.md).",
        markup=False,
    )
    print_logins(logins, url=f"http://{args.host}:{args.port}/")
    if args.no_serve:
        return 0
    return _serve_with_worker(args)


def cmd_keygen(args: argparse.Namespace) -> int:
    from django.conf import settings

    from ajeya.ledger import checkpoints

    private = Path(args.private or settings.AJEYA_LEDGER_SIGNING_KEY)
    public = Path(args.public or settings.AJEYA_LEDGER_PUBLIC_KEY)
    kid = checkpoints.generate_keys(private, public)
    out.print(f"Ledger signing key {kid} made.")
    out.print(f"  private (signs checkpoints; stays on this server, mode 0600): {private}")
    out.print(f"  public  (verifies them; copy it off this machine and print it): {public}")
    out.print(public.read_text().strip(), markup=False)
    return 0


def cmd_checkpoint(args: argparse.Namespace) -> int:
    import segno

    from ajeya.ledger import checkpoints

    checkpoint, path = checkpoints.create(Path(args.dir) if args.dir else None)
    out.print(f"Signed checkpoint written to {path}\n")
    out.print(checkpoint.paper_text(), markup=False)
    if not args.no_qr:
        qr = segno.make(checkpoint.paper_text(), error="m")
        buffer = io.StringIO()
        qr.terminal(out=buffer, compact=True)
        out.print(buffer.getvalue(), markup=False, highlight=False)
    return 0


def cmd_grant(args: argparse.Namespace) -> int:
    from django.db import connection

    from ajeya.ledger import guards

    if connection.vendor != "postgresql":
        raise CLIError("app roles exist on PostgreSQL only; SQLite relies on the triggers", 2)
    with connection.cursor() as cursor:
        for sql in guards.app_role_grants(args.role):
            cursor.execute(sql)
    out.print(f"{args.role} may now only read and append to the ledger tables.")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    import json

    from ajeya.core import clock
    from ajeya.ledger import checkpoints, verification

    if args.workers < 1:
        raise CLIError("--workers must be at least 1", EXIT_USAGE)
    public_key = checkpoints.load_public_key(Path(args.public_key)) if args.public_key else None
    checkpoint = checkpoints.load(Path(args.checkpoint), public_key) if args.checkpoint else None
    started = clock.now()
    # With --json, standard output carries the report only: no progress bars.
    with contextlib.nullcontext() if args.json else _progress() as progress:
        tasks: dict[str, int] = {}

        def advance(table: str, n: int) -> None:
            if progress is None:
                return
            if table not in tasks:
                tasks[table] = progress.add_task(table, total=None)
            progress.advance(tasks[table], n)

        report = verification.verify(
            checkpoint=checkpoint,
            use_checkpoint_dir=not args.checkpoint,
            public_key=public_key,
            progress=advance,
            workers=args.workers,
        )
    if not args.no_save:
        verification.save_run(report, trigger="cli", started_at=started)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        for note in report.notes:
            out.print(f"note: {note}")
        for finding in report.findings:
            out.print(f"FINDING {finding.line()}", markup=False)
        verdict = "clean" if report.ok else f"{len(report.findings)} finding(s)"
        first = f", first bad entry #{report.first_bad_seq}" if report.first_bad_seq else ""
        out.print(
            f"Verified {report.entries_checked:,} ledger entries and {report.rows_checked:,} "
            f"rows in {report.seconds:.1f} s: {verdict}{first}."
        )
    return 0 if report.ok else 1


def cmd_worker(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    from ajeya.defense.watch import Watcher
    from ajeya.resilience.shipping import Shipper

    out.print(
        "Ajeya worker: ledger shipping, intrusion detection, backups, checkpoints, "
        "verification and the other scheduled jobs (Ctrl+C stops it)"
    )
    shipper, watcher = Shipper(), Watcher()
    shipper.start()
    watcher.start()
    try:
        call_command("run_huey")
    finally:
        shipper.stop()
        watcher.stop()
    return 0


def cmd_lab_catalogue(args: argparse.Namespace) -> int:
    """Load a laboratory catalogue file (the starter one by default); existing codes stay."""
    from ajeya.lab import catalogue

    path = Path(args.file) if args.file else catalogue.STARTER
    loaded = catalogue.load(path)
    out.print(
        f"Loaded {path.name}: {loaded.tests} new tests, {loaded.panels} new panels, "
        f"{loaded.analyzers} new analyzers, {loaded.mappings} new analyzer codes "
        "(codes already in the catalogue were left as they are).",
        markup=False,
    )
    return 0


def cmd_billing_tariff(args: argparse.Namespace) -> int:
    """Load a tariff file (the starter one by default): new items and price periods."""
    from ajeya.billing import tariff

    path = Path(args.file) if args.file else tariff.STARTER
    loaded = tariff.load(path)
    out.print(
        f"Loaded {path.name}: {loaded.items} new tariff items, {loaded.prices} new price "
        "periods (items already in the tariff were left as they are).",
        markup=False,
    )
    return 0


def cmd_billing_capture(args: argparse.Namespace) -> int:
    """Post the charges for services given in the last days (the worker does this every
    minute; running it again posts nothing twice)."""
    from ajeya.billing import capture

    if args.days < 1:
        raise CLIError("--days must be at least 1", EXIT_USAGE)
    with _progress() as progress:
        task = progress.add_task("Capturing charges", total=None)
        result = capture.capture(days=args.days)
        progress.update(task, total=1, completed=1)
    out.print(f"{result.posted} charges posted, {result.reversed} reversed.")
    if result.unpriced:
        codes = ", ".join(sorted(set(result.unpriced)))
        out.print(f"Without a tariff price (re-price after fixing the tariff): {codes}")
    return 0


def cmd_lab_listen(args: argparse.Namespace) -> int:
    """The analyzers' HL7 (MLLP) listener, in the foreground until Ctrl+C or SIGTERM."""
    import errno
    import signal
    import threading

    from ajeya.lab.listener import Listener
    from ajeya.lab.spool import SpoolBusy
    from ajeya.lab.store_process import StoreProcess, StoreUnavailable

    # The database work in a process of its own, on the second core (ADR 0014).
    store = StoreProcess()
    listener = Listener(args.host, args.port, store=store)
    try:
        host, port = listener.start()
    except SpoolBusy as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CLIError(f"port {args.port} on {args.host} is already in use") from None
        raise CLIError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        try:
            store.start()  # now rather than on the first message (a second or two)
        except StoreUnavailable as exc:  # messages are spooled until a store process starts
            err.print(f"ajeya: warning: {exc}; messages are spooled until it starts")
        state = listener.spool.describe()
        out.print(f"Listening for HL7 (MLLP) on {host}:{port} (Ctrl+C stops it)", markup=False)
        out.print(state[0].upper() + state[1:], markup=False, soft_wrap=True)
        sys.stdout.flush()
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.stop()
        store.stop()
    out.print(f"Stopped; {listener.spool.describe()}.", markup=False, soft_wrap=True)
    return 0


def cmd_manage(args: argparse.Namespace) -> int:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["ajeya manage", *args.rest])
    return 0


# --- output helpers ------------------------------------------------------------------


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=False,
    )


def print_logins(logins, url: str | None = None) -> None:
    table = Table(title="Demo logins (passwords are new on every run)")
    table.add_column("Username")
    table.add_column("Password")
    table.add_column("Role")
    table.add_column("Two-factor")
    for login in logins:
        table.add_row(
            login.username,
            login.password,
            login.role,
            "set up at first login" if login.needs_two_factor else "optional",
        )
    out.print(table)
    if url:
        out.print(f"Open {url} and log in with one of the accounts above.")


# --- parser and entry point ----------------------------------------------------------


def command_group(add: Callable, name: str, help_text: str) -> Callable:
    """A command with actions (`ajeya lab listen`, `ajeya lockdown on`): adds the command
    through `add` and returns `action(name, func, help_text) -> parser` for each of its
    actions. Only one command is parsed a run, so one `action_func` serves them all."""
    group = add(name, lambda a: a.action_func(a), help_text)
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(action_name: str, func: Callable, action_help: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(action_name, help=action_help)
        parser.set_defaults(action_func=func)
        return parser

    return action


def build_parser() -> argparse.ArgumentParser:
    from ajeya.core.roles import Role

    parser = argparse.ArgumentParser(prog="ajeya", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    def serve_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.add_argument("--workers", type=int, default=2)
        p.add_argument("--threads", type=int, default=4)

    demo = add("demo", cmd_demo, "migrate, seed a demo hospital, print the logins, serve it")
    serve_options(demo)
    demo.add_argument("--patients", type=int, default=300)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--no-serve", action="store_true", help="stop after seeding")

    serve_options(add("serve", cmd_serve, "serve the web application with gunicorn"))
    add("migrate", cmd_migrate, "create or update the database schema")

    seed = add("seed", cmd_seed, "add demo departments, staff and patients (deterministic)")
    seed.add_argument("--patients", type=int, default=300)
    seed.add_argument("--seed", type=int, default=1)

    admin = add("createadmin", cmd_createadmin, "create an administrator account")
    admin.add_argument("--username", required=True)
    admin.add_argument("--full-name", required=True)
    admin.add_argument("--role", choices=Role.values, default=Role.HOSPITAL_ADMIN)
    admin.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    ledger_action = command_group(add, "ledger", "the ledger: keys, checkpoints, roles")
    keygen = ledger_action("keygen", cmd_keygen, "make the checkpoint signing key pair")
    keygen.add_argument("--private", help="where to write the private key")
    keygen.add_argument("--public", help="where to write the public key")
    cp = ledger_action("checkpoint", cmd_checkpoint, "sign the chain heads now; print for paper")
    cp.add_argument("--dir", help="write the checkpoint here instead of AJEYA_CHECKPOINT_DIR")
    cp.add_argument("--no-qr", action="store_true", help="do not print the QR code")
    grant = ledger_action("grant-app-role", cmd_grant, "PostgreSQL: make ROLE read/append-only")
    grant.add_argument("role")

    verify = add("verify", cmd_verify, "check the ledger, every seal and the newest checkpoint")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument("--checkpoint", help="check against this checkpoint file")
    verify.add_argument("--public-key", help="verify checkpoints with this public key")
    verify.add_argument("--no-save", action="store_true", help="do not record this run")
    verify.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes checking chains and tables side by side (default: one per core)",
    )

    add("worker", cmd_worker, "run background jobs: checkpoints, scheduled verification")

    lab_action = command_group(add, "lab", "the laboratory: HL7 listener, catalogue")
    listen = lab_action("listen", cmd_lab_listen, "receive analyzers' results (HL7 over MLLP)")
    listen.add_argument("--host", default="0.0.0.0", help="address to listen on")  # noqa: S104
    listen.add_argument("--port", type=int, default=2575)
    cat = lab_action("catalogue", cmd_lab_catalogue, "load tests, panels and analyzers from a file")
    cat.add_argument("file", nargs="?", help="a catalogue TOML file (default: the starter one)")

    billing = command_group(add, "billing", "billing: tariff, charge capture")
    tariff = billing("tariff", cmd_billing_tariff, "load tariff items and prices from a file")
    tariff.add_argument("file", nargs="?", help="a tariff TOML file (default: the starter one)")
    cap = billing("capture", cmd_billing_capture, "post charges for services not yet charged")
    cap.add_argument("--days", type=int, default=3, help="how far back to look (default 3)")

    from ajeya.resilience.cli import add_commands as add_recovery

    add_recovery(sub, add)

    from ajeya.downtime.cli import add_commands as add_downtime

    add_downtime(sub, add)

    from ajeya.defense.cli import add_commands as add_lockdown

    add_lockdown(sub, add)

    manage = add("manage", cmd_manage, "run a Django management command")
    manage.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError

    try:
        _setup_django()
        args = build_parser().parse_args(argv)
        from ajeya.core import context
        from ajeya.core.errors import ApplicationError

        ctx = context.RequestContext(
            user_agent=f"ajeya {args.command}",
            request_id=context.new_request_id(),
            channel="cli",
        )
        try:
            with context.bind(ctx):
                return args.func(args)
        except ApplicationError as exc:
            raise CLIError(exc.message, exc.exit_code) from None
    except CLIError as exc:
        err.print(f"ajeya: error: {exc}")
        return exc.exit_code
    except ImproperlyConfigured as exc:
        err.print(f"ajeya: configuration error: {exc}")
        return EXIT_USAGE
    except DatabaseError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        err.print(f"ajeya: database error: {first_line}")
        return 1
    except OSError as exc:
        err.print(f"ajeya: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return 1
    except KeyboardInterrupt:
        err.print("ajeya: interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
