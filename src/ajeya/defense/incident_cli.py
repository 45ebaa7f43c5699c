"""`ajeya incident list|export`: the incidents, and an incident's evidence bundle written
from the server's console (onto a USB stick, say) without a browser."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_list(args: argparse.Namespace) -> int:
    from rich.table import Column, Table

    from ajeya.cli import out
    from ajeya.core import clock
    from ajeya.defense import certin
    from ajeya.defense.incident_selectors import incident_list

    rows = list(incident_list()[:200])
    if not rows:
        out.print("No incidents.")
        return 0
    table = Table("Title", "Status", "Detected (IST)", "CERT-In report", "Alerts")
    table.columns.insert(0, Column("Incident", no_wrap=True))
    for i in rows:
        detected = f"{clock.local(i.detected_at):%d-%m-%Y %H:%M}"
        table.add_row(
            i.number,
            i.title,
            i.get_status_display(),
            detected,
            certin.deadline(i).text,
            str(i.alert_count),
        )
    out.print(table)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from django.conf import settings

    from ajeya.cli import EXIT_USAGE, CLIError, out
    from ajeya.defense import evidence
    from ajeya.defense.incident_selectors import incident_get

    if args.out:
        target = Path(args.out)
        if not target.is_dir():
            raise CLIError(f"{target} is not a directory (is the USB stick mounted?)", EXIT_USAGE)
    else:
        target = Path(settings.VAR_DIR) / "evidence"
        target.mkdir(parents=True, exist_ok=True)
    found = incident_get(args.number)
    with out.status(f"Writing the evidence of {found.number}…"):
        path = evidence.export(found, target)
    out.print(
        f"Evidence of {found.number}: {path} ({path.stat().st_size / 1e3:,.0f} kB).", markup=False
    )
    out.print("Check it: README.txt inside; manifest.json has every file's SHA-256.", markup=False)
    return 0


def add_commands(sub, add) -> None:
    from ajeya.cli import command_group

    action = command_group(add, "incident", "security incidents: list, export")
    action("list", cmd_list, "the incidents, with their CERT-In deadlines")
    export = action("export", cmd_export, "write an incident's evidence bundle (a zip)")
    export.add_argument("number", help="the incident's number, e.g. INC-2026-0001")
    export.add_argument(
        "--out", metavar="DIR", help="directory for the zip (default: AJEYA_VAR_DIR/evidence)"
    )
