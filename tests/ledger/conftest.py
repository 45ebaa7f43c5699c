from __future__ import annotations

import pytest
from django.db import connection

from ajeya.ledger import checkpoints, guards


@pytest.fixture
def keys(tmp_path, settings):
    """A fresh signing key pair and checkpoint directory for this test."""
    settings.AJEYA_LEDGER_SIGNING_KEY = tmp_path / "keys" / "ledger.key"
    settings.AJEYA_LEDGER_PUBLIC_KEY = tmp_path / "keys" / "ledger.pub"
    settings.AJEYA_CHECKPOINT_DIR = tmp_path / "checkpoints"
    checkpoints.generate_keys(settings.AJEYA_LEDGER_SIGNING_KEY, settings.AJEYA_LEDGER_PUBLIC_KEY)
    return settings


def raw(sql: str, params: list | None = None) -> None:
    """Play the intruder: SQL straight at the database, past every service."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


@pytest.fixture
def without_guards():
    """An intruder who already dropped the ledger's triggers (rolled back with the test)."""
    guards.drop(connection)
    yield
    guards.install(connection)
