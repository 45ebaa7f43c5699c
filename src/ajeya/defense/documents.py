"""The document store's integrity, checked every AJEYA_DOCUMENT_SCAN_SECONDS by the
worker's watcher: every file is named by its SHA-256, so a file whose bytes no longer
match its name was changed; a file the records expect but the disk lacks is missing; a
file of near-random bytes without a known format's signature is what ransomware's
encryption leaves; a file with a name the store never writes (a ransom note) is foreign.

Only files whose size or modification time moved since the last look are re-read, so
a scan of an unchanged store is a directory listing; `full=True` re-reads everything
(daily, in case something changed a file and set its time back).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ajeya.core import clock
from ajeya.defense.models import Rule, Severity
from ajeya.defense.services import alert_raise

NAME = re.compile(r"^([0-9a-f]{64})\.([a-z0-9]{1,5})$")
SAMPLE = 64 * 1024
ENTROPY_LIMIT = 7.6  # bits a byte: compressed or encrypted data is near 8, text near 4-5
# Formats that are compressed inside and say so in their first bytes.
SIGNATURES = (b"%PDF", b"PK\x03\x04", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b")


def entropy(data: bytes) -> float:
    if not data:
        return 0.0
    total = len(data)
    return -sum(n / total * math.log2(n / total) for n in Counter(data).values())


@dataclass
class Problem:
    store: str
    name: str
    problem: str
    sha256: str = ""
    expected: str = ""


def _check(store: str, path: Path) -> Problem | None:
    found = NAME.match(path.name)
    if found is None:
        return Problem(store, path.name, "a file the store never writes (ransom note?)")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    head = data[:SAMPLE]
    if not head.startswith(SIGNATURES) and entropy(head) > ENTROPY_LIMIT:
        return Problem(store, path.name, "random-looking bytes: encrypted?", digest, found[1])
    if digest != found[1]:
        return Problem(store, path.name, "changed: its bytes no longer match its name",
                       digest, found[1])  # fmt: skip
    return None


@dataclass
class Scanner:
    """Remembers each file's (size, mtime) between scans, in the watcher's process."""

    seen: dict[Path, tuple[int, int]] = field(default_factory=dict)
    reported: set[tuple[str, str, str]] = field(default_factory=set)

    def scan(self, stores: dict[str, Path], expected: dict[str, dict[str, str]], *,
             full: bool = False) -> list[Problem]:  # fmt: skip
        problems: list[Problem] = []
        for store, directory in stores.items():
            present = set()
            entries = sorted(directory.iterdir()) if directory.is_dir() else []
            for path in entries:
                if not path.is_file() or path.name.startswith("."):
                    continue
                present.add(path.name)
                stat = path.stat()
                stamp = (stat.st_size, stat.st_mtime_ns)
                if full or self.seen.get(path) != stamp:
                    self.seen[path] = stamp
                    problem = _check(store, path)
                    if problem is not None:
                        problems.append(problem)
            for name, digest in expected.get(store, {}).items():
                if name not in present:
                    problems.append(Problem(store, name, "missing", expected=digest))
        fresh = [p for p in problems if (p.store, p.name, p.problem) not in self.reported]
        self.reported.update((p.store, p.name, p.problem) for p in fresh)
        return fresh  # each problem is reported once, not every scan


def raise_alerts(problems: list[Problem]) -> int:
    """One critical alert per store with every file named (a burst of encryption is one
    alert listing the files, not a thousand alerts)."""
    by_store: dict[str, list[Problem]] = {}
    for p in problems:
        by_store.setdefault(p.store, []).append(p)
    now = clock.now()
    for store, found in by_store.items():
        kinds = Counter(p.problem.split(":")[0] for p in found)
        alert_raise(
            rule=Rule.DOCUMENTS, severity=Severity.CRITICAL, key=f"documents:{store}",
            title=f"Document store {store}: {len(found)} file(s) "
            + ", ".join(f"{n} {k}" for k, n in kinds.items()),
            occurred_at=now,
            evidence={"files": [p.__dict__ for p in found[:200]], "total": len(found)},
        )  # fmt: skip
    return len(by_store)
