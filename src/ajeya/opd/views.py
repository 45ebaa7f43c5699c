"""OPD pages: check-in, the doctor's worklist, vitals, consultation, the prescription,
a patient's visit timeline, and the waiting-hall display (no login, no names)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ajeya.appointments import selectors as appointment_selectors
from ajeya.appointments.forms import parse_slot
from ajeya.appointments.models import AppointmentStatus
from ajeya.core import clock, identifiers, pdf
from ajeya.core.errors import ApplicationError, NotFound, ValidationFailed
from ajeya.core.forms import add_service_errors
from ajeya.core.roles import Perm, login_required, permission_required, public
from ajeya.lab import selectors as lab_selectors
from ajeya.ledger import papers
from ajeya.ledger.access import seen
from ajeya.ledger.models import AccessKind
from ajeya.opd import documents, forms, icd10, selectors, services
from ajeya.patients import selectors as patient_selectors

DISPLAY_REFRESH_SECONDS = 5


@permission_required(Perm.APPOINTMENT_VIEW)
def index(request):
    rows = selectors.display([])
    return render(request, "opd/index.html", {"rows": rows, "today": clock.today()})


def _lookup(query: str):
    """A UHID, or an appointment number: the patient and today's bookings."""
    query = query.strip().upper()
    if query.startswith("A"):
        appointment = appointment_selectors.appointment_get(query)
        return appointment.patient
    if not identifiers.is_valid_uhid(query):
        raise ValidationFailed({"q": [f"{query} is neither a UHID nor an appointment number."]})
    return patient_selectors.patient_get(query)


@permission_required(Perm.QUEUE_CHECK_IN)
def check_in(request):
    form = forms.CheckInForm(request.GET or None)
    patient, bookings, walk_in = None, [], None
    if form.is_valid():
        try:
            patient = _lookup(form.cleaned_data["q"])
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except NotFound as exc:
            form.add_error("q", exc.message)
        else:
            seen(request, [patient.uhid], AccessKind.VIEWED)
            bookings = [
                a
                for a in appointment_selectors.patient_appointments(patient)
                if a.date == clock.today()
            ]
            walk_in = forms.WalkInForm(initial={"uhid": patient.uhid})
    return render(
        request,
        "opd/check_in.html",
        {"form": form, "patient": patient, "bookings": bookings, "walk_in": walk_in},
    )


@permission_required(Perm.QUEUE_CHECK_IN)
@require_POST
def arrive(request):
    """Check in with today's appointment (`appointment`) or as a walk-in (`clinic`)."""
    patient = patient_selectors.patient_get(request.POST.get("uhid", ""))
    try:
        appointment = None
        clinic = None
        if number := request.POST.get("appointment"):
            appointment = appointment_selectors.appointment_get(number)
        else:
            form = forms.WalkInForm(request.POST)
            if not form.is_valid():
                raise ValidationFailed({"clinic": ["Choose the clinic the patient is going to."]})
            clinic = form.cleaned_data["clinic"]
        visit = services.visit_check_in(
            actor=request.user, patient=patient, clinic=clinic, appointment=appointment
        )
    except ApplicationError as exc:
        messages.error(request, exc.human)
        return redirect(f"{reverse('opd:check_in')}?q={patient.uhid}")
    messages.success(
        request,
        f"Token {visit.token} for {patient.name}: {visit.clinic.name}, room {visit.clinic.room}.",
    )
    return render(request, "opd/token.html", {"visit": visit})


@permission_required(Perm.QUEUE_MANAGE)
def worklist(request, code: str):
    clinic = appointment_selectors.clinic_get(code)
    queue = selectors.queue(clinic)
    shown = queue.called + queue.waiting + queue.skipped + queue.finished
    seen(request, [v.patient.uhid for v in shown], AccessKind.LISTED)
    return render(
        request,
        "opd/worklist.html",
        # The transfer list is drawn by hand: Django's widget took ~19 ms per called
        # patient for 200 clinics (bench/opd.py).
        {"clinic": clinic, "queue": queue, "clinics": appointment_selectors.clinics_active()},
    )


