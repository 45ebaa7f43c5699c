"""Finding patients: by UHID, phone, ABHA or name (prefix and sounds-like), and duplicates;
and reading their allergies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Case, Q, QuerySet, Value, When
from django.db.models.functions import Lower
from rapidfuzz import fuzz

from ajeya.core import identifiers
from ajeya.core.errors import NotFound
from ajeya.patients import names, validators
from ajeya.patients.models import (
    AllergySeverity,
    MergeStatus,
    Patient,
    PatientAllergy,
    PatientMerge,
    PatientNameToken,
)

FUZZY_CANDIDATE_LIMIT = 2000
FUZZY_MIN_SCORE = 70
MAX_QUERY_LENGTH = 100


@dataclass
class SearchResult:
    kind: str  # uhid, phone, abha, name, similar, empty
    patients: QuerySet[Patient] | list[Patient]
    message: str = ""
    scores: dict[int, float] = field(default_factory=dict)


def patient_get(uhid: str) -> Patient:
    value = identifiers.normalise_uhid(uhid)
    patient = Patient.objects.filter(uhid=value).select_related("registered_by").first()
    if patient is None:
        raise NotFound(f"No patient has UHID {uhid}.")
    return patient


def _token_prefix(word: str) -> Q:
    # Each database's indexable prefix match: SQLite's LIKE ignores case and cannot use
    # the index, but a range over its binary collation can; PostgreSQL's ranges follow
    # the locale's collation, so it gets LIKE on a text_pattern_ops index (migration 0002).
    if connection.vendor == "postgresql":
        return Q(token__startswith=word)
    return Q(token__gte=word, token__lt=word + "\uffff")


def _by_name_prefix(words: list[str]) -> QuerySet[Patient]:
    qs = Patient.objects.all()
    for word in words:
        matching = PatientNameToken.objects.filter(_token_prefix(word))
        qs = qs.filter(pk__in=matching.values("patient_id"))
    return qs.order_by("name_key", "id")


def _by_name_similar(query: str, *, limit: int = FUZZY_CANDIDATE_LIMIT) -> SearchResult:
    keys = names.skeletons(query)
    if not keys:
        return SearchResult("similar", [], "Sounds-like search works on names in Latin letters.")
    candidate_ids = (
        PatientNameToken.objects.filter(skeleton__in=keys)
        .values_list("patient_id", flat=True)
        .distinct()[:limit]
    )
    folded, sounds = names.fold(query), names.phonetic_string(query)
    scored = []
    for patient in Patient.objects.filter(pk__in=list(candidate_ids)):
        score = max(
            fuzz.token_set_ratio(folded, patient.name_key),
            fuzz.token_set_ratio(sounds, names.phonetic_string(patient.name)) - 5,
        )
        if score >= FUZZY_MIN_SCORE:
            scored.append((score, patient))
    scored.sort(key=lambda pair: (-pair[0], pair[1].name_key, pair[1].pk))
    return SearchResult(
        "similar", [p for _, p in scored], scores={p.pk: round(s) for s, p in scored}
    )


def patient_search(query: str, *, similar: bool = False) -> SearchResult:
    """Decide what the clerk typed and search by it. Never raises on odd input."""
    query = (query or "").strip()[:MAX_QUERY_LENGTH]
    if not query:
        return SearchResult("empty", [], "Type a UHID, a phone number, an ABHA number or a name.")
    compact = identifiers.normalise_uhid(validators.normalise_phone(query))
    if compact.isdigit():
        return _by_number(query, compact)
    words = names.tokens(query)
    if not words:
        return SearchResult("empty", [], "Type at least one letter or digit to search.")
    if similar:
        return _by_name_similar(query)
    prefix = _by_name_prefix(words)
    if not prefix.exists():
        result = _by_name_similar(query)
        result.message = "No name starts like that; showing names that sound similar."
        return result
    return SearchResult("name", prefix)


def _by_number(query: str, digits: str) -> SearchResult:
    raw = identifiers.normalise_uhid(query)
    as_phone = len(digits) == 10 and not identifiers.verhoeff_valid(raw)
    if len(raw) == identifiers.UHID_LENGTH and raw.isdigit() and not as_phone:
        qs = Patient.objects.filter(uhid=raw)
        message = ""
        if not identifiers.verhoeff_valid(raw):
            message = "That UHID's check digit does not match: a digit may be mistyped."
        return SearchResult("uhid", qs, message)
    if len(digits) == 10:
        return SearchResult("phone", Patient.objects.filter(phone=digits).order_by("name_key"))
    if len(raw) == 14:
        return SearchResult("abha", Patient.objects.filter(abha_number=raw))
    return SearchResult(
        "empty",
        [],
        "Numbers are searched whole: a 12-digit UHID, a 10-digit mobile number "
        "or a 14-digit ABHA number.",
    )


@dataclass
class Duplicate:
    patient: Patient
    reasons: list[str]


def patient_likely_duplicates(
    *,
    name: str,
    phone: str = "",
    date_of_birth: dt.date | None = None,
    abha_number: str = "",
    exclude_pk: int | None = None,
    limit: int = 10,
) -> list[Duplicate]:
    """Patients who may be this person already: same phone or ABHA, or a similar name
    born within a year of the same year."""
    found: dict[int, Duplicate] = {}

    def add(patient: Patient, reason: str) -> None:
        if patient.pk == exclude_pk:
            return
        found.setdefault(patient.pk, Duplicate(patient, [])).reasons.append(reason)

    phone = validators.normalise_phone(phone)
    if phone:
        for patient in Patient.objects.filter(phone=phone)[:limit]:
            add(patient, "same phone number")
    abha = validators.normalise_abha(abha_number)
    if abha:
        for patient in Patient.objects.filter(abha_number=abha)[:limit]:
            add(patient, "same ABHA number")
    if name and date_of_birth is not None:
        keys = names.skeletons(name)
        if keys:
            ids = PatientNameToken.objects.filter(skeleton=keys[0]).values("patient_id")
            nearby = Patient.objects.filter(
                pk__in=ids,
                date_of_birth__year__gte=date_of_birth.year - 1,
                date_of_birth__year__lte=date_of_birth.year + 1,
            )[:FUZZY_CANDIDATE_LIMIT]
            folded = names.fold(name)
            for patient in nearby:
                if (
                    fuzz.token_sort_ratio(folded, patient.name_key) >= 80
                    or fuzz.token_sort_ratio(
                        names.phonetic_string(name), names.phonetic_string(patient.name)
                    )
                    >= 90
                ):
                    add(patient, "similar name, born around the same year")
    return sorted(found.values(), key=lambda d: (-len(d.reasons), d.patient.name_key))[:limit]


def name_index_mismatches():
    """Patients whose search tokens are not exactly those their name gives: a token
    deleted hides a patient from name search (and invites a duplicate registration),
    one added points a search at the wrong person. Streams both tables in id order."""
    tokens = (
        PatientNameToken.objects.order_by("patient_id", "token")
        .values_list("patient_id", "token", "skeleton")
        .iterator(chunk_size=20_000)
    )
    pending = next(tokens, None)
    table = PatientNameToken._meta.db_table
    for pk, uhid, name in (
        Patient.objects.order_by("id").values_list("id", "uhid", "name").iterator(chunk_size=20_000)
    ):
        stored = set()
        while pending is not None and pending[0] < pk:
            yield table, f"patient_id {pending[0]}", "belongs to no patient"
            pending = next(tokens, None)
        while pending is not None and pending[0] == pk:
            stored.add((pending[1], pending[2]))
            pending = next(tokens, None)
        expected = {(t, names.skeleton(t)) for t in names.tokens(name)}
        if stored != expected:
            yield table, uhid, "the name search index does not match the patient's name"
    while pending is not None:
        yield table, f"patient_id {pending[0]}", "belongs to no patient"
        pending = next(tokens, None)


# -- allergies ---------------------------------------------------------------------------

# Life-threatening first: the order in which a reader must see them.
_MOST_SEVERE_FIRST = Case(
    *(
        When(severity=severity, then=Value(rank))
        for rank, severity in enumerate(reversed(AllergySeverity.values))
    ),
    default=Value(len(AllergySeverity.values)),
)


def _allergies_in_order() -> QuerySet[PatientAllergy]:
    return PatientAllergy.objects.select_related("recorded_by").order_by(
        _MOST_SEVERE_FIRST, Lower("substance"), "id"
    )


def active_allergies(patient_ids: Iterable[int]) -> dict[int, list[PatientAllergy]]:
    """The allergies each patient has now (removed ones left out), most severe first,
    then by substance; one query however many patients. Every patient asked about has a
    key, so an empty list means "no allergy recorded"."""
    ids = list(dict.fromkeys(int(pk) for pk in patient_ids))
    found: dict[int, list[PatientAllergy]] = {pk: [] for pk in ids}
    if not ids:
        return found
    for allergy in _allergies_in_order().filter(patient_id__in=ids, removed_at__isnull=True):
        found[allergy.patient_id].append(allergy)
    return found


def allergies_of(patient: Patient) -> list[PatientAllergy]:
    """The patient's active allergies for the record page, most severe first."""
    return list(_allergies_in_order().filter(patient_id=patient.pk, removed_at__isnull=True))


