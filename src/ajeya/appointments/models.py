"""Clinics (OPD units), their weekly sessions, the days they are closed, and bookings.

A session template says when a clinic (and, optionally, which doctor) sees patients on
one weekday: its hours, slot length and how many patients each slot takes. Slots are
not rows: they are derived from the templates for a date, so changing a template
changes the future without rewriting anything.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

ACTIVE_STATUSES = ("booked", "arrived")


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class Clinic(models.Model):
    """An outpatient clinic: a unit of a department, seeing patients in one room."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100)
    department = models.ForeignKey("core.Department", on_delete=models.PROTECT)
    room = models.CharField(max_length=20)
    is_active = models.BooleanField(default=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class ClinicSession(models.Model):
    """A weekly session template: e.g. Medicine Unit I, Mondays 09:00-13:00, 15-minute
    slots of 4 patients each, from 1 April until further notice."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="sessions")
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()
    slot_minutes = models.PositiveSmallIntegerField()
    per_slot = models.PositiveSmallIntegerField("patients per slot")
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["clinic__code", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_time__gt=models.F("start_time")), name="session_ends_after"
            ),
            models.CheckConstraint(
                condition=models.Q(slot_minutes__gte=5, slot_minutes__lte=240),
                name="session_slot_length",
            ),
            models.CheckConstraint(condition=models.Q(per_slot__gte=1), name="session_capacity"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.clinic.code} {self.get_weekday_display()} "
            f"{self.start_time:%H:%M}-{self.end_time:%H:%M}"
        )

    def slot_times(self) -> list[dt.time]:
        start = dt.datetime.combine(dt.date.min, self.start_time)
        end = dt.datetime.combine(dt.date.min, self.end_time)
        step = dt.timedelta(minutes=self.slot_minutes)
        times = []
        while start + step <= end:
            times.append(start.time())
            start += step
        return times

    @property
    def capacity(self) -> int:
        return len(self.slot_times()) * self.per_slot

    def runs_on(self, day: dt.date) -> bool:
        return (
            day.weekday() == self.weekday
            and self.valid_from <= day
            and (self.valid_until is None or day <= self.valid_until)
        )


class ClosureKind(models.TextChoices):
    HOLIDAY = "holiday", "Hospital holiday"
    CLINIC = "clinic", "Clinic closed"
    LEAVE = "leave", "Doctor on leave"


class Closure(models.Model):
    """Days on which no slots are offered: for the whole hospital, a clinic or a doctor."""

    kind = models.CharField(max_length=10, choices=ClosureKind.choices)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, null=True, blank=True)
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    start_date = models.DateField()
    end_date = models.DateField()
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-start_date"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")), name="closure_dates"
            ),
        ]

    def __str__(self) -> str:
        what = self.clinic or self.doctor or "whole hospital"
        return f"{self.get_kind_display()}: {what}, {self.start_date} to {self.end_date}"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    ARRIVED = "arrived", "Arrived"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "Did not come"


class BookingChannel(models.TextChoices):
    COUNTER = "counter", "At the counter"
    PHONE = "phone", "By phone (clerk)"
    ONLINE = "online", "Self-booked online"
    FOLLOW_UP = "follow_up", "Follow-up by the doctor"


class Appointment(models.Model):
    number = models.CharField(max_length=12, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT)
    session = models.ForeignKey(ClinicSession, on_delete=models.PROTECT)
    date = models.DateField()
    slot_time = models.TimeField()
    seat = models.PositiveSmallIntegerField()  # 1..per_slot: the database keeps seats unique
    status = models.CharField(
        max_length=10, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    channel = models.CharField(max_length=10, choices=BookingChannel.choices)
    contact_phone = models.CharField(max_length=10, blank=True)
    booked_at = models.DateTimeField()
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["date", "slot_time", "seat"]
        constraints = [
            # Capacity held by the database too: one active booking per seat of a slot.
            models.UniqueConstraint(
                fields=["session", "date", "slot_time", "seat"],
                condition=models.Q(status__in=ACTIVE_STATUSES),
                name="appointment_one_per_seat",
            ),
            models.UniqueConstraint(
                fields=["patient", "clinic", "date"],
                condition=models.Q(status__in=ACTIVE_STATUSES),
                name="appointment_one_per_patient_clinic_day",
            ),
            models.CheckConstraint(condition=models.Q(seat__gte=1), name="appointment_seat"),
        ]
        indexes = [models.Index(fields=["clinic", "date"], name="appointment_clinic_day")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class PhoneVerification(models.Model):
    """A one-time code sent to a phone for self-booking. Security state, like a session:
    kept for rate limits and investigation, not ledgered."""

    phone = models.CharField(max_length=10, db_index=True)
    code_hash = models.CharField(max_length=100)  # "<salt>$<sha256 hex>"
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)
    ip = models.CharField(max_length=45, blank=True)

    def __str__(self) -> str:
        return f"code for {self.phone[:2]}******{self.phone[-2:]}"
