"""`ajeya downtime …`: snapshot passphrases, writing and checking snapshots, paper kits."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _locations(args: argparse.Namespace):
    from ajeya.cli import EXIT_USAGE, CLIError
    from ajeya.downtime import snapshots

    if args.ward:
        return [snapshots.find_location(ward=args.ward)]
    if args.department:
        return [snapshots.find_location(department=args.department)]
    if getattr(args, "all", True):
        return snapshots.all_locations()
    raise CLIError("name a location: --ward CODE, --department CODE or --all", EXIT_USAGE)


def cmd_keys(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ajeya.cli import out
    from ajeya.downtime import snapshots

    wanted = _locations(args)
    if args.passphrase_stdin:
        passphrase = sys.stdin.readline().strip()
        for location in wanted:
            snapshots.key_set(location.id, passphrase)
        out.print(f"Passphrase set for {len(wanted)} location(s).")
        return 0
    made = snapshots.keys_make(wanted, rotate=args.rotate)
    if not made:
        out.print("Every location named already has a passphrase (use --rotate to replace).")
        return 0
    table = Table("Location", "Passphrase", title="Downtime snapshot passphrases")
    titles = {w.id: w.title for w in wanted}
    for location_id, passphrase in made.items():
        table.add_row(titles[location_id], passphrase)
    out.print(table)
    out.print(
        "Give each passphrase to its location (sealed envelope at the nursing station). "
        "It is not stored and cannot be shown again; files made from now on need it."
    )
    return 0


def cmd_write(args: argparse.Namespace) -> int:
    from django.conf import settings

    from ajeya.cli import CLIError, out
    from ajeya.downtime import snapshots
    from ajeya.resilience.cli import _bars

    with _bars() as progress:
        written = snapshots.write(progress=progress)
    good = [w for w in written if not w.error]
    out.print(
        f"{len(good)} snapshot(s) written to {settings.AJEYA_DOWNTIME_DIR}, "
        f"{sum(w.size for w in good) / 1e6:,.1f} MB.",
        markup=False,
    )
    failed = [w for w in written if w.error]
    if failed:
        raise CLIError("; ".join(f"{w.location.id}: {w.error}" for w in failed[:5]))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ajeya.cli import EXIT_USAGE, CLIError, out
    from ajeya.downtime import snapshots

    if bool(args.ward) == bool(args.department):
        raise CLIError("name one location: --ward CODE or --department CODE", EXIT_USAGE)
    target = Path(args.to)
    if not target.is_dir():
        raise CLIError(
            f"{target} is not a directory (a USB stick or share must be mounted)", EXIT_USAGE
        )
    (written,) = snapshots.export(_locations(args)[0], target)
    if written.error:
        raise CLIError(f"{written.location.id}: {written.error}")
    out.print(f"Wrote {written.path} ({written.size / 1e3:,.0f} kB, {written.patients} patients).",
              markup=False)  # fmt: skip
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from ajeya.cli import EXIT_USAGE, CLIError, out
    from ajeya.downtime import envelope

    path = Path(args.file)
    if not path.is_file():
        raise CLIError(f"{path}: no such file", EXIT_USAGE)
    try:
        document = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CLIError(f"{path}: not a downtime snapshot (not text)") from None
    if args.passphrase_stdin:
        header, inner = envelope.open_document(document, sys.stdin.readline())
        rows = inner.count("<tr data-row>")
        out.print(f"{path}: opens, {header.title}, made {header.made_at_text}, {rows} rows.",
                  markup=False)  # fmt: skip
    else:
        header, _ = envelope.read_header(document)
        out.print(f"{path}: intact, {header.title}, made {header.made_at_text}.", markup=False)
    return 0


def cmd_kit(args: argparse.Namespace) -> int:
    from django.conf import settings

    from ajeya.cli import EXIT_USAGE, CLIError, out
    from ajeya.downtime import printing, selectors, services

    out_dir = Path(args.out) if args.out else Path(settings.AJEYA_DOWNTIME_DIR) / "kits"
    if args.out and not out_dir.is_dir():
        raise CLIError(f"{out_dir} is not a directory", EXIT_USAGE)
    kit = services.kit_create(
        actor=None, department=args.department, uhids=args.uhids, accessions=args.accessions,
        receipts=args.receipts, system=True,
    )  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"downtime-kit-{kit.number}.pdf"
    path.write_bytes(printing.kit_pdf(selectors.kit_print(kit), printed_by="ajeya downtime kit"))
    out.print(f"Kit {kit.number} for {kit.department.name}: reserved", markup=False)
    for line in selectors.kit_ranges(kit):
        out.print(f"  {line}", markup=False)
    out.print(f"Forms to print: {path}", markup=False)
    return 0


def add_commands(sub, add) -> None:
    from ajeya.cli import command_group

    action = command_group(add, "downtime", "care during downtime")

    def where(p, *, every: bool) -> None:
        p.add_argument("--ward", default="", help="a ward's code")
        p.add_argument("--department", default="", help="an OPD department's code")
        if every:
            p.add_argument("--all", action="store_true", help="every ward and OPD department")

    keys = action("keys", cmd_keys, "make the passphrases the ward PCs open snapshots with")
    where(keys, every=True)
    keys.add_argument("--rotate", action="store_true", help="replace existing passphrases")
    keys.add_argument("--passphrase-stdin", action="store_true",
                      help="set a passphrase of your own, read from stdin")  # fmt: skip

    action("write", cmd_write, "write every location's snapshot now (the worker does)")

    export = action("export", cmd_export, "write one location's snapshot into a directory")
    where(export, every=False)
    export.add_argument("--to", required=True, help="directory (a USB stick, a share)")

    check = action("check", cmd_check, "check a snapshot file is intact (and opens)")
    check.add_argument("file")
    check.add_argument("--passphrase-stdin", action="store_true",
                       help="also open it with the passphrase read from stdin")  # fmt: skip

    kit = action("kit", cmd_kit, "reserve numbers for a department's paper forms; print them")
    kit.add_argument("--department", required=True, help="the department's code")
    for kind, what in (("uhids", "UHIDs"), ("accessions", "lab accession numbers"),
                       ("receipts", "receipt numbers")):  # fmt: skip
        kit.add_argument(f"--{kind}", type=int, default=0, metavar="N", help=f"how many {what}")
    kit.add_argument("--out", help="directory for the PDF (default: AJEYA_DOWNTIME_DIR/kits)")
