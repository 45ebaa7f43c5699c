"""Retention: which backups to keep (keep-last / hourly / daily / weekly / monthly), and
`ajeya prune` to delete the rest where the backups live — never from the app server,
whose credentials cannot delete (Object Lock) and must not be able to.

A backup is kept if any rule keeps it: the newest N; the newest in each of the last H
hours, D days, W ISO weeks, M months that have a backup (times in IST, the hospital's
day). Ledger segments are kept while a kept backup may need them (entries after the
oldest kept backup's heads); documents while a kept backup or segment names them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from ajeya.core import clock
from ajeya.core.errors import ApplicationError
from ajeya.resilience import signing
from ajeya.resilience.layout import SEGMENT_NAME, stamp_time


class PruneError(ApplicationError):
    code = "prune"
    exit_code = 2


@dataclass(frozen=True)
class Policy:
    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0

    def empty(self) -> bool:
        return not (self.last or self.hourly or self.daily or self.weekly or self.monthly)


BUCKETS: dict[str, Callable[[dt.datetime], tuple]] = {
    "hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar()[:2]),
    "monthly": lambda t: (t.year, t.month),
}


def select(backup_ids: list[str], policy: Policy) -> dict[str, list[str]]:
    """{backup id: the rules that keep it}; ids not in the result are to be deleted."""
    if policy.empty():
        raise PruneError("no retention rule given: nothing would be kept")
    newest_first = sorted(backup_ids, reverse=True)
    kept: dict[str, list[str]] = {}
    for backup_id in newest_first[: policy.last]:
        kept.setdefault(backup_id, []).append("last")
    for rule, bucket in BUCKETS.items():
        wanted = getattr(policy, rule)
        seen: set[tuple] = set()
        for backup_id in newest_first:
            if len(seen) >= wanted:
                break
            key = bucket(clock.local(stamp_time(backup_id)))
            if key not in seen:
                seen.add(key)
                kept.setdefault(backup_id, []).append(rule)
    return kept


@dataclass
class Pruned:
    kept: dict[str, list[str]]
    deleted_backups: list[str]
    deleted_objects: int
    locked: list[str]  # objects the storage refused to delete yet (retention running)


def prune(target, policy: Policy, signer, *, dry_run: bool = False) -> Pruned:
    manifests = {
        key.split("/")[1]: key
        for key in target.list("snapshots/")
        if key.endswith("/manifest.json")
    }
    kept = select(list(manifests), policy)
    doomed = sorted(set(manifests) - set(kept))
    needed_docs: set[str] = set()
    oldest_heads = None
    for backup_id in sorted(kept):
        doc = signing.load(target.get_bytes(manifests[backup_id]), signer,
                           name=manifests[backup_id], kind="manifest")  # fmt: skip
        needed_docs.update(d["key"] for d in doc.get("documents", []))
        if oldest_heads is None:
            oldest_heads = (doc["heads"]["changes"]["seq"], doc["heads"]["accesses"]["seq"])
    to_delete: list[str] = []
    for backup_id in doomed:
        objects = target.list(f"snapshots/{backup_id}/")
        # The manifest first: a backup half-deleted is never taken for a complete one.
        to_delete += [manifests[backup_id], *(k for k in objects if k != manifests[backup_id])]
    for key in target.list("ledger/"):
        match = SEGMENT_NAME.match(key.replace(".age", ".json"))
        if not match or oldest_heads is None:
            continue
        if int(match[1]) <= oldest_heads[0] and int(match[2]) <= oldest_heads[1]:
            to_delete.append(key)  # every entry in it is inside every kept backup
        elif key.endswith(".json"):
            meta = signing.load(target.get_bytes(key), signer, name=key, kind="ledger segment")
            needed_docs.update(d["key"] for d in meta.get("documents", []))
    to_delete += [k for k in target.list("documents/") if k not in needed_docs]
    locked: list[str] = []
    deleted = 0
    if not dry_run:
        for key in to_delete:
            try:
                target.delete(key)
                deleted += 1
            except Exception as exc:  # the storage refuses: its lock has not run out
                locked.append(f"{key} ({getattr(exc, 'message', None) or exc})")
    return Pruned(kept, doomed, deleted if not dry_run else len(to_delete), locked)


def describe_policy(policy: Policy) -> str:
    parts = [f"{n} {rule}" for rule in ("last", *BUCKETS) if (n := getattr(policy, rule))]
    return ", ".join(parts)
