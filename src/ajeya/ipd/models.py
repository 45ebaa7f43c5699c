"""Inpatient care: wards, rooms and beds; admissions and who lay in which bed when;
nursing charts (observations, intake/output, notes, medication given); discharge."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ajeya.opd.models import Frequency, Route

USER = settings.AUTH_USER_MODEL


class BedCategory(models.TextChoices):
    GENERAL = "general", "General"
    SEMI_PRIVATE = "semi_private", "Semi-private"
    PRIVATE = "private", "Private"
    ICU = "icu", "ICU"
    HDU = "hdu", "HDU"


class BedStatus(models.TextChoices):
    FREE = "free", "Free"
    OCCUPIED = "occupied", "Occupied"
    RESERVED = "reserved", "Reserved"
    CLEANING = "cleaning", "Cleaning"
    BLOCKED = "blocked", "Blocked for maintenance"


class Ward(models.Model):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100)
    department = models.ForeignKey("core.Department", on_delete=models.PROTECT)
    floor = models.CharField(max_length=40, blank=True)
    is_active = models.BooleanField(default=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Room(models.Model):
    ward = models.ForeignKey(Ward, on_delete=models.PROTECT, related_name="rooms")
    number = models.CharField(max_length=16)
    isolation = models.BooleanField(default=False)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["ward", "number"]
        constraints = [models.UniqueConstraint(fields=["ward", "number"], name="room_number")]

    def __str__(self) -> str:
        return f"{self.ward.code} room {self.number}"


class Bed(models.Model):
    label = models.CharField(max_length=20, unique=True)  # what is painted on the bed
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="beds")
    ward = models.ForeignKey(Ward, on_delete=models.PROTECT, related_name="beds")
    category = models.CharField(max_length=14, choices=BedCategory.choices)
    status = models.CharField(max_length=10, choices=BedStatus.choices, default=BedStatus.FREE)
    status_note = models.CharField(max_length=200, blank=True)
    status_since = models.DateTimeField()
    version = models.PositiveIntegerField(default=1)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["ward", "label"]
        indexes = [models.Index(fields=["ward", "status"], name="bed_board")]

    def __str__(self) -> str:
        return self.label


class AdmissionSource(models.TextChoices):
    OPD = "opd", "OPD (advice to admit)"
    EMERGENCY = "emergency", "Emergency"
    DIRECT = "direct", "Direct / transfer in"


class AdmissionStatus(models.TextChoices):
    ADMITTED = "admitted", "Admitted"
    DISCHARGED = "discharged", "Discharged"


class Admission(models.Model):
    number = models.CharField("IP number", max_length=14, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT)
    status = models.CharField(
        max_length=10, choices=AdmissionStatus.choices, default=AdmissionStatus.ADMITTED
    )
    source = models.CharField(max_length=10, choices=AdmissionSource.choices)
    consultation = models.OneToOneField(
        "opd.Consultation", on_delete=models.PROTECT, null=True, blank=True
    )
    admitted_at = models.DateTimeField()
    admitted_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    attending_doctor = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("appointments.Clinic", on_delete=models.PROTECT)
    provisional_icd10 = models.CharField(max_length=8)
    provisional_diagnosis = models.CharField(max_length=250)
    bed = models.ForeignKey(Bed, on_delete=models.PROTECT, null=True, blank=True)
    discharged_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-admitted_at"]
        constraints = [
            # The database's own guarantees: one bed, one admitted patient; one admission
            # at a time for each patient.
            models.UniqueConstraint(
                fields=["bed"],
                condition=models.Q(status="admitted"),
                name="admission_one_per_bed",
            ),
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(status="admitted"),
                name="admission_one_per_patient",
            ),
            models.CheckConstraint(
                condition=models.Q(discharged_at__isnull=True)
                | models.Q(discharged_at__gte=models.F("admitted_at")),
                name="admission_discharged_after_admitted",
            ),
        ]
        indexes = [models.Index(fields=["status", "admitted_at"], name="admission_census")]

    def __str__(self) -> str:
        return self.number


class BedStay(models.Model):
    """One admission in one bed from one moment to another: the history of who lay where."""

    admission = models.ForeignKey(Admission, on_delete=models.PROTECT, related_name="stays")
    bed = models.ForeignKey(Bed, on_delete=models.PROTECT, related_name="stays")
    unit = models.ForeignKey("appointments.Clinic", on_delete=models.PROTECT)
    attending_doctor = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    moved_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["bed"],
                condition=models.Q(ended_at__isnull=True),
                name="stay_one_open_per_bed",
            ),
        ]
        indexes = [models.Index(fields=["bed", "started_at"], name="stay_bed_time")]

    def __str__(self) -> str:
        return f"{self.admission} in {self.bed}"


class Observation(models.Model):
    """A set of vital signs on the ward chart; units as in OPD (°C, /min, mmHg, %)."""

    admission = models.ForeignKey(Admission, on_delete=models.PROTECT, related_name="observations")
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    temperature_c = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    pulse_per_min = models.PositiveSmallIntegerField(null=True, blank=True)
    respiratory_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    systolic_mmhg = models.PositiveSmallIntegerField(null=True, blank=True)
    diastolic_mmhg = models.PositiveSmallIntegerField(null=True, blank=True)
    spo2_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["recorded_at"]

    def __str__(self) -> str:
        return f"observation of {self.admission} at {self.recorded_at}"


class FluidDirection(models.TextChoices):
    INTAKE = "intake", "Intake"
    OUTPUT = "output", "Output"


class FluidRoute(models.TextChoices):
    ORAL = "oral", "Oral"
    IV = "iv", "IV fluid"
    RYLES = "ryles", "Ryle's tube"
    URINE = "urine", "Urine"
    DRAIN = "drain", "Drain"
    VOMIT = "vomit", "Vomit"
    STOOL = "stool", "Stool"
    OTHER = "other", "Other"


class IntakeOutput(models.Model):
    admission = models.ForeignKey(Admission, on_delete=models.PROTECT, related_name="fluids")
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=6, choices=FluidDirection.choices)
    route = models.CharField(max_length=6, choices=FluidRoute.choices)
    volume_ml = models.PositiveIntegerField()
    note = models.CharField(max_length=200, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["recorded_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(volume_ml__gte=1, volume_ml__lte=10000), name="fluid_volume"
            )
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.volume_ml} ml"


class NursingNote(models.Model):
    admission = models.ForeignKey(Admission, on_delete=models.PROTECT, related_name="notes")
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["recorded_at"]

    def __str__(self) -> str:
        return f"note on {self.admission}"


class MedicationOrder(models.Model):
    """A drug charted for an inpatient; nurses record each dose against it."""

    admission = models.ForeignKey(Admission, on_delete=models.PROTECT, related_name="medications")
    drug = models.CharField(max_length=120)
    dose = models.CharField(max_length=40)
    route = models.CharField(max_length=12, choices=Route.choices)
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    instructions = models.CharField(max_length=200, blank=True)
    ordered_at = models.DateTimeField()
    ordered_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["ordered_at"]

    def __str__(self) -> str:
        return f"{self.drug} {self.dose} {self.frequency}"


class DoseOutcome(models.TextChoices):
    GIVEN = "given", "Given"
    HELD = "held", "Held"
    REFUSED = "refused", "Refused by the patient"


class MedicationDose(models.Model):
    """The medication administration record: one dose given, held or refused."""

    order = models.ForeignKey(MedicationOrder, on_delete=models.PROTECT, related_name="doses")
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=8, choices=DoseOutcome.choices)
    note = models.CharField(max_length=200, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["recorded_at"]

    def __str__(self) -> str:
        return f"{self.order}: {self.outcome}"


class DischargeType(models.TextChoices):
    NORMAL = "normal", "Discharged home"
    LAMA = "lama", "Left against medical advice"
    REFERRED = "referred", "Referred to another hospital"
    ABSCONDED = "absconded", "Absconded"
    DEATH = "death", "Death"


class MannerOfDeath(models.TextChoices):
    NATURAL = "natural", "Natural"
    ACCIDENT = "accident", "Accident"
    SUICIDE = "suicide", "Suicide"
    HOMICIDE = "homicide", "Homicide"
    PENDING = "pending", "Pending investigation"


class Discharge(models.Model):
    """The discharge summary, and for a death the facts the death record (MCCD,
    Form 4 of the Registration of Births and Deaths Act) needs."""

    admission = models.OneToOneField(Admission, on_delete=models.PROTECT, related_name="discharge")
    kind = models.CharField(max_length=10, choices=DischargeType.choices)
    discharged_at = models.DateTimeField()
    discharged_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    procedures = models.TextField(blank=True)
    course = models.TextField("course in hospital")
    investigations = models.TextField(blank=True)
    condition = models.CharField("condition at discharge", max_length=200)
    medications = models.TextField("medications on discharge", blank=True)
    follow_up = models.CharField(max_length=200, blank=True)
    referred_to = models.CharField(max_length=200, blank=True)
    # Death only
    death_at = models.DateTimeField(null=True, blank=True)
    cause_immediate = models.CharField("immediate cause", max_length=250, blank=True)
    cause_antecedent = models.CharField("antecedent cause", max_length=250, blank=True)
    cause_underlying_icd10 = models.CharField("underlying cause (ICD-10)", max_length=8, blank=True)
    cause_underlying = models.CharField("underlying cause", max_length=250, blank=True)
    manner_of_death = models.CharField(max_length=20, choices=MannerOfDeath.choices, blank=True)
    medico_legal = models.BooleanField("medico-legal case", default=False)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    def __str__(self) -> str:
        return f"discharge of {self.admission}"


class DischargeDiagnosis(models.Model):
    discharge = models.ForeignKey(Discharge, on_delete=models.PROTECT, related_name="diagnoses")
    position = models.PositiveSmallIntegerField()
    icd10_code = models.CharField("ICD-10 code", max_length=8, db_index=True)
    description = models.CharField(max_length=250)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["discharge", "position"]
        constraints = [
            models.UniqueConstraint(fields=["discharge", "position"], name="discharge_dx_position")
        ]

    def __str__(self) -> str:
        return f"{self.icd10_code} {self.description}"
