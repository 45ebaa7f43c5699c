"""Appointment pages: booking at the counter, a clinic's day, schedules, and the
public self-booking pages (phone + one-time code)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ajeya.appointments import documents, forms, selectors, services
from ajeya.appointments.models import BookingChannel
from ajeya.core import clock, pdf
from ajeya.core.context import client_ip
from ajeya.core.errors import ApplicationError, ValidationFailed
from ajeya.core.forms import add_service_errors
from ajeya.core.roles import Perm, permission_required, public
from ajeya.ledger import papers
from ajeya.ledger.access import seen
from ajeya.ledger.models import AccessKind
from ajeya.patients import selectors as patient_selectors
from ajeya.patients.models import Patient

SELF_BOOKING_KEY = "self_booking"  # session: {"verification": PhoneVerification id}


def _day(value: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else clock.today()
    except ValueError:
        raise ValidationFailed({"date": [f"{value!r} is not a date (YYYY-MM-DD)."]}) from None


def _slot_choice(cleaned: tuple[int, dt.time]):
    session_id, slot_time = cleaned
    return selectors.session_get(session_id), slot_time


def _grid_context(clinic_id, day_text) -> dict:
    """The slot grid of a clinic's day, for the htmx fragment and for a page's first
    render (drawn with the page, so no second request can overtake it)."""
    day = _day(day_text if isinstance(day_text, str) else None)
    if isinstance(day_text, dt.date):
        day = day_text
    clinic = None
    if clinic_id and str(clinic_id).isdigit():
        clinic = selectors.clinics_active().filter(pk=clinic_id).first()
    return {
        "clinic": clinic,
        "day": day,
        "days": selectors.clinic_day(clinic, day) if clinic else [],
    }


def _form_grid(form, clinic_id=None) -> dict:
    try:
        return _grid_context(clinic_id or form["clinic"].value(), form["date"].value())
    except ValidationFailed:
        return _grid_context(None, None)


def _grid(request, template: str):
    return render(
        request, template, _grid_context(request.GET.get("clinic"), request.GET.get("date"))
    )


@permission_required(Perm.APPOINTMENT_VIEW)
def slots(request):
    """htmx: the slot grid of a clinic's day."""
    return _grid(request, "appointments/_slots.html")


@permission_required(Perm.APPOINTMENT_BOOK)
def book(request):
    initial = {"uhid": request.GET.get("uhid", ""), "date": clock.today()}
    form = forms.BookForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            patient = patient_selectors.patient_get(data["uhid"])
            session, slot_time = _slot_choice(data["slot"])
            if session.clinic_id != data["clinic"].pk:
                raise ValidationFailed({"slot": ["Choose a slot of the chosen clinic."]})
            appointment = services.appointment_book(
                actor=request.user,
                patient=patient,
                session=session,
                date=data["date"],
                slot_time=slot_time,
                channel=data["channel"],
                note=data["note"],
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                f"Booked {appointment.number}: {patient.name}, {appointment.clinic.name}, "
                f"{appointment.date:%d-%m-%Y} {appointment.slot_time:%H:%M}.",
            )
            return redirect("appointments:detail", number=appointment.number)
    return render(request, "appointments/book.html", {"form": form, **_form_grid(form)})


@permission_required(Perm.APPOINTMENT_VIEW)
def detail(request, number: str):
    appointment = selectors.appointment_get(number)
    seen(request, [appointment.patient.uhid], AccessKind.VIEWED)
    return render(
        request,
        "appointments/detail.html",
        {
            "appointment": appointment,
            "cancel_form": forms.ReasonForm(),
            "reschedule_form": forms.RescheduleForm(initial={"date": appointment.date}),
        },
    )


def _act(request, number: str, action) -> HttpResponse:
    appointment = selectors.appointment_get(number)
    try:
        done = action(appointment)
    except ApplicationError as exc:
        messages.error(request, exc.human)
    else:
        messages.success(request, f"Appointment {done.number}: {done.get_status_display()}.")
    return redirect("appointments:detail", number=appointment.number)


