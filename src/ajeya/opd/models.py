"""Outpatient visits: the day's token queue per clinic, vital signs, and consultations
with their diagnoses (ICD-10), prescriptions and orders."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

OPEN_STATUSES = ("waiting", "in_consultation")


class VisitStatus(models.TextChoices):
    """A visit's place in the journey; the booking before it is an Appointment
    (booked, arrived, cancelled, no-show)."""

    WAITING = "waiting", "Waiting"
    IN_CONSULTATION = "in_consultation", "In consultation"
    DONE = "done", "Done"
    REFERRED = "referred", "Referred to another clinic"
    NO_SHOW = "no_show", "Did not answer the call"
    CANCELLED = "cancelled", "Cancelled"


class Visit(models.Model):
    """One patient's turn in one clinic on one day, with its token number."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT)
    clinic = models.ForeignKey("appointments.Clinic", on_delete=models.PROTECT)
    date = models.DateField()
    token = models.PositiveIntegerField()
    appointment = models.OneToOneField(
        "appointments.Appointment", on_delete=models.PROTECT, null=True, blank=True
    )
    status = models.CharField(
        max_length=16, choices=VisitStatus.choices, default=VisitStatus.WAITING
    )
    arrived_at = models.DateTimeField()
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    called_at = models.DateTimeField(null=True, blank=True)
    called_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    calls = models.PositiveSmallIntegerField(default=0)
    skipped = models.BooleanField(default=False)
    finished_at = models.DateTimeField(null=True, blank=True)
    transferred_from = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="transferred_to"
    )
    note = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["date", "clinic", "token"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "date", "token"], name="visit_token"),
            models.UniqueConstraint(
                fields=["patient", "clinic", "date"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="visit_one_open_per_clinic_day",
            ),
        ]
        indexes = [
            models.Index(fields=["clinic", "date", "status"], name="visit_queue"),
            # The OPD census and dashboard read a period across every clinic: date first,
            # and the columns they count, so the index alone answers them.
            models.Index(fields=["date", "clinic", "status", "appointment"], name="visit_census"),
        ]

    def __str__(self) -> str:
        return f"{self.clinic.code} token {self.token} on {self.date:%d-%m-%Y}"


class Vitals(models.Model):
    """One set of observations; units fixed (°C, /min, mmHg, %, kg, cm)."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="vitals")
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    temperature_c = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    pulse_per_min = models.PositiveSmallIntegerField(null=True, blank=True)
    respiratory_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    systolic_mmhg = models.PositiveSmallIntegerField(null=True, blank=True)
    diastolic_mmhg = models.PositiveSmallIntegerField(null=True, blank=True)
    spo2_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    height_cm = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["recorded_at"]
        verbose_name_plural = "vitals"

    def __str__(self) -> str:
        return f"vitals of {self.visit}"

    @property
    def bmi(self) -> Decimal | None:
        if not self.weight_kg or not self.height_cm:
            return None
        metres = self.height_cm / 100
        return (self.weight_kg / (metres * metres)).quantize(Decimal("0.1"))


class Consultation(models.Model):
    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, related_name="consultation")
    doctor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    completed_at = models.DateTimeField()
    complaints = models.TextField()
    examination = models.TextField(blank=True)
    advice = models.TextField(blank=True)
    admit_advised = models.BooleanField(default=False)
    admit_note = models.CharField(max_length=200, blank=True)
    follow_up_on = models.DateField(null=True, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-completed_at"]
        indexes = [
            models.Index(fields=["admit_advised", "completed_at"], name="consultation_admit_advice")
        ]

    def __str__(self) -> str:
        return f"consultation for {self.visit}"


class Diagnosis(models.Model):
    """An ICD-10 code with the WHO description as it read when the doctor chose it."""

    consultation = models.ForeignKey(
        Consultation, on_delete=models.PROTECT, related_name="diagnoses"
    )
    position = models.PositiveSmallIntegerField()  # 1 = principal diagnosis
    icd10_code = models.CharField("ICD-10 code", max_length=8, db_index=True)
    description = models.CharField(max_length=250)

    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["consultation", "position"]
        verbose_name_plural = "diagnoses"
        constraints = [
            models.UniqueConstraint(fields=["consultation", "position"], name="diagnosis_position")
        ]

    def __str__(self) -> str:
        return f"{self.icd10_code} {self.description}"


class Route(models.TextChoices):
    ORAL = "oral", "Oral"
    IV = "iv", "Intravenous"
    IM = "im", "Intramuscular"
    SC = "sc", "Subcutaneous"
    TOPICAL = "topical", "Topical"
    INHALED = "inhaled", "Inhaled"
    EYE = "eye", "Eye drops"
    EAR = "ear", "Ear drops"
    NASAL = "nasal", "Nasal"
    RECTAL = "rectal", "Rectal"
    SUBLINGUAL = "sublingual", "Sublingual"


class Frequency(models.TextChoices):
    OD = "OD", "Once a day (OD)"
    BD = "BD", "Twice a day (BD)"
    TDS = "TDS", "Three times a day (TDS)"
    QID = "QID", "Four times a day (QID)"
    HS = "HS", "At bedtime (HS)"
    SOS = "SOS", "When needed (SOS)"
    STAT = "STAT", "Once, now (STAT)"
    WEEKLY = "WEEKLY", "Once a week"


class Prescription(models.Model):
    consultation = models.ForeignKey(
        Consultation, on_delete=models.PROTECT, related_name="prescriptions"
    )
    position = models.PositiveSmallIntegerField()
    drug = models.CharField(max_length=120)
    dose = models.CharField(max_length=40)
    route = models.CharField(max_length=12, choices=Route.choices)
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    duration_days = models.PositiveSmallIntegerField()
    instructions = models.CharField(max_length=200, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["consultation", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["consultation", "position"], name="prescription_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.drug} {self.dose} {self.frequency} x {self.duration_days} days"


class OrderKind(models.TextChoices):
    LAB = "lab", "Laboratory test"


class OrderStatus(models.TextChoices):
    REQUESTED = "requested", "Requested (waiting for the department)"
    PLACED = "placed", "Placed with the department"


class ClinicalOrder(models.Model):
    """A test the doctor orders. Until a department's app takes such orders (see
    `opd.orders`), it stays requested and is listed for the department to act on."""

    consultation = models.ForeignKey(Consultation, on_delete=models.PROTECT, related_name="orders")
    kind = models.CharField(max_length=8, choices=OrderKind.choices)
    test = models.CharField(max_length=120)
    note = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=OrderStatus.choices, default=OrderStatus.REQUESTED
    )
    reference = models.CharField(max_length=40, blank=True)  # the department's own id
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["consultation", "id"]
        indexes = [models.Index(fields=["kind", "status"], name="order_worklist")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.test}"