def _queue_action(request, code: str, action) -> HttpResponse:
    try:
        message = action()
    except ApplicationError as exc:
        messages.error(request, exc.human)
    else:
        messages.success(request, message)
    return redirect("opd:worklist", code=code)


@permission_required(Perm.QUEUE_MANAGE)
@require_POST
def call_next(request, code: str):
    clinic = appointment_selectors.clinic_get(code)

    def act() -> str:
        visit = services.visit_call_next(actor=request.user, clinic=clinic)
        return f"Token {visit.token} called to room {clinic.room}."

    return _queue_action(request, code, act)


def _visit_action(request, pk: int, service, message: str, **kwargs) -> HttpResponse:
    visit = selectors.visit_get(pk)

    def act() -> str:
        done = service(actor=request.user, visit=visit, **kwargs)
        return message.format(token=visit.token, new=done)

    return _queue_action(request, visit.clinic.code, act)


@permission_required(Perm.QUEUE_MANAGE)
@require_POST
def call(request, pk: int):
    return _visit_action(request, pk, services.visit_call, "Token {token} called.")


@permission_required(Perm.QUEUE_MANAGE)
@require_POST
def skip(request, pk: int):
    return _visit_action(request, pk, services.visit_skip, "Token {token} set aside.")


@permission_required(Perm.QUEUE_MANAGE)
@require_POST
def no_show(request, pk: int):
    return _visit_action(
        request, pk, services.visit_mark_no_show, "Token {token} marked as not answering."
    )


@permission_required(Perm.QUEUE_MANAGE)
@require_POST
def transfer(request, pk: int):
    form = forms.TransferForm(request.POST)
    if not form.is_valid():
        visit = selectors.visit_get(pk)
        messages.error(request, "Choose the clinic to send the patient to, and say why.")
        return redirect("opd:worklist", code=visit.clinic.code)
    return _visit_action(
        request,
        pk,
        services.visit_transfer,
        "Token {token} sent on: new token {new.token} in {new.clinic.name}.",
        to_clinic=form.cleaned_data["to_clinic"],
        reason=form.cleaned_data["reason"],
    )


@permission_required(Perm.VITALS_RECORD)
def vitals(request, pk: int):
    visit = selectors.visit_get(pk)
    form = forms.VitalsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.vitals_record(actor=request.user, visit=visit, **form.cleaned_data)
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Vitals recorded for token {visit.token}.")
            return redirect("opd:worklist", code=visit.clinic.code)
    seen(request, [visit.patient.uhid], AccessKind.VIEWED)
    return render(request, "opd/vitals.html", {"visit": visit, "form": form})


def _prescription_lines(formset) -> list[services.PrescriptionLine]:
    return [
        services.PrescriptionLine(
            drug=row.cleaned_data["drug"],
            dose=row.cleaned_data.get("dose") or "",
            route=row.cleaned_data.get("route") or "",
            frequency=row.cleaned_data.get("frequency") or "",
            duration_days=row.cleaned_data.get("duration_days") or 0,
            instructions=row.cleaned_data.get("instructions") or "",
        )
        for row in formset
        if row.filled
    ]


@permission_required(Perm.CONSULT)
def consult(request, pk: int):
    visit = selectors.visit_get(pk)
    form = forms.ConsultationForm(request.POST or None)
    formset = forms.PrescriptionFormSet(request.POST or None, prefix="rx")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        data = form.cleaned_data
        try:
            services.consultation_save(
                actor=request.user,
                visit=visit,
                complaints=data["complaints"],
                examination=data["examination"],
                advice=data["advice"],
                diagnoses=form.diagnosis_codes(),
                prescriptions=_prescription_lines(formset),
                order_lines=[services.OrderLine(test=t) for t in form.lab_lines()],
                admit_advised=data["admit_advised"],
                admit_note=data["admit_note"],
                follow_up_on=data["follow_up_on"],
            )
        except ValidationFailed as exc:
            # The service names its parts; show each where the doctor typed it.
            where = {"diagnoses": "diagnosis_1", "orders": "lab_tests", "prescriptions": None}
            for part, messages_ in exc.errors.items():
                for message in messages_:
                    form.add_error(where.get(part, part if part in form.fields else None), message)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Consultation saved for token {visit.token}.")
            return redirect("opd:visit", pk=visit.pk)
    seen(request, [visit.patient.uhid], AccessKind.VIEWED)
    return render(
        request,
        "opd/consult.html",
        {
            "visit": visit,
            "form": form,
            "formset": formset,
            "vitals": list(visit.vitals.all()),
            "history": list(selectors.patient_visits(visit.patient).exclude(pk=visit.pk)[:5]),
            "lab_panels": lab_selectors.orderable_panels(),
        },
    )


