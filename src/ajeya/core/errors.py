"""One family of application errors, each with a stable code and a message for people.

Views, the API and the CLI map these in one place each (core.middleware for HTTP,
ajeya.cli for the command line), so a user never sees a traceback.
"""

from __future__ import annotations


class ApplicationError(Exception):
    code = "error"
    http_status = 400
    exit_code = 1

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def __str__(self) -> str:
        return self.message

    @property
    def human(self) -> str:
        """The message as a person reads it on a page (no field names)."""
        return self.message


class ValidationFailed(ApplicationError):
    """Input was refused; `errors` maps a field name (or "__all__") to messages."""

    code = "invalid"
    http_status = 422

    def __init__(self, errors: dict[str, list[str]] | str, *, code: str | None = None) -> None:
        if isinstance(errors, str):
            errors = {"__all__": [errors]}
        self.errors = errors
        summary = "; ".join(
            " ".join(msgs) if field == "__all__" else f"{field}: {' '.join(msgs)}"
            for field, msgs in errors.items()
        )
        super().__init__(summary, code=code)

    @property
    def human(self) -> str:
        return " ".join(m for msgs in self.errors.values() for m in msgs)


class PermissionRefused(ApplicationError):
    code = "forbidden"
    http_status = 403
    exit_code = 3


class NotFound(ApplicationError):
    code = "not_found"
    http_status = 404


class Conflict(ApplicationError):
    code = "conflict"
    http_status = 409


class Locked(ApplicationError):
    """The hospital is in lockdown: read-only except the emergency functions, until two
    people switch it off (defense.lockdown)."""

    code = "locked"
    http_status = 423
    exit_code = 4
