"""Demo patients in bulk: deterministic for a seed, fast enough for 100,000 in seconds.

Rows are built in Python with their ids, seals and ledger entries, then written with
bulk inserts in one transaction — the same records the service would write, without
paying for one transaction per patient. About one patient in seven gets one or two
allergies, recorded by a doctor or nurse (none when there are no such staff yet).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max

from ajeya.core import clock, identifiers
from ajeya.core.bulk import insert_rows
from ajeya.core.india import IndianState
from ajeya.core.roles import Role
from ajeya.ledger import registry
from ajeya.ledger import services as ledger
from ajeya.ledger.canonical import canonical_json, state_hash
from ajeya.ledger.models import LedgerAction
from ajeya.patients import names
from ajeya.patients.models import (
    AllergySeverity,
    GuardianRelation,
    Patient,
    PatientAllergy,
    PatientCategory,
    PatientNameToken,
    Scheme,
    Sex,
)
from ajeya.patients.services import SUBJECT

MALE = (
    "Aarav Aditya Ajay Amit Anil Arjun Ashok Deepak Dinesh Ganesh Gopal Harish Imran "
    "Jagdish Karan Kishore Lakshman Mahesh Manoj Mohammed Mukesh Naveen Nitin Pankaj "
    "Prakash Rahul Rajesh Rakesh Ramesh Ravi Sanjay Santosh Suresh Sunil Vijay Vinod "
    "Yusuf Zaheer Gurpreet Harpreet Sandeep Arun Balaji Karthik Murugan Srinivas Venkatesh"
).split()
FEMALE = (
    "Aarti Anita Anjali Asha Bhavna Deepa Divya Fatima Geeta Jyoti Kavita Lakshmi Laxmi "
    "Meena Neha Nisha Pooja Priya Radha Rekha Ritu Sangeeta Sarita Seema Shabana Shanti "
    "Sita Sunita Usha Vandana Zainab Manpreet Simran Kamala Lalitha Meenakshi Savitri"
).split()
SURNAMES = (
    "Sharma Verma Gupta Singh Kumar Yadav Khan Ansari Patel Shah Mehta Joshi Mishra "
    "Tiwari Pandey Chauhan Rathore Reddy Rao Naidu Iyer Iyengar Nair Menon Pillai Das "
    "Banerjee Chatterjee Mukherjee Bose Ghosh Sen Paul Thomas Fernandes D'Souza Gill "
    "Sandhu Dhillon Grewal Kaur Qureshi Siddiqui Shaikh Jain Agarwal Bansal Goyal Saxena"
).split()
PLACES = {
    IndianState.DL: (["New Delhi", "South Delhi", "East Delhi", "North West Delhi"], "11"),
    IndianState.UP: (["Ghaziabad", "Gautam Buddha Nagar", "Meerut", "Lucknow"], "20"),
    IndianState.HR: (["Gurugram", "Faridabad", "Sonipat", "Rohtak"], "12"),
    IndianState.BR: (["Patna", "Gaya", "Muzaffarpur", "Darbhanga"], "80"),
    IndianState.RJ: (["Jaipur", "Alwar", "Ajmer"], "30"),
    IndianState.MP: (["Bhopal", "Gwalior", "Indore"], "46"),
    IndianState.UK: (["Dehradun", "Haridwar"], "24"),
    IndianState.PB: (["Ludhiana", "Amritsar", "Patiala"], "14"),
}
STREETS = ["Gali No. 4", "Sector 12", "Main Road", "Block C", "Near Hanuman Mandir", "Ward 7"]
ALLERGY_SHARE = 0.15
# (substance, reaction, severity, weight): the allergies an Indian ward sees most.
_S = AllergySeverity
ALLERGIES = [
    ("Penicillin", "rash, urticaria", _S.MODERATE, 14),
    ("Penicillin", "anaphylaxis", _S.LIFE_THREATENING, 3),
    ("Sulfonamides (co-trimoxazole)", "rash", _S.MODERATE, 8),
    ("Sulfonamides (co-trimoxazole)", "Stevens-Johnson syndrome", _S.LIFE_THREATENING, 1),
    ("Ibuprofen", "wheeze", _S.SEVERE, 6),
    ("Diclofenac", "facial swelling", _S.SEVERE, 4),
    ("Aspirin", "wheeze, rhinitis", _S.MODERATE, 5),
    ("Peanuts", "lip swelling, hives", _S.SEVERE, 4),
    ("Latex", "contact dermatitis", _S.MILD, 5),
    ("Iodinated contrast", "hives, vomiting", _S.MODERATE, 4),
    ("Egg", "hives", _S.MILD, 3),
    ("Ceftriaxone", "rash", _S.MODERATE, 3),
    ("Metronidazole", "itching", _S.MILD, 2),
    ("Morphine", "itching, nausea", _S.MILD, 2),
    ("Shellfish", "urticaria", _S.MODERATE, 2),
]
_ALLERGY_WEIGHTS = [a[3] for a in ALLERGIES]
ALLERGY_SUBJECT = "patients.allergy"


def _phone(rng: random.Random) -> str:
    return str(rng.randint(6, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(9))


def _build(rng: random.Random, anchor: dt.date, clerks: list) -> dict:
    sex = rng.choices([Sex.MALE, Sex.FEMALE, Sex.TRANSGENDER], weights=[49, 50, 1])[0]
    first = rng.choice(FEMALE if sex == Sex.FEMALE else MALE)
    surname = rng.choice(SURNAMES)
    age_days = int(rng.triangular(0, 90 * 365, 30 * 365))
    dob = anchor - dt.timedelta(days=age_days)
    state = rng.choices(list(PLACES), weights=[50, 20, 10, 6, 4, 4, 3, 3])[0]
    districts, pin_prefix = PLACES[state]
    category = rng.choices(list(PatientCategory), weights=[70, 15, 3, 12])[0]
    scheme = rng.choice([Scheme.CGHS, Scheme.PMJAY, Scheme.ECHS]) if category == "scheme" else ""
    registered = dt.datetime.combine(
        anchor - dt.timedelta(days=rng.randint(0, 3 * 365)),
        dt.time(rng.randint(3, 11), rng.randint(0, 59), rng.randint(0, 59)),  # 08:30-17:30 IST
        tzinfo=dt.UTC,
    )
    guardian_relation = (
        GuardianRelation.FATHER if age_days < 18 * 365 else rng.choice(list(GuardianRelation))
    )
    return {
        "name": f"{first} {surname}",
        "sex": sex,
        "date_of_birth": dob,
        "dob_estimated": rng.random() < 0.3,
        "phone": _phone(rng) if rng.random() < 0.9 else "",
        "address_line": f"House {rng.randint(1, 999)}, {rng.choice(STREETS)}",
        "district": rng.choice(districts),
        "state": state,
        "pincode": pin_prefix + f"{rng.randint(0, 9999):04d}",
        "guardian_name": f"{rng.choice(MALE)} {surname}",
        "guardian_relation": guardian_relation,
        "abha_number": "",
        "aadhaar_last4": f"{rng.randint(0, 9999):04d}" if rng.random() < 0.4 else "",
        "category": category,
        "scheme": scheme,
        "scheme_beneficiary_id": f"{scheme.upper()}{rng.randint(10**7, 10**8 - 1)}"
        if scheme
        else "",
        "registered_at": registered,
        "updated_at": registered,
        "registered_by": rng.choice(clerks) if clerks else None,
    }


def seed_patients(
    count: int,
    *,
    seed: int = 1,
    clerks: list | None = None,
    anchor: dt.date | None = None,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Add `count` demo patients; the same seed gives the same people. Returns how many."""
    if count < 0:
        raise ValueError("count must not be negative")
    if count == 0:
        return 0
    rng = random.Random(seed)
    # Allergies draw from their own generator, so the same seed gives the same people.
    allergies = _Allergies(random.Random(f"allergies-{seed}"))
    anchor = anchor or clock.today()
    clerks = clerks or []
    columns = {f.attname for f in Patient._meta.concrete_fields}
    ledgered = registry.for_model(Patient)
    written = 0
    with transaction.atomic():
        first_serial = identifiers.allocate(identifiers.UHID_SEQUENCE, count)
        next_id = (Patient.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        allergies.next_id = (PatientAllergy.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        while written < count:
            size = min(batch_size, count - written)
            patients, tokens, changes = [], [], []
            for i in range(size):
                serial = first_serial + written + i
                row, clerk = _row(rng, anchor, clerks, serial, next_id)
                next_id += 1
                if set(row) != columns:
                    raise RuntimeError(f"seed row columns differ: {set(row) ^ columns}")
                state = canonical_json(ledgered.state_from_values(row))
                row["seal"] = state_hash(state)
                patients.append(row)
                tokens.extend(
                    {"patient_id": row["id"], "token": token, "skeleton": names.skeleton(token)}
                    for token in dict.fromkeys(names.tokens(row["name"]))
                )
                changes.append(
                    ledger.Change(
                        action=LedgerAction.CREATE,
                        subject_type=SUBJECT,
                        subject_id=row["uhid"],
                        after=state,
                        actor=clerk,
                        reason="demo data (ajeya seed)",
                    )
                )
            allergy_rows, allergy_changes = allergies.for_patients(patients)
            insert_rows(Patient, patients)
            insert_rows(PatientNameToken, tokens)
            insert_rows(PatientAllergy, allergy_rows)
            ledger.record_many(changes + allergy_changes)
            written += size
            if progress:
                progress(size)
        _reset_sequences()
    return written


def _row(rng: random.Random, anchor: dt.date, clerks: list, serial: int, pk: int):
    details = _build(rng, anchor, clerks)
    clerk = details.pop("registered_by")
    # Demo ABHA numbers come from the serial, so they never collide.
    abha = f"99{serial:012d}" if rng.random() < 0.2 else ""
    row = {
        "id": pk,
        "uhid": identifiers.make_uhid(serial),
        **details,
        "abha_number": abha,
        "name_key": names.name_key(details["name"]),
        "registered_by_id": clerk.pk if clerk else None,
        "version": 1,
        "seal": "",
    }
    return row, clerk


class _Allergies:
    """One or two allergies for about ALLERGY_SHARE of the patients, as rows with their
    seals and ledger entries, recorded by the demo doctors and nurses."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next_id = 1
        self.recorders = list(
            get_user_model()
            .objects.filter(role__in=(Role.DOCTOR, Role.NURSE), is_active=True)
            .order_by("pk")
        )
        self.ledgered = registry.for_model(PatientAllergy)
        self.columns = {f.attname for f in PatientAllergy._meta.concrete_fields}

    def for_patients(self, patients: list[dict]) -> tuple[list[dict], list]:
        rows: list[dict] = []
        changes: list = []
        if not self.recorders:
            return rows, changes  # an allergy needs someone who recorded it
        for patient in patients:
            if self.rng.random() >= ALLERGY_SHARE:
                continue
            how_many = 2 if self.rng.random() < 0.25 else 1
            picked = self.rng.choices(ALLERGIES, weights=_ALLERGY_WEIGHTS, k=how_many)
            recorder = self.rng.choice(self.recorders)
            when = patient["registered_at"] + dt.timedelta(minutes=self.rng.randint(10, 180))
            one_per_substance = {a[0]: a[:3] for a in picked}.values()
            for substance, reaction, severity in one_per_substance:
                row = self._row(patient["id"], substance, reaction, severity, recorder, when)
                state = canonical_json(self.ledgered.state_from_values(row))
                row["seal"] = state_hash(state)
                rows.append(row)
                changes.append(
                    ledger.Change(
                        action=LedgerAction.CREATE,
                        subject_type=ALLERGY_SUBJECT,
                        subject_id=str(row["id"]),
                        after=state,
                        actor=recorder,
                        reason="demo data (ajeya seed)",
                    )
                )
        return rows, changes

    def _row(self, patient_id, substance, reaction, severity, recorder, when) -> dict:
        row = {
            "id": self.next_id,
            "patient_id": patient_id,
            "substance": substance,
            "reaction": reaction,
            "severity": str(severity),
            "recorded_at": when,
            "recorded_by_id": recorder.pk,
            "removed_at": None,
            "removed_by_id": None,
            "removed_reason": "",
            "seal": "",
        }
        if set(row) != self.columns:
            raise RuntimeError(f"seed allergy columns differ: {set(row) ^ self.columns}")
        self.next_id += 1
        return row


def _reset_sequences() -> None:
    """Ids were given explicitly; move PostgreSQL's id sequences past them."""
    statements = connection.ops.sequence_reset_sql(no_style(), [Patient, PatientAllergy])
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
