"""Name keys for search: folded tokens for prefix search, phonetic skeletons for fuzzy.

The skeleton folds the spelling variants Indian names take when written in Latin
letters (Lakshmi/Laxmi, Mohammed/Muhammad, Sharma/Sarma, Srinivas/Shreenivas) onto
one key; a ranking step (rapidfuzz) then orders the candidates the key finds.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TOKEN = 40

# Order matters: longer spellings first, digraphs before the letters in them.
_REWRITES = (
    ("ksh", "ks"),
    ("x", "ks"),
    ("ph", "f"),
    ("bh", "b"),
    ("dh", "d"),
    ("th", "t"),
    ("kh", "k"),
    ("gh", "g"),
    ("jh", "j"),
    ("sh", "s"),
    ("ch", "c"),
    ("ck", "k"),
    ("q", "k"),
    ("c", "k"),
    ("z", "j"),
    ("w", "v"),
    ("y", "i"),
)
_VOWELS = set("aeiou")
_SPACES = re.compile(r"\s+")


def clean_display_name(name: str) -> str:
    """Collapse the white space people and scanners leave in names."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", name)).strip()


def fold(text: str) -> str:
    """Lower case, accents off Latin letters, anything but letters and digits to spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = []
    for ch in decomposed:
        category = unicodedata.category(ch)
        if category.startswith("M") and ord(ch) < 0x0370:
            continue  # a Latin accent; Devanagari and other scripts keep their vowel signs
        kept.append(ch.lower() if category[0] in "LNM" else " ")
    return _SPACES.sub(" ", unicodedata.normalize("NFC", "".join(kept))).strip()


def name_key(name: str) -> str:
    """The sort and search form of a whole name; folding can lengthen text (NFKD), so
    it is cut to the column's 100 characters."""
    return fold(name)[:100]


def tokens(text: str) -> list[str]:
    return [t[:MAX_TOKEN] for t in fold(text).split(" ") if t]


def skeleton(token: str) -> str:
    """A phonetic key for one Latin-letter name token; "" for other scripts."""
    if not token.isascii() or not token.isalpha():
        return ""
    t = token.lower()
    for old, new in _REWRITES:
        t = t.replace(old, new)
    first, rest = t[0], t[1:]
    rest = rest.replace("h", "")
    key = ("a" if first in _VOWELS else first) + "".join(ch for ch in rest if ch not in _VOWELS)
    collapsed = [key[0]]
    for ch in key[1:]:
        if ch != collapsed[-1]:
            collapsed.append(ch)
    return "".join(collapsed)[:20]


def skeletons(text: str) -> list[str]:
    """The phonetic keys of a text's Latin-letter words, in order."""
    return [k for k in (skeleton(t) for t in tokens(text)) if k]


def phonetic_string(text: str) -> str:
    return " ".join(skeletons(text))
