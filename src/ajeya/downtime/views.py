"""Downtime pages: snapshot status and kits, a kit's reconciliation, and back-entry of
paper registrations, lab requisitions and receipts."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ajeya.core import pdf
from ajeya.core.forms import FAILED, on_form
from ajeya.core.roles import Perm, has_perm, permission_required
from ajeya.downtime import charts, printing, selectors, services
from ajeya.downtime.forms import (
    KitForm,
    ReceiptBackEntryForm,
    RegisterBackEntryForm,
    SampleBackEntryForm,
    VoidForm,
)
from ajeya.ledger.access import seen
from ajeya.ledger.models import AccessKind
from ajeya.patients import selectors as patient_selectors


@permission_required(Perm.DOWNTIME_VIEW)
def index(request, kit_form: KitForm | None = None):
    context = {
        "rows": selectors.snapshot_rows(),
        "kits": selectors.kits(),
        "kit_form": kit_form or KitForm(),
    }
    return render(request, "downtime/index.html", context, status=400 if kit_form else 200)


@permission_required(Perm.DOWNTIME_KITS)
@require_POST
def kit_create(request):
    form = KitForm(request.POST)
    if form.is_valid():
        kit = on_form(form, lambda: services.kit_create(actor=request.user, **form.cleaned_data))
        if kit is not FAILED:
            messages.success(request, f"Kit {kit.number} made: print its forms now.")
            return redirect("downtime:kit", number=kit.number)
    return index(request, kit_form=form)


@permission_required(Perm.DOWNTIME_VIEW)
def kit(request, number: str, void_form: VoidForm | None = None):
    found = selectors.kit_get(number)
    tallies = selectors.reconciliation(found)
    context = {
        "kit": found,
        "ranges": selectors.kit_ranges(found),
        "tallies": tallies,
        "chart": charts.reconciliation_svg(tallies),
        "void_form": void_form or VoidForm(),
    }
    return render(request, "downtime/kit.html", context, status=400 if void_form else 200)


@permission_required(Perm.DOWNTIME_KITS)
@require_POST
def kit_void(request, number: str):
    form = VoidForm(request.POST)
    if form.is_valid():
        void = on_form(form, lambda: services.number_void(actor=request.user, **form.cleaned_data))
        if void is not FAILED:
            messages.success(request, f"{void.value} voided.")
            return redirect("downtime:kit", number=number)
    return kit(request, number, void_form=form)


@permission_required(Perm.DOWNTIME_KITS)
def kit_pdf(request, number: str):
    found = selectors.kit_get(number)
    content = printing.kit_pdf(selectors.kit_print(found), printed_by=pdf.printed_by(request))
    return pdf.response(content, f"downtime-kit-{found.number}.pdf")


def _backentry(request, form, template: str, save, **context) -> object:
    """Parse → one service → the same page again, empty, with what was entered; or the
    form back with every message and nothing lost."""
    done = None
    if request.method == "POST" and form.is_valid():
        done = on_form(form, lambda: save(form.cleaned_data))
        if done is FAILED:
            done = None
        else:
            messages.success(request, f"Entered {done.value} from form {done.form_number}.")
            form = type(form)()
    status = 400 if request.method == "POST" and done is None else 200
    return render(request, template, {"form": form, "done": done, **context}, status=status)


def _patient(data: dict):
    return patient_selectors.patient_get(data["uhid"])


@permission_required(Perm.PATIENT_REGISTER)
def backentry_register(request):
    form = RegisterBackEntryForm(request.POST or None)

    def save(data):
        entry = services.backentry_register(
            actor=request.user, uhid=data["uhid"], form_number=data["form_number"],
            written_at=data["written_at"], details=form.details(),
        )  # fmt: skip
        patient = patient_selectors.patient_get(entry.value)
        entry.duplicates = patient_selectors.patient_likely_duplicates(
            name=patient.name, phone=patient.phone, date_of_birth=patient.date_of_birth,
            abha_number=patient.abha_number, exclude_pk=patient.pk,
        )  # fmt: skip
        seen(request, [d.patient.uhid for d in entry.duplicates], AccessKind.LISTED)
        entry.patient = patient
        return entry

    return _backentry(request, form, "downtime/backentry_register.html", save)


@permission_required(Perm.LAB_COUNTER)
def backentry_sample(request):
    form = SampleBackEntryForm(request.POST or None)

    def save(data):
        return services.backentry_sample(
            actor=request.user, accession=data["accession"], form_number=data["form_number"],
            written_at=data["written_at"], patient=_patient(data), tests=form.test_names(),
            priority=data["priority"], doctor_name=data["doctor_name"],
            clinical_notes=data["clinical_notes"],
        )  # fmt: skip

    return _backentry(request, form, "downtime/backentry.html", save, title="lab requisitions")


@permission_required(Perm.BILLING_COLLECT)
def backentry_receipt(request):
    form = ReceiptBackEntryForm(request.POST or None)

    def save(data):
        return services.backentry_receipt(
            actor=request.user, receipt=data["receipt"], form_number=data["form_number"],
            written_at=data["written_at"], patient=_patient(data), amount=data["amount"],
            mode=data["mode"], reference=data["reference"], purpose=data["purpose"],
        )  # fmt: skip

    return _backentry(request, form, "downtime/backentry.html", save, title="receipts")


def can_back_enter(user) -> bool:
    return any(
        has_perm(user, p) for p in (Perm.PATIENT_REGISTER, Perm.LAB_COUNTER, Perm.BILLING_COLLECT)
    )
