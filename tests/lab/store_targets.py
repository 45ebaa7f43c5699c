"""Batch stores for the store process's tests, run in the child in place of
`analyzer_messages_store` (`StoreProcess(target="tests.lab.store_targets:...")`)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ajeya.lab.services import analyzer_messages_store

MARK = "AJEYA_TEST_STORE_MARK"  # a file: present once the child has done its one trick


def _first_time() -> bool:
    mark = Path(os.environ[MARK])
    if mark.exists():
        return False
    mark.write_text("done")
    return True


def stores_then_dies(messages):
    """Commits the batch, then dies before answering (the first time only)."""
    outcomes = analyzer_messages_store(messages)
    if _first_time():
        os._exit(3)
    return outcomes


def dies_on_poison(messages):
    """Dies, as a crash of the interpreter would, on any batch holding a KILL message."""
    if any(m.control_id.startswith("KILL") for m in messages):
        os._exit(4)
    return analyzer_messages_store(messages)


def refuses_poison(messages):
    """Fails any batch holding a control id starting POISON, as a bug would."""
    if any(m.control_id.startswith("POISON") for m in messages):
        raise ValueError("a bug met a poisoned message")
    return analyzer_messages_store(messages)


def hangs(messages):
    """Never answers (the first time only), as a store stuck on a lock would."""
    if _first_time():
        threading.Event().wait()
    return analyzer_messages_store(messages)


def says_its_timeouts(messages):
    """Answers each message with its database session's lock and statement timeouts."""
    from django.db import connection

    from ajeya.lab.services import Outcome

    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        lock = cursor.fetchone()[0]
        cursor.execute("SHOW statement_timeout")
        statement = cursor.fetchone()[0]
    return [Outcome(ack="AA", text=f"{lock} {statement}") for _ in messages]
