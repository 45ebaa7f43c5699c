"""Ward pages: the bed board, admission (from OPD advice or emergency), the inpatient
chart (observations with a chart, intake/output, notes, medication record), transfers,
discharge with its summary, room contacts, housekeeping and the census."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ajeya.core import clock, pdf
from ajeya.core.errors import ApplicationError, NotFound, ValidationFailed
from ajeya.core.forms import add_service_errors, safe_next
from ajeya.core.roles import Perm, has_perm, permission_required
from ajeya.ipd import charts, documents, forms, selectors, services
from ajeya.ipd.models import BedCategory
from ajeya.ledger import papers
from ajeya.ledger.access import seen
from ajeya.ledger.models import AccessKind
from ajeya.opd import selectors as opd_selectors
from ajeya.patients import selectors as patient_selectors

BOARD_REFRESH_SECONDS = 10


@permission_required(Perm.BED_BOARD_VIEW)
def board(request, code: str | None = None):
    """The bed board: colour by status, counts, a category filter; it refreshes itself.
    Occupied beds show the IP number, initials, age and sex — not the name: the board
    hangs on ward walls and refreshes all day."""
    category = request.GET.get("category") or None
    ward = selectors.ward_get(code) if code else None
    data = selectors.bed_board(ward_code=code, category=category)
    template = "ipd/_board.html" if request.htmx else "ipd/board.html"
    return render(
        request,
        template,
        {
            "board": data,
            "ward": ward,
            "category": category,
            "categories": BedCategory.choices,
            "refresh": BOARD_REFRESH_SECONDS,
            "now": clock.local(clock.now()),
            # One reverse() for the page, not one a bed.
            "chart_url": reverse("ipd:admission", args=["-"])[:-2]
            if has_perm(request.user, Perm.INPATIENT_VIEW)
            else "",
        },
    )


@permission_required(Perm.ADMIT)
def admit(request):
    consultation = None
    if cid := (request.POST.get("consultation") or request.GET.get("consultation")):
        consultation = opd_selectors.admission_advice_get(cid)
        seen(request, [consultation.visit.patient.uhid], AccessKind.VIEWED)
    initial = {"uhid": request.GET.get("uhid", "")}
    if consultation is not None:
        first = consultation.diagnoses.first()
        initial.update(
            uhid=consultation.visit.patient.uhid,
            source="opd",
            unit=consultation.visit.clinic_id,
            attending_doctor=consultation.doctor_id,
            provisional_icd10=f"{first.icd10_code} {first.description}" if first else "",
            consultation=consultation.pk,
        )
    form = forms.AdmitForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            admission = services.admission_create(
                actor=request.user,
                patient=patient_selectors.patient_get(data["uhid"]),
                bed=data["bed"],
                attending_doctor=data["attending_doctor"],
                unit=data["unit"],
                provisional_icd10=data["provisional_icd10"].split()[0],
                source=data["source"],
                consultation=consultation,
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            form.add_error(None, exc.human)
        else:
            messages.success(request, f"Admitted: {admission.number}, bed {admission.bed.label}.")
            if has_perm(request.user, Perm.INPATIENT_VIEW):
                return redirect("ipd:admission", number=admission.number)
            return redirect("ipd:admitted", number=admission.number)
    waiting = list(selectors.awaiting_admission())
    seen(request, [c.visit.patient.uhid for c in waiting], AccessKind.LISTED)
    return render(
        request,
        "ipd/admit.html",
        {"form": form, "waiting": waiting, "consultation": consultation},
    )


def _chart_page(request, admission, **forms_):
    data = selectors.chart(admission)
    context = {
        "admission": admission,
        **data,
        "balance": selectors.fluid_balance(data["fluids"]),
        "svg": charts.observations_svg(data["observations"]),
        "observation_form": forms.ObservationForm(),
        "fluid_form": forms.FluidForm(prefix="fluid"),
        "note_form": forms.NoteForm(),
        "medication_form": forms.MedicationForm(prefix="rx"),
        "dose_form": forms.DoseForm(),
        # Its bed list is a hospital-wide query: only when the form will be drawn.
        "transfer_form": forms.TransferForm()
        if admission.status == "admitted" and has_perm(request.user, Perm.BED_TRANSFER)
        else None,
    }
    context.update(forms_)
    return render(request, "ipd/admission.html", context)


@permission_required(Perm.ADMIT)
def admitted(request, number: str):
    """The admission desk's confirmation: IP number, bed, the sheet to print."""
    record = selectors.admission_get(number)
    seen(request, [record.patient.uhid], AccessKind.VIEWED)
    return render(request, "ipd/admitted.html", {"admission": record})