@login_required
def icd10_search(request):
    """htmx: options for the diagnosis fields' datalist."""
    # The field that is typing sends itself (diagnosis_1=..., provisional_icd10=...).
    query = request.GET.get("q") or next((v for v in request.GET.values() if v.strip()), "")
    results = icd10.search(query, limit=15)
    return render(request, "opd/_icd10_options.html", {"results": results})


@permission_required(Perm.CONSULTATION_VIEW)
def visit(request, pk: int):
    visit = selectors.visit_get(pk)
    seen(request, [visit.patient.uhid], AccessKind.VIEWED)
    return render(
        request,
        "opd/visit.html",
        {
            "visit": visit,
            "consultation": selectors.consultation_for(visit),
            "vitals": list(visit.vitals.all()),
        },
    )


@permission_required(Perm.CONSULT)
@require_POST
def follow_up(request, pk: int):
    """Book the follow-up the consultation asked for: a slot chosen from the grid."""
    visit = selectors.visit_get(pk)
    consultation = selectors.consultation_for(visit)
    try:
        if consultation is None or consultation.follow_up_on is None:
            raise ValidationFailed("This consultation asks for no follow-up.")
        try:
            session_id, slot_time = parse_slot(request.POST.get("slot", ""))
        except DjangoValidationError as exc:
            raise ValidationFailed(" ".join(exc.messages)) from None
        appointment = services.follow_up_book(
            actor=request.user,
            consultation=consultation,
            session=appointment_selectors.session_get(session_id),
            date=consultation.follow_up_on,
            slot_time=slot_time,
        )
    except ApplicationError as exc:
        messages.error(request, exc.human)
    else:
        messages.success(
            request,
            f"Follow-up booked: {appointment.number}, {appointment.date:%d-%m-%Y} "
            f"{appointment.slot_time:%H:%M}.",
        )
    return redirect("opd:visit", pk=visit.pk)


@permission_required(Perm.CONSULTATION_VIEW)
def prescription(request, pk: int):
    visit = selectors.visit_get(pk)
    consultation = selectors.consultation_for(visit)
    if consultation is None:
        raise NotFound(f"Token {visit.token} has no consultation yet.")
    seen(request, [visit.patient.uhid], AccessKind.PRINTED)
    return pdf.response(
        documents.prescription(
            consultation,
            printed_by=pdf.printed_by(request),
            verify_url=papers.verify_url(request, consultation),
        ),
        f"prescription-{visit.pk}.pdf",
    )


@permission_required(Perm.CONSULTATION_VIEW)
def timeline(request, uhid: str):
    patient = patient_selectors.patient_get(uhid)
    seen(request, [patient.uhid], AccessKind.VIEWED)
    visits = list(selectors.patient_visits(patient)[:100])
    template = "opd/_timeline.html" if request.htmx else "opd/timeline.html"
    return render(
        request,
        template,
        {
            "patient": patient,
            "visits": visits,
            "appointments": [
                a
                for a in appointment_selectors.patient_appointments(patient)[:20]
                if a.status == AppointmentStatus.BOOKED
            ],
        },
    )


@public
def display(request):
    """The waiting-hall TV: token numbers and rooms only. `?clinics=MED-1,MED-2`."""
    codes = [c for c in request.GET.get("clinics", "").split(",") if c.strip()]
    rows = selectors.display(codes)
    template = "opd/_display_board.html" if request.htmx else "opd/display.html"
    return render(
        request,
        template,
        {
            "rows": rows,
            "now": clock.local(clock.now()),
            "refresh": DISPLAY_REFRESH_SECONDS,
            "clinics": request.GET.get("clinics", ""),
        },
    )