@permission_required(Perm.APPOINTMENT_BOOK)
@require_POST
def cancel(request, number: str):
    form = forms.ReasonForm(request.POST)
    reason = form.data.get("reason", "")
    return _act(
        request,
        number,
        lambda a: services.appointment_cancel(actor=request.user, appointment=a, reason=reason),
    )


@permission_required(Perm.APPOINTMENT_BOOK)
@require_POST
def no_show(request, number: str):
    return _act(
        request,
        number,
        lambda a: services.appointment_mark_no_show(actor=request.user, appointment=a),
    )


@permission_required(Perm.APPOINTMENT_BOOK)
def reschedule(request, number: str):
    appointment = selectors.appointment_get(number)
    form = forms.RescheduleForm(request.POST or None, initial={"date": appointment.date})
    if request.method == "POST" and form.is_valid():
        try:
            session, slot_time = _slot_choice(form.cleaned_data["slot"])
            services.appointment_reschedule(
                actor=request.user,
                appointment=appointment,
                session=session,
                date=form.cleaned_data["date"],
                slot_time=slot_time,
                reason=form.cleaned_data["reason"],
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Appointment {appointment.number} moved.")
            return redirect("appointments:detail", number=appointment.number)
    seen(request, [appointment.patient.uhid], AccessKind.VIEWED)
    return render(
        request,
        "appointments/reschedule.html",
        {"form": form, "appointment": appointment, **_form_grid(form, appointment.clinic_id)},
    )


@permission_required(Perm.APPOINTMENT_VIEW)
def slip(request, number: str):
    appointment = selectors.appointment_get(number)
    seen(request, [appointment.patient.uhid], AccessKind.PRINTED)
    return _pdf(request, appointment, printed_by=pdf.printed_by(request))


def _pdf(request, appointment, *, printed_by: str) -> HttpResponse:
    return pdf.response(
        documents.appointment_slip(
            appointment, printed_by=printed_by, verify_url=papers.verify_url(request, appointment)
        ),
        f"appointment-{appointment.number}.pdf",
    )


@permission_required(Perm.APPOINTMENT_VIEW)
def clinic_day(request, code: str):
    clinic = selectors.clinic_get(code)
    day = _day(request.GET.get("date"))
    bookings = list(selectors.appointments_for_day(clinic, day))
    seen(request, [a.patient.uhid for a in bookings], AccessKind.LISTED)
    return render(
        request,
        "appointments/clinic_day.html",
        {
            "clinic": clinic,
            "day": day,
            "days": selectors.clinic_day(clinic, day),
            "bookings": bookings,
            "prev": day - dt.timedelta(days=1),
            "next": day + dt.timedelta(days=1),
        },
    )


@permission_required(Perm.APPOINTMENT_VIEW)
def clinics(request):
    day = _day(request.GET.get("date"))
    rows = selectors.clinics_day(day)
    return render(request, "appointments/clinics.html", {"rows": rows, "day": day})


# -- schedules (hospital administration) ------------------------------------------------


@permission_required(Perm.SCHEDULE_MANAGE)
def schedules(request):
    clinic_form = forms.ClinicForm(prefix="clinic")
    session_form = forms.SessionForm(prefix="session")
    closure_form = forms.ClosureForm(prefix="closure")
    affected = None
    if request.method == "POST":
        which = request.POST.get("form")
        try:
            if which == "clinic":
                clinic_form = forms.ClinicForm(request.POST, prefix="clinic")
                if clinic_form.is_valid():
                    clinic = services.clinic_create(actor=request.user, **clinic_form.cleaned_data)
                    messages.success(request, f"Clinic {clinic.code} opened.")
                    return redirect("appointments:schedules")
            elif which == "session":
                session_form = forms.SessionForm(request.POST, prefix="session")
                if session_form.is_valid():
                    session = services.session_create(
                        actor=request.user, **session_form.cleaned_data
                    )
                    messages.success(request, f"Session {session} added.")
                    return redirect("appointments:schedules")
            elif which == "closure":
                closure_form = forms.ClosureForm(request.POST, prefix="closure")
                if closure_form.is_valid():
                    closure, affected = services.closure_create(
                        actor=request.user, **closure_form.cleaned_data
                    )
                    messages.success(
                        request,
                        f"{closure} recorded; {len(affected)} booking(s) are affected "
                        "(listed below).",
                    )
                    seen(request, [a.patient.uhid for a in affected], AccessKind.LISTED)
                    closure_form = forms.ClosureForm(prefix="closure")
        except ValidationFailed as exc:
            target = {"clinic": clinic_form, "session": session_form}.get(which, closure_form)
            add_service_errors(target, exc)
    return render(
        request,
        "appointments/schedules.html",
        {
            "clinics": selectors.clinics_active().prefetch_related("sessions__doctor"),
            "closures": selectors.upcoming_closures(),
            "clinic_form": clinic_form,
            "session_form": session_form,
            "closure_form": closure_form,
            "affected": affected,
        },
    )


# -- self-booking (public) --------------------------------------------------------------


def _verification(request):
    """The phone verification this browser completed in the last minutes, if any."""
    held = request.session.get(SELF_BOOKING_KEY) or {}
    return services.verification_in_force(held.get("verification"))


def _until(minutes: int) -> str:
    return (clock.now() + dt.timedelta(minutes=minutes)).isoformat()


@public
def self_start(request):
    form = forms.PhoneForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            verification = services.otp_send(
                phone=form.cleaned_data["phone"], ip=client_ip(request)
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            request.session["self_booking_verification"] = verification.pk
            return redirect("self_booking:verify")
    return render(request, "appointments/self_start.html", {"form": form})


@public
def self_verify(request):
    verification_id = request.session.get("self_booking_verification")
    if verification_id is None:
        return redirect("self_booking:start")
    form = forms.CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.otp_verify(verification_id=verification_id, code=form.cleaned_data["code"])
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        else:
            request.session.cycle_key()
            request.session.pop("self_booking_verification", None)
            request.session[SELF_BOOKING_KEY] = {"verification": verification_id}
            return redirect("self_booking:choose")
    return render(request, "appointments/self_verify.html", {"form": form})


@public
def self_choose(request):
    verification = _verification(request)
    if verification is None:
        messages.info(request, "Enter your mobile number to get a new code.")
        return redirect("self_booking:start")
    patients = list(Patient.objects.filter(phone=verification.phone).order_by("name")[:20])
    form = forms.SelfBookForm(
        request.POST or None, patients=patients, initial={"date": clock.today()}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        patient = next(p for p in patients if p.uhid == data["patient"])
        try:
            session, slot_time = _slot_choice(data["slot"])
            if session.clinic_id != data["clinic"].pk:
                raise ValidationFailed({"slot": ["Choose a slot of the chosen clinic."]})
            appointment = services.appointment_book(
                actor=None,
                patient=patient,
                session=session,
                date=data["date"],
                slot_time=slot_time,
                channel=BookingChannel.ONLINE,
                verification=verification,
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            # One booking per code: the next person at this browser starts again.
            request.session.pop(SELF_BOOKING_KEY, None)
            request.session["self_booked"] = {
                "number": appointment.number,
                "until": _until(services.SELF_BOOKING_MINUTES),
            }
            return redirect("self_booking:done")
    seen(request, [p.uhid for p in patients], AccessKind.LISTED)
    return render(
        request,
        "appointments/self_choose.html",
        {"form": form, "patients": patients, **_form_grid(form)},
    )


@public
def self_slots(request):
    """htmx: the slot grid, for a caller who has proved their phone."""
    if _verification(request) is None:
        return HttpResponse("Your code has expired: start again.", status=403)
    return _grid(request, "appointments/_slots.html")


@public
def self_done(request):
    booked = request.session.get("self_booked") or {}
    if not booked.get("until") or dt.datetime.fromisoformat(booked["until"]) < clock.now():
        return redirect("self_booking:start")
    appointment = selectors.appointment_get(booked["number"])
    if request.GET.get("pdf") == "1":
        seen(request, [appointment.patient.uhid], AccessKind.PRINTED)
        return _pdf(request, appointment, printed_by="self-booking")
    seen(request, [appointment.patient.uhid], AccessKind.VIEWED)
    return render(request, "appointments/self_done.html", {"appointment": appointment})
