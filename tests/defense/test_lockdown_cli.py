"""`ajeya lockdown on|off|status`: the switch from the console, two people with their
codes to switch off, and each refusal in one line with its exit code."""

from __future__ import annotations

import io
import sys

import pytest

from ajeya.cli import main
from ajeya.core.roles import Role
from ajeya.defense import lockdown
from ajeya.defense.models import Lockdown
from tests.defense.test_lockdown import REASON, code_now

pytestmark = pytest.mark.django_db


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return " ".join(err.split())


def _stdin(monkeypatch, *lines: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))


def test_on_status_and_off_by_two_people(priya, arun, capsys, monkeypatch):
    assert main(["lockdown", "status"]) == 0
    assert "No lockdown" in capsys.readouterr().out
    assert main(["lockdown", "on", "--reason", REASON]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "by the server operator: read-only except emergency functions" in said
    assert "0 session(s) ended" in said
    assert main(["lockdown", "status"]) == 0
    assert f"Reason: {REASON}" in capsys.readouterr().out

    _stdin(monkeypatch, code_now(priya), code_now(arun))
    off = ["lockdown", "off", "--by", "priya", "--confirm-by", "arun", "--note", "all clean"]
    assert main(off) == 0
    assert "Lockdown is off: asked by priya, confirmed by arun" in capsys.readouterr().out
    ended = Lockdown.objects.get()
    assert (ended.off_requested_by, ended.ended_by, ended.current) == (priya, arun, None)


def test_on_by_a_named_person_needs_their_code(priya, capsys, monkeypatch):
    _stdin(monkeypatch, code_now(priya))
    assert main(["lockdown", "on", "--reason", REASON, "--by", "priya"]) == 0
    assert lockdown.active().started_by == priya
    assert main(["lockdown", "on", "--reason", REASON]) == 1
    assert "Lockdown is already on" in _one_line(capsys)


def test_off_confirms_a_request_made_on_the_page(priya, arun, capsys, monkeypatch):
    lockdown.lockdown_on(actor=priya, reason=REASON)
    lockdown.lockdown_off_request(actor=priya, note="asked on the page")
    _stdin(monkeypatch, code_now(priya), code_now(arun))
    off = ["lockdown", "off", "--by", "priya", "--confirm-by", "arun", "--note", "all clean"]
    assert main(off) == 0
    assert lockdown.active() is None


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["--by", "priya", "--confirm-by", "priya"], 2, "two different people"),
        (["--by", "nobody", "--confirm-by", "arun"], 2, "no staff account 'nobody'"),
        (["--by", "priya", "--confirm-by", "drsen"], 3, "drsen (Doctor) may not switch"),
    ],
)
def test_off_refusals(priya, arun, make_user, capsys, argv, code, says):
    make_user(Role.DOCTOR, username="drsen")
    lockdown.lockdown_on(actor=None, reason=REASON)
    assert main(["lockdown", "off", *argv, "--note", "all clean"]) == code
    assert says in _one_line(capsys)
    assert lockdown.active() is not None


def test_off_refuses_a_wrong_or_missing_code(priya, arun, capsys, monkeypatch):
    lockdown.lockdown_on(actor=None, reason=REASON)
    off = ["lockdown", "off", "--by", "priya", "--confirm-by", "arun", "--note", "all clean"]
    good = code_now(priya)
    _stdin(monkeypatch, good, "000000" if code_now(arun) != "000000" else "111111")
    assert main(off) == 3
    assert "arun: That code is wrong or expired" in _one_line(capsys)
    _stdin(monkeypatch, code_now(priya))
    assert main(off) == 2
    assert "no two-factor code for arun on standard input" in _one_line(capsys)
    assert lockdown.active().off_requested_by is None  # nothing done before both codes


def test_off_without_a_lockdown_and_on_without_a_reason(priya, arun, capsys):
    off = ["lockdown", "off", "--by", "priya", "--confirm-by", "arun", "--note", "all clean"]
    assert main(off) == 1
    assert "there is no lockdown to switch off" in _one_line(capsys)
    assert main(["lockdown", "on", "--reason", "x"]) == 1
    assert "Say why the system is locked down" in _one_line(capsys)


def test_console_writes_are_refused_too(capsys, monkeypatch):
    lockdown.lockdown_on(actor=None, reason=REASON)
    _stdin(monkeypatch, "correct-horse-battery-7")
    create = ["createadmin", "--username", "late", "--full-name", "Late Admin",
              "--password-stdin"]  # fmt: skip
    assert main(create) == 4
    assert "The system is in lockdown since" in _one_line(capsys)
