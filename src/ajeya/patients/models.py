"""Registered patients, identified by UHID, the name index used to find them, and
their recorded allergies."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from ajeya.core import clock
from ajeya.core.identifiers import format_uhid
from ajeya.core.india import IndianState
from ajeya.patients import validators


class Sex(models.TextChoices):
    MALE = "M", "Male"
    FEMALE = "F", "Female"
    TRANSGENDER = "T", "Transgender"
    UNKNOWN = "U", "Not known"


class PatientCategory(models.TextChoices):
    GENERAL = "general", "General"
    BPL = "bpl", "BPL / free"
    STAFF = "staff", "Staff"
    SCHEME = "scheme", "Scheme"


class Scheme(models.TextChoices):
    CGHS = "cghs", "CGHS"
    PMJAY = "pmjay", "PM-JAY (Ayushman Bharat)"
    ESI = "esi", "ESI"
    ECHS = "echs", "ECHS"
    STATE = "state", "State health scheme"
    OTHER = "other", "Other scheme"


class GuardianRelation(models.TextChoices):
    FATHER = "father", "Father"
    MOTHER = "mother", "Mother"
    SPOUSE = "spouse", "Spouse"
    SON = "son", "Son"
    DAUGHTER = "daughter", "Daughter"
    SIBLING = "sibling", "Brother/sister"
    OTHER = "other", "Other"


def age_text(date_of_birth, today) -> str:
    """ "46 y", or for small children "14 m" and "9 d"."""
    years = validators.age_on(date_of_birth, today)
    if years >= 2:
        return f"{years} y"
    months = (today.year - date_of_birth.year) * 12 + today.month - date_of_birth.month
    if today.day < date_of_birth.day:
        months -= 1
    if months >= 1:
        return f"{months} m"
    return f"{(today - date_of_birth).days} d"


class Patient(models.Model):
    uhid = models.CharField("UHID", max_length=12, unique=True, editable=False)
    name = models.CharField(max_length=100, validators=[validators.validate_person_name])
    name_key = models.CharField(max_length=100, db_index=True, editable=False)
    sex = models.CharField(max_length=1, choices=Sex.choices)
    date_of_birth = models.DateField(validators=[validators.validate_date_of_birth])
    dob_estimated = models.BooleanField("date of birth estimated from age", default=False)
    phone = models.CharField(
        max_length=10, blank=True, db_index=True, validators=[validators.validate_phone]
    )
    address_line = models.CharField("address", max_length=200, blank=True)
    district = models.CharField(max_length=60)
    state = models.CharField(max_length=2, choices=IndianState.choices)
    pincode = models.CharField("PIN code", max_length=6, validators=[validators.validate_pincode])
    guardian_name = models.CharField(
        max_length=100, blank=True, validators=[validators.validate_person_name]
    )
    guardian_relation = models.CharField(
        max_length=10, choices=GuardianRelation.choices, blank=True
    )
    abha_number = models.CharField(
        "ABHA number", max_length=14, blank=True, validators=[validators.validate_abha]
    )
    aadhaar_last4 = models.CharField(
        "Aadhaar (last 4 digits)",
        max_length=4,
        blank=True,
        validators=[validators.validate_aadhaar_last4],
    )
    category = models.CharField(
        max_length=10, choices=PatientCategory.choices, default=PatientCategory.GENERAL
    )
    scheme = models.CharField(max_length=10, choices=Scheme.choices, blank=True)
    scheme_beneficiary_id = models.CharField("scheme beneficiary ID", max_length=30, blank=True)
    registered_at = models.DateTimeField(editable=False)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    updated_at = models.DateTimeField(editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    seal = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["name_key", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["abha_number"],
                condition=~models.Q(abha_number=""),
                name="patient_abha_unique",
            ),
            models.CheckConstraint(
                condition=~models.Q(category="scheme") | ~models.Q(scheme=""),
                name="patient_scheme_named",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.uhid_display})"

    @property
    def uhid_display(self) -> str:
        return format_uhid(self.uhid)

    @property
    def age(self) -> int:
        return validators.age_on(self.date_of_birth, clock.today())

    @property
    def age_display(self) -> str:
        return age_text(self.date_of_birth, clock.today())

    @property
    def abha_display(self) -> str:
        a = self.abha_number
        return f"{a[:2]}-{a[2:6]}-{a[6:10]}-{a[10:]}" if a else ""


class PatientNameToken(models.Model):
    """One word of a patient's name, folded, with its phonetic skeleton: the search index."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="name_tokens")
    token = models.CharField(max_length=40)
    skeleton = models.CharField(max_length=20, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["token"], name="patient_token_idx"),
            models.Index(fields=["skeleton"], name="patient_skeleton_idx"),
        ]

    def __str__(self) -> str:
        return self.token


class AllergySeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"
    LIFE_THREATENING = "life_threatening", "Life-threatening"


# Severities that turn the patient's allergy box red.
SERIOUS_SEVERITIES = frozenset({AllergySeverity.SEVERE, AllergySeverity.LIFE_THREATENING})


class PatientAllergy(models.Model):
    """A substance the patient reacts to. Never deleted: removal (recorded in error,
    disproved by a challenge) keeps the row with who removed it, when and why."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="allergies")
    substance = models.CharField(max_length=100)
    reaction = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=16, choices=AllergySeverity.choices)
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    removed_reason = models.CharField(max_length=200, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["recorded_at"]
        verbose_name_plural = "patient allergies"
        constraints = [
            # One active entry per substance and patient, whatever its case: the service
            # refuses a duplicate, and the database decides a race between two.
            models.UniqueConstraint(
                "patient",
                Lower("substance"),
                condition=models.Q(removed_at__isnull=True),
                name="allergy_active_substance_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.substance} ({self.get_severity_display()})"

    @property
    def is_active(self) -> bool:
        return self.removed_at is None

    @property
    def is_serious(self) -> bool:
        return self.severity in SERIOUS_SEVERITIES


class MergeStatus(models.TextChoices):
    REQUESTED = "requested", "Awaiting review"
    APPROVED = "approved", "Merged"
    REJECTED = "rejected", "Rejected"


class PatientMerge(models.Model):
    """One person registered twice (typically on a paper form during a downtime, though
    they had a UHID): asked for by one person, reviewed by another. Approved, the
    duplicate record points to the survivor; both records and their histories stay
    exactly as they were."""

    duplicate = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    survivor = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=300)
    status = models.CharField(
        max_length=10, choices=MergeStatus.choices, default=MergeStatus.REQUESTED
    )
    requested_at = models.DateTimeField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    decision_note = models.CharField(max_length=300, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            # A record is merged (or waiting to be) into one other record at a time.
            models.UniqueConstraint(
                fields=["duplicate"],
                condition=~models.Q(status="rejected"),
                name="merge_one_open_per_duplicate",
            ),
            models.CheckConstraint(
                condition=~models.Q(duplicate=models.F("survivor")), name="merge_two_records"
            ),
            models.CheckConstraint(
                condition=~models.Q(decided_by=models.F("requested_by")),
                name="merge_reviewer_other",
            ),
        ]

    def __str__(self) -> str:
        return f"merge of {self.duplicate_id} into {self.survivor_id}: {self.status}"
