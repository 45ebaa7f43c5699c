"""The catalogue as the analyzer listener reads it for every message: analyzers, their
code mappings, and tests with their reference ranges, read once and kept in memory.

An analyzer message would otherwise re-read the same few hundred catalogue rows (four
queries built by the ORM) to store a dozen values. The catalogue changes rarely and
only through `catalogue.load`, which calls `invalidate()` in its own process; another
process (a running listener) sees a change within `TTL_SECONDS`. A test code the cache
does not know makes it reload once before a message is refused for it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ajeya.lab.models import Analyzer, AnalyzerMapping, LabTest

TTL_SECONDS = 60.0


@dataclass
class Catalogue:
    analyzers: dict[str, Analyzer] = field(default_factory=dict)  # by MSH-3
    mappings: dict[int, dict[str, int]] = field(default_factory=dict)  # analyzer → code → test
    tests: dict[int, LabTest] = field(default_factory=dict)
    loaded_at: float = 0.0
    generation: int = -1


_lock = threading.Lock()
_generation = 0
_current = Catalogue()


def invalidate() -> None:
    global _generation
    with _lock:
        _generation += 1


def current(*, fresh: bool = False) -> Catalogue:
    global _current
    with _lock:
        cached, generation = _current, _generation
    if (
        not fresh
        and cached.generation == generation
        and time.monotonic() - cached.loaded_at < TTL_SECONDS
    ):
        return cached
    loaded = Catalogue(
        analyzers={a.sending_application: a for a in Analyzer.objects.filter(is_active=True)},
        tests={t.pk: t for t in LabTest.objects.prefetch_related("ranges")},
        loaded_at=time.monotonic(),
        generation=generation,
    )
    for analyzer_id, code, test_id in AnalyzerMapping.objects.values_list(
        "analyzer_id", "analyzer_code", "test_id"
    ):
        loaded.mappings.setdefault(analyzer_id, {})[code] = test_id
    with _lock:
        _current = loaded
    return loaded
