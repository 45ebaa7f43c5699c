"""Settings come from the environment, are all documented, and SQLite runs in WAL mode."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

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
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["AJEYA_VAR_DIR"] = str(tmp_path)
    subprocess.run(
        [sys.executable, "-m", "ajeya", "migrate"], env=env, check=True, capture_output=True
    )
    database = tmp_path / "ajeya.sqlite3"
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unknown_default_state_is_refused(tmp_path):
    env = {**os.environ, "AJEYA_DEFAULT_STATE": "XX", "AJEYA_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "ajeya", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "AJEYA_DEFAULT_STATE 'XX' is not a state code" in result.stderr
