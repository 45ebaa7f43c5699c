"""A whole hospital outside the test database: its own var/, its own database (a SQLite
file, or a fresh PostgreSQL database on the server the suite runs against), driven
through the `ajeya` command in child processes, as an operator would."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")


def _pg_admin():
    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    return psycopg.connect(urlunparse(url._replace(path="/postgres")), autocommit=True)


@dataclass
class Hospital:
    root: Path
    var: Path
    target: Path
    database_url: str = ""
    keyfile: Path | None = None
    databases: list[str] = field(default_factory=list)

    def env(self, var: Path | None = None, database_url: str | None = None, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AJEYA_")}
        env.pop("DATABASE_URL", None)
        env.update(
            AJEYA_VAR_DIR=str(var or self.var),
            AJEYA_BACKUP_TARGETS=f"usb={self.target}",
            AJEYA_SHIP_SECONDS="1",
            AJEYA_PASSWORD_MIN_LENGTH="10",
        )
        url = self.database_url if database_url is None else database_url
        if url:
            env["DATABASE_URL"] = url
        env.update(extra)
        return env

    def run(self, *args: str, check: bool = True, var: Path | None = None,
            database_url: str | None = None, **extra) -> subprocess.CompletedProcess:  # fmt: skip
        result = subprocess.run(
            [sys.executable, "-m", "ajeya", *args],
            env=self.env(var, database_url, **extra),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"ajeya {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n"
                f"{result.stderr}"
            )
        return result

    def python(self, code: str, *, var: Path | None = None,
               database_url: str | None = None) -> subprocess.Popen:  # fmt: skip
        """Start a Python child with Django set up for this hospital."""
        prelude = (
            "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
            "'ajeya.config.settings'); django.setup()\n"
        )
        return subprocess.Popen(
            [sys.executable, "-c", prelude + code],
            env=self.env(var, database_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def fresh_place(self, name: str) -> tuple[Path, str]:
        """A clean machine's var/ and database (an empty PostgreSQL database)."""
        var = self.root / f"{name}-{secrets.token_hex(3)}"
        var.mkdir()
        if not ON_POSTGRES:
            return var, ""
        return var, self.new_database()

    def new_database(self) -> str:
        name = f"ajeya_rt_{secrets.token_hex(4)}"
        with _pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        url = urlparse(os.environ["DATABASE_URL"])
        return urlunparse(url._replace(path=f"/{name}"))

    def drop_databases(self) -> None:
        if not self.databases:
            return
        with _pg_admin() as conn:
            for name in self.databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_hospital(root: Path, patients: int = 8) -> Hospital:
    hospital = Hospital(root, root / "var", root / "usb")
    hospital.target.mkdir()
    if ON_POSTGRES:
        hospital.database_url = hospital.new_database()
    # The demo makes a backup key beside var/ (the private half in demo-backup-key/),
    # backs up once, ships and drills.
    hospital.run("demo", "--no-serve", "--patients", str(patients))
    hospital.keyfile = next((root / "demo-backup-key").glob("*.txt"))
    return hospital


@pytest.fixture(scope="session")
def backed_up(tmp_path_factory):
    """A demo hospital with one backup, then more work shipped after it."""
    hospital = make_hospital(tmp_path_factory.mktemp("hospital"))
    hospital.run("backup")
    hospital.run("ship")
    for _ in range(2):  # two more shipments of new work: patients, their visits, views
        hospital.run("seed", "--patients", "3")
        hospital.run("ship")
    yield hospital
    hospital.drop_databases()


def copy_target(hospital: Hospital, tmp_path: Path) -> Path:
    """A copy of the backup target a test may damage."""
    copy = tmp_path / "usb-copy"
    shutil.copytree(hospital.target, copy)
    for path in copy.rglob("*"):
        if path.is_file():
            path.chmod(0o644)
    return copy
