"""Settings come from the environment, are all documented, and SQLite runs in WAL mode."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_ajeya

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "src/ajeya/config/settings.py"


def knobs() -> set[str]:
    text = SETTINGS.read_text()
    return set(re.findall(r'env(?:_int|_bool|_list)?\("([A-Z_]+)"', text))


def test_every_knob_is_documented():
    names = knobs()
    assert {"DATABASE_URL", "AJEYA_VAR_DIR", "AJEYA_SESSION_IDLE_MINUTES"} <= names
    docs = (ROOT / "docs/configuration.md").read_text()
    example = (ROOT / ".env.example").read_text()
    assert sorted(n for n in names if f"`{n}`" not in docs) == []
    assert sorted(n for n in names if n not in example) == []


def test_no_secret_is_committed():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    assert not [p for p in tracked if p.startswith("var/") or p.endswith("secret_key")]
    assert "SECRET_KEY = " in SETTINGS.read_text()
    assert not re.search(r'SECRET_KEY = "[^"]+"', SETTINGS.read_text())


def test_the_embedded_database_is_sqlite_in_wal_mode(tmp_path):
    # Any command that opens the database will do; migrating all apps takes seconds more.
    opened = run_ajeya(
        "manage", "showmigrations", "ledger", DATABASE_URL="", AJEYA_VAR_DIR=str(tmp_path)
    )
    assert opened.returncode == 0, opened.stderr
    database = tmp_path / "ajeya.sqlite3"
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unknown_default_state_is_refused(tmp_path):
    result = run_ajeya("migrate", AJEYA_DEFAULT_STATE="XX", AJEYA_VAR_DIR=str(tmp_path))
    assert result.returncode == 2
    assert "AJEYA_DEFAULT_STATE 'XX' is not a state code" in result.stderr
