"""Printed papers that anyone can check against the ledger.

Every document Ajeya prints (slips, prescriptions, admission sheets, discharge summaries,
bills, receipts) is printed from one ledgered record. The paper carries a QR code with
the address `/verify/<subject type>/<fingerprint>/<subject id>`, where the fingerprint is
the first 128 bits of that record's state hash when it was printed. Scanning it asks the
ledger three things:

- did the hospital ever record this record in exactly that state? (if not, the paper
  was not printed from the hospital's records: forged or altered);
- are that ledger entry and the record as it stands now intact? (if not, the hospital's
  own data was tampered with: the security team is told);
- is that state still the latest? (if not, the paper is superseded: a bill was
  cancelled, a patient's details corrected) and by what, when.

The page shows the document's kind, number and times, never a patient's details: the
code proves what the paper is; what is on it the holder already has.

The laboratory report has its own fuller check (its content hash covers every result);
see `lab.selectors.report_check`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import models
from django.urls import reverse

from ajeya.core.roles import Role
from ajeya.ledger.canonical import state_hash
from ajeya.ledger.models import LedgerAction, LedgerEntry
from ajeya.ledger.registry import REGISTRY, for_model, state_of
from ajeya.ledger.services import CHANGES, entry_digest

log = logging.getLogger(__name__)

DIGEST_LENGTH = 32  # hex characters: 128 bits, more than enough against guessing
_DIGEST = re.compile(rf"[0-9a-f]{{{DIGEST_LENGTH}}}")


@dataclass(frozen=True)
class Paper:
    title: str  # what the paper is called: "Receipt", "Discharge summary"
    name: Callable[[models.Model], str] | None  # the number printed on it, from its row
    titled: Callable[[models.Model], str] | None  # a title that depends on the row


# subject type → the paper printed from its rows
PAPERS: dict[str, Paper] = {}


def register(
    model: type[models.Model],
    title: str,
    *,
    name: Callable[[models.Model], str] | None = None,
    titled: Callable[[models.Model], str] | None = None,
) -> None:
    """Declare that papers are printed from `model`'s rows (it must be ledgered).
    `name(row)` is the number the paper shows when it is not the ledger's subject id."""
    PAPERS[for_model(model).subject_type] = Paper(title, name, titled)


class PaperStatus(models.TextChoices):
    CURRENT = "current", "Matches the hospital's record"
    SUPERSEDED = "superseded", "Was the hospital's record; since changed"
    MISMATCH = "mismatch", "Does not match"
    UNKNOWN = "unknown", "Unknown document"


@dataclass(frozen=True)
class Change:
    action: str  # its label: "Updated", "Cancelled"
    at: object  # datetime (UTC)
    role: str  # who, by role


@dataclass
class PaperCheck:
    status: str
    title: str = ""
    subject_id: str = ""
    printed_state_at: object = None  # when the hospital recorded the state on the paper
    later: list[Change] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def fingerprint(instance: models.Model) -> str:
    """The part of the record's state hash a paper carries."""
    ledgered = for_model(instance._meta.model)
    full = instance.seal if ledgered.sealed else state_hash(state_of(instance))
    return full[:DIGEST_LENGTH]


def verify_path(instance: models.Model) -> str:
    ledgered = for_model(instance._meta.model)
    if ledgered.subject_type not in PAPERS:
        raise LookupError(f"{ledgered.subject_type} is not registered as a printed paper")
    return reverse(
        "paper-verify",
        kwargs={
            "subject_type": ledgered.subject_type,
            "digest": fingerprint(instance),
            "subject_id": ledgered.subject_id(instance),
        },
    )


def verify_url(request, instance: models.Model) -> str:
    """What the paper's QR code holds: the absolute address of its public check."""
    return request.build_absolute_uri(verify_path(instance))


def check(subject_type: str, digest: str, subject_id: str) -> PaperCheck:
    """Check a printed paper's code against the ledger (see the module's docstring)."""
    paper = PAPERS.get(subject_type)
    digest = (digest or "").strip().lower()
    if paper is None or not _DIGEST.fullmatch(digest) or "\x00" in subject_id:
        return PaperCheck(PaperStatus.UNKNOWN, subject_id=subject_id.replace("\x00", ""))
    entries = list(
        LedgerEntry.objects.filter(subject_type=subject_type, subject_id=subject_id).order_by("seq")
    )
    if not entries:
        return PaperCheck(PaperStatus.UNKNOWN, paper.title, subject_id)
    ledgered = REGISTRY[subject_type]
    row = ledgered.model.objects.filter(**{ledgered.subject_attname: subject_id}).first()
    found = PaperCheck(
        PaperStatus.CURRENT,
        paper.titled(row) if paper.titled and row else paper.title,
        paper.name(row) if paper.name and row else subject_id,
    )
    matching = [e for e in entries if e.state_hash.startswith(digest)]
    if not matching:
        found.problems.append(
            f"The hospital never recorded this {found.title.lower()} in the state the "
            "paper's code names: the paper was not printed from the hospital's records, "
            "or was altered."
        )
    stored = _stored_problems(ledgered, row, entries, matching[-1:])
    if stored:
        # Not a forged paper but the hospital's own record: the security team must know.
        log.warning("%s %s fails its paper check: %s", subject_type, subject_id, " ".join(stored))
    found.problems += stored
    if found.problems:
        found.status = PaperStatus.MISMATCH
        return found
    printed = matching[-1]
    found.printed_state_at = printed.recorded_at
    found.later = [
        Change(LedgerAction(e.action).label, e.recorded_at, _role(e.actor_role))
        for e in entries
        if e.seq > printed.seq
    ]
    if found.later:
        found.status = PaperStatus.SUPERSEDED
    return found


def _role(value: str) -> str:
    """Staff are named by role only: the page is public."""
    if not value:
        return "the system"
    return Role(value).label if value in Role.values else value


def _stored_problems(
    ledgered, row, entries: list[LedgerEntry], matching: list[LedgerEntry]
) -> list[str]:
    problems = []
    latest = entries[-1]
    for entry in {e.seq: e for e in [*matching, latest]}.values():
        if entry_digest(CHANGES, entry) != entry.hash:
            problems.append(f"The ledger entry #{entry.seq} for this record was altered.")
    if row is None:
        if latest.action != LedgerAction.DELETE:
            problems.append("The hospital's record this paper was printed from is missing.")
        return problems
    current = state_hash(state_of(row))
    if current != latest.state_hash or (ledgered.sealed and row.seal != current):
        problems.append(
            "The hospital's record was changed outside the application after its last ledger entry."
        )
    return problems