def allergies_removed(patient: Patient) -> list[PatientAllergy]:
    """Allergies taken off the patient's list, newest removal first, with who and why."""
    return list(
        PatientAllergy.objects.filter(patient_id=patient.pk, removed_at__isnull=False)
        .select_related("recorded_by", "removed_by")
        .order_by("-removed_at", "-id")
    )


def allergy_get(patient: Patient, pk: int) -> PatientAllergy:
    allergy = PatientAllergy.objects.filter(patient_id=patient.pk, pk=pk).first()
    if allergy is None:
        raise NotFound(f"No allergy {pk} is recorded for {patient.uhid_display}.")
    allergy.patient = patient
    return allergy


# -- merges -------------------------------------------------------------------------------


@dataclass
class Merges:
    """A record's place in merges: what it was merged into (or is waiting to be), and the
    records merged into it."""

    into: PatientMerge | None
    merged: list[PatientMerge]


def merges_of(patient: Patient) -> Merges:
    rows = list(
        PatientMerge.objects.filter(Q(duplicate=patient) | Q(survivor=patient))
        .exclude(status=MergeStatus.REJECTED)
        .select_related("duplicate", "survivor", "requested_by", "decided_by")
    )
    into = next((m for m in rows if m.duplicate_id == patient.pk), None)
    merged = [m for m in rows if m.survivor_id == patient.pk and m.status == MergeStatus.APPROVED]
    return Merges(into, merged)


def merges_to_review() -> list[PatientMerge]:
    return list(
        PatientMerge.objects.filter(status=MergeStatus.REQUESTED)
        .select_related("duplicate", "survivor", "requested_by")
        .order_by("requested_at")
    )


def merges_decided(limit: int = 50) -> list[PatientMerge]:
    return list(
        PatientMerge.objects.exclude(status=MergeStatus.REQUESTED)
        .select_related("duplicate", "survivor", "requested_by", "decided_by")
        .order_by("-decided_at")[:limit]
    )


def merge_get(pk: int) -> PatientMerge:
    merge = PatientMerge.objects.select_related("duplicate", "survivor").filter(pk=pk).first()
    if merge is None:
        raise NotFound(f"No merge request {pk}.")
    return merge


def related_records(patient: Patient) -> dict[str, list[str]]:
    """The ledger subjects that are about this patient besides the record itself: its
    allergies and the merges it is part of (for "who has seen or changed")."""
    merges = PatientMerge.objects.filter(Q(duplicate=patient) | Q(survivor=patient))
    return {
        "patients.allergy": [str(pk) for pk in patient.allergies.values_list("pk", flat=True)],
        "patients.merge": [str(pk) for pk in merges.values_list("pk", flat=True)],
    }
