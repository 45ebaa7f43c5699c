"""The console handler follows sys.stderr: a line logged after stderr was replaced (and
the old one closed) reaches the new one instead of failing."""

from __future__ import annotations

import io
import logging
import sys

from ajeya.core.logs import StderrHandler


def test_the_console_handler_is_the_configured_one():
    assert any(isinstance(h, StderrHandler) for h in logging.getLogger().handlers)


def test_a_line_goes_to_the_stderr_of_the_moment(monkeypatch):
    handler = StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("ajeya.tests.logs")
    logger.addHandler(handler)
    logger.propagate = False
    failures = []
    monkeypatch.setattr(handler, "handleError", lambda record: failures.append(record))
    try:
        first = io.StringIO()
        monkeypatch.setattr(sys, "stderr", first)
        logger.warning("one")
        assert first.getvalue() == "WARNING one\n"
        first.close()  # as pytest closes a test's capture
        second = io.StringIO()
        monkeypatch.setattr(sys, "stderr", second)
        logger.warning("two")
        assert second.getvalue() == "WARNING two\n"
        assert failures == []
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