@permission_required(Perm.INPATIENT_VIEW)
def admission(request, number: str):
    record = selectors.admission_get(number)
    seen(request, [record.patient.uhid], AccessKind.VIEWED)
    return _chart_page(request, record)


def _chart_post(
    request, number: str, form_class, form_name: str, write, *, inline=False, prefix=None
):
    """Parse one chart form and write it. Input errors show on the chart with the form
    (422); a refusal about the admission itself (discharged, stopped) comes back as a
    message, since its form is no longer drawn. `inline` forms (a row's dose or stop
    button) report everything as a message."""
    record = selectors.admission_get(number)
    form = form_class(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            message = write(record, form.cleaned_data)
        except ValidationFailed as exc:
            if inline:
                messages.error(request, exc.human)
                return redirect("ipd:admission", number=record.number)
            add_service_errors(form, exc)
        except ApplicationError as exc:
            messages.error(request, exc.human)
            return redirect("ipd:admission", number=record.number)
        else:
            messages.success(request, message)
            return redirect("ipd:admission", number=record.number)
    elif inline:
        problems = [m for errors in form.errors.values() for m in errors]
        messages.error(request, " ".join(problems))
        return redirect("ipd:admission", number=record.number)
    seen(request, [record.patient.uhid], AccessKind.VIEWED)
    response = _chart_page(request, record, **{form_name: form})
    response.status_code = 422
    return response


@permission_required(Perm.NURSING_CHART)
@require_POST
def observation(request, number: str):
    def write(record, data):
        services.observation_record(actor=request.user, admission=record, **data)
        return "Observations charted."

    return _chart_post(request, number, forms.ObservationForm, "observation_form", write)


@permission_required(Perm.NURSING_CHART)
@require_POST
def fluid(request, number: str):
    def write(record, data):
        services.fluid_record(actor=request.user, admission=record, **data)
        return f"{data['direction'].capitalize()} of {data['volume_ml']} ml charted."

    return _chart_post(request, number, forms.FluidForm, "fluid_form", write, prefix="fluid")


@permission_required(Perm.NURSING_CHART)
@require_POST
def note(request, number: str):
    def write(record, data):
        services.note_record(actor=request.user, admission=record, text=data["text"])
        return "Note added."

    return _chart_post(request, number, forms.NoteForm, "note_form", write)


@permission_required(Perm.MEDICATION_ORDER)
@require_POST
def medication(request, number: str):
    def write(record, data):
        order = services.medication_order(actor=request.user, admission=record, **data)
        return f"{order.drug} charted."

    return _chart_post(request, number, forms.MedicationForm, "medication_form", write, prefix="rx")


def _medication(record, pk: int):
    order = record.medications.filter(pk=pk).first()
    if order is None:
        raise NotFound(f"No medication order {pk} on {record.number}.")
    return order


@permission_required(Perm.MEDICATION_ORDER)
@require_POST
def medication_stop(request, number: str, pk: int):
    order = _medication(selectors.admission_get(number), pk)  # 404 before anything else

    def write(record, data):
        services.medication_stop(actor=request.user, order=order, reason=data["reason"])
        return f"{order.drug} stopped."

    return _chart_post(request, number, forms.StopForm, "stop_form", write, inline=True)


@permission_required(Perm.NURSING_CHART)
@require_POST
def dose(request, number: str, pk: int):
    order = _medication(selectors.admission_get(number), pk)  # 404 before anything else

    def write(record, data):
        services.dose_record(actor=request.user, order=order, **data)
        return f"{order.drug}: {data['outcome']} recorded."

    return _chart_post(request, number, forms.DoseForm, "dose_form", write, inline=True)


@permission_required(Perm.BED_TRANSFER)
@require_POST
def transfer(request, number: str):
    def write(record, data):
        moved = services.admission_transfer(actor=request.user, admission=record, **data)
        return f"{moved.number} is now in bed {moved.bed.label}."

    return _chart_post(request, number, forms.TransferForm, "transfer_form", write)


@permission_required(Perm.DISCHARGE)
def discharge(request, number: str):
    record = selectors.admission_get(number)
    initial = {"investigations": services.investigations_for(record)}
    form = forms.DischargeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.discharge_create(
                actor=request.user,
                admission=record,
                kind=data["kind"],
                diagnoses=form.codes(),
                discharged_at=data["discharged_at"],
                death_at=data["death_at"],
                cause_underlying_icd10=(data["cause_underlying_icd10"] or "").split(" ")[0],
                medico_legal=data["medico_legal"],
                **form.texts(),
            )
        except ValidationFailed as exc:
            where = {"diagnoses": "diagnosis_1"}
            for part, problems in exc.errors.items():
                for problem in problems:
                    target = where.get(part, part)
                    form.add_error(target if target in form.fields else None, problem)
        except ApplicationError as exc:
            form.add_error(None, exc.human)
        else:
            messages.success(request, f"{record.number} discharged; the bed goes to cleaning.")
            return redirect("ipd:admission", number=record.number)
    seen(request, [record.patient.uhid], AccessKind.VIEWED)
    return render(request, "ipd/discharge.html", {"admission": record, "form": form})


@permission_required(Perm.INPATIENT_VIEW)
def discharge_pdf(request, number: str):
    record = selectors.admission_get(number)
    if not hasattr(record, "discharge"):
        raise ValidationFailed(f"{record.number} has not been discharged yet.")
    seen(request, [record.patient.uhid], AccessKind.PRINTED)
    by = pdf.printed_by(request)
    return pdf.response(
        documents.discharge_summary(
            record, printed_by=by, verify_url=papers.verify_url(request, record.discharge)
        ),
        f"discharge-{record.number}.pdf",
    )


@permission_required(Perm.ADMIT)
def admission_sheet(request, number: str):
    record = selectors.admission_get(number)
    seen(request, [record.patient.uhid], AccessKind.PRINTED)
    by = pdf.printed_by(request)
    return pdf.response(
        documents.admission_sheet(
            record, printed_by=by, verify_url=papers.verify_url(request, record)
        ),
        f"admission-{record.number}.pdf",
    )


@permission_required(Perm.INPATIENT_VIEW)
def contacts(request, number: str):
    """Who shared a room with this patient, and when: for infection control."""
    record = selectors.admission_get(number)
    found = selectors.room_contacts(record)
    seen(
        request,
        [record.patient.uhid, *[c.stay.admission.patient.uhid for c in found]],
        AccessKind.LISTED,
    )
    return render(request, "ipd/contacts.html", {"admission": record, "contacts": found})


@permission_required(Perm.BED_HOUSEKEEPING)
@require_POST
def bed_status(request, label: str):
    bed = selectors.bed_get(label)
    form = forms.BedStatusForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationFailed("Choose the bed's new status.")
        services.bed_set_status(actor=request.user, bed=bed, **form.cleaned_data)
    except ApplicationError as exc:
        messages.error(request, exc.human)
    else:
        messages.success(request, f"Bed {bed.label}: {form.cleaned_data['status']}.")
    return redirect(safe_next(request, reverse("ipd:board")))


@permission_required(Perm.CENSUS_VIEW)
def census(request):
    form = forms.CensusForm(request.GET or None)
    today = clock.today()
    first, last = today - dt.timedelta(days=13), today
    if form.is_bound and not form.is_valid():
        raise ValidationFailed(
            " ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
        )
    if form.is_bound:
        first = form.cleaned_data["first"] or first
        last = form.cleaned_data["last"] or last
    if last < first or (last - first).days > 366:
        raise ValidationFailed("Choose a period of at most a year, first day before the last.")
    data = selectors.census(first, last)
    return render(
        request,
        "ipd/census.html",
        {"census": data, "form": form, "svg": charts.census_svg(data.daily)},
    )


@permission_required(Perm.WARD_MANAGE)
def setup(request):
    ward_form = forms.WardForm(prefix="ward")
    beds_form = forms.BedsForm(prefix="beds")
    if request.method == "POST":
        which = request.POST.get("form")
        form = (
            forms.WardForm(request.POST, prefix="ward")
            if which == "ward"
            else forms.BedsForm(request.POST, prefix="beds")
        )
        if which == "ward":
            ward_form = form
        else:
            beds_form = form
        if form.is_valid():
            try:
                if which == "ward":
                    ward = services.ward_create(actor=request.user, **form.cleaned_data)
                    messages.success(request, f"Ward {ward.code} opened.")
                else:
                    made = services.room_with_beds(actor=request.user, **form.cleaned_data)
                    messages.success(
                        request,
                        f"Room {form.cleaned_data['room']}: beds {made[0].label} to "
                        f"{made[-1].label}.",
                    )
                return redirect("ipd:setup")
            except ValidationFailed as exc:
                add_service_errors(form, exc)
    return render(
        request,
        "ipd/setup.html",
        {"ward_form": ward_form, "beds_form": beds_form, "board": selectors.bed_board()},
    )
