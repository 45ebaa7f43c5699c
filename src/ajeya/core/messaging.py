"""Text messages to patients' phones, through a backend the hospital chooses.

The default writes each message to the log: a LAN cut off from the internet reaches
no SMS gateway, and the help desk can read a code out to a caller. A hospital with
its own gateway on the LAN points AJEYA_MESSAGE_BACKEND at a class with `send()`.
"""

from __future__ import annotations

import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger("ajeya.messages")


class Backend(Protocol):
    def send(self, phone: str, text: str) -> None: ...


def masked(phone: str) -> str:
    return f"{phone[:2]}******{phone[-2:]}" if len(phone) >= 4 else "****"


class ConsoleBackend:
    """The log line gives the number masked: the help desk reads the code to a caller
    who states their number; the log does not become a list of patients' phones."""

    def send(self, phone: str, text: str) -> None:
        log.warning("message to %s: %s", masked(phone), text)


outbox: list[tuple[str, str]] = []


class MemoryBackend:
    """Tests: messages are kept in `outbox`."""

    def send(self, phone: str, text: str) -> None:
        outbox.append((phone, text))


def backend() -> Backend:
    name = settings.AJEYA_MESSAGE_BACKEND
    if name == "console":
        return ConsoleBackend()
    if name == "memory":
        return MemoryBackend()
    return import_string(name)()


def send(phone: str, text: str) -> None:
    backend().send(phone, text)
