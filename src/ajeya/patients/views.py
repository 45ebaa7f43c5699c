"""Patient pages: search, register (with the duplicate check), view, correct, print slip,
allergies."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from ajeya.core import pdf
from ajeya.core.errors import ApplicationError, ValidationFailed
from ajeya.core.forms import add_service_errors
from ajeya.core.roles import Perm, permission_required
from ajeya.ledger import papers
from ajeya.ledger import selectors as ledger_selectors
from ajeya.ledger.access import seen
from ajeya.ledger.models import AccessKind
from ajeya.patients import documents, selectors, services
from ajeya.patients.forms import (
    AllergyForm,
    AllergyRemoveForm,
    EditForm,
    MergeDecisionForm,
    MergeRequestForm,
    RegisterForm,
)
from ajeya.patients.validators import birth_date_from_age

PAGE_SIZE = 25


@permission_required(Perm.PATIENT_VIEW)
def search(request):
    query = request.GET.get("q", "")
    result = selectors.patient_search(query, similar=request.GET.get("similar") == "1")
    page = Paginator(result.patients, PAGE_SIZE).get_page(request.GET.get("page"))
    seen(request, [p.uhid for p in page.object_list], AccessKind.LISTED)
    similar = result.kind == "similar"
    context = {
        "query": query,
        "result": result,
        "page": page,
        "similar": similar,
        "pager_query": urlencode({"q": query, **({"similar": "1"} if similar else {})}),
    }
    template = "patients/_results.html" if request.htmx else "patients/search.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@permission_required(Perm.PATIENT_REGISTER)
def register(request):
    form = RegisterForm(request.POST or None)
    duplicates = []
    if request.method == "POST" and form.is_valid():
        details = form.details()
        if not form.cleaned_data["confirm_new"]:
            duplicates = _likely_duplicates(request, details)
        if not duplicates:
            try:
                patient = services.patient_register(actor=request.user, **details)
            except ValidationFailed as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request, f"Registered {patient.name}: UHID {patient.uhid_display}."
                )
                return redirect("patients:detail", uhid=patient.uhid)
    return render(request, "patients/register.html", {"form": form, "duplicates": duplicates})


def _likely_duplicates(request, data: dict) -> list:
    """Who this might already be, from what the clerk typed so far; those shown are seen."""
    dob, age = data.get("date_of_birth"), data.get("age_years")
    duplicates = selectors.patient_likely_duplicates(
        name=data.get("name") or "",
        phone=data.get("phone") or "",
        date_of_birth=dob if dob is not None or age is None else birth_date_from_age(age),
        abha_number=data.get("abha_number") or "",
    )
    seen(request, [d.patient.uhid for d in duplicates], AccessKind.LISTED)
    return duplicates


@permission_required(Perm.PATIENT_REGISTER)
@require_POST
def duplicates_check(request):
    """htmx: as the clerk types, show who this might already be."""
    form = RegisterForm(request.POST)
    form.is_valid()  # partial input is normal here: use whatever fields are clean
    duplicates = _likely_duplicates(request, form.cleaned_data)
    return render(request, "patients/_duplicates.html", {"duplicates": duplicates, "live": True})


def _allergy_context(patient, **forms_) -> dict:
    allergies = selectors.allergies_of(patient)
    return {
        "patient": patient,
        "allergies": allergies,
        "allergy_alert": any(a.is_serious for a in allergies),
        "allergy_form": AllergyForm(),
        "remove_form": None,
        "remove_pk": None,
        **forms_,
    }


@permission_required(Perm.PATIENT_VIEW)
def detail(request, uhid: str):
    patient = selectors.patient_get(uhid)
    merges = selectors.merges_of(patient)
    seen(request, [patient.uhid], AccessKind.VIEWED)
    context = {**_allergy_context(patient), "merges": merges}
    return render(request, "patients/detail.html", context)


@permission_required(Perm.PATIENT_ALLERGY)
def allergies(request, uhid: str):
    """The patient's allergies with those removed. A POST records one (action "add") or
    removes one (action "remove"), then goes back to the record; refused input comes
    back on this page (422) with what was typed."""
    patient = selectors.patient_get(uhid)
    forms_: dict = {}
    if request.method == "POST":
        if request.POST.get("action") == "remove":
            form = forms_["remove_form"] = AllergyRemoveForm(request.POST)
            done = _allergy_remove(request, patient, form)
            forms_["remove_pk"] = form.cleaned_data.get("allergy")  # the row to show it on
        else:
            form = forms_["allergy_form"] = AllergyForm(request.POST)
            done = _allergy_add(request, patient, form)
        if done:
            return redirect("patients:detail", uhid=patient.uhid)
    seen(request, [patient.uhid], AccessKind.VIEWED)
    context = _allergy_context(patient, **forms_)
    context["removed"] = selectors.allergies_removed(patient)
    response = render(request, "patients/allergies.html", context)
    if request.method == "POST":
        response.status_code = 422
    return response


def _allergy_add(request, patient, form: AllergyForm) -> bool:
    if not form.is_valid():
        return False
    try:
        allergy = services.allergy_record(actor=request.user, patient=patient, **form.cleaned_data)
    except ValidationFailed as exc:
        add_service_errors(form, exc)
        return False
    messages.success(request, f"Allergy to {allergy.substance} recorded.")
    return True


def _allergy_remove(request, patient, form: AllergyRemoveForm) -> bool:
    """True when there is nothing more to show here: removed, or removed already (a
    message says so and the record shows the list as it is now)."""
    if not form.is_valid():
        return False
    allergy = selectors.allergy_get(patient, form.cleaned_data["allergy"])  # 404: not theirs
    try:
        services.allergy_remove(
            actor=request.user, allergy=allergy, reason=form.cleaned_data["reason"]
        )
    except ValidationFailed as exc:
        add_service_errors(form, exc)
        return False
    except ApplicationError as exc:
        messages.error(request, exc.human)
        return True
    messages.success(request, f"Allergy to {allergy.substance} removed; the reason is kept.")
    return True


@permission_required(Perm.PATIENT_EDIT)
def edit(request, uhid: str):
    patient = selectors.patient_get(uhid)
    if request.method == "POST":
        form = EditForm(request.POST, instance=patient)
        if form.is_valid():
            details = form.details()
            try:
                services.patient_update(
                    actor=request.user,
                    patient=patient,
                    reason=form.cleaned_data["reason"],
                    expected_version=form.cleaned_data["version"],
                    **details,
                )
            except ValidationFailed as exc:
                add_service_errors(form, exc)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, "Changes saved; the reason is kept in the ledger.")
                return redirect("patients:detail", uhid=patient.uhid)
    else:
        form = EditForm(instance=patient, initial={"version": patient.version})
    seen(request, [patient.uhid], AccessKind.EDIT_FORM)
    return render(request, "patients/edit.html", {"form": form, "patient": patient})


@permission_required(Perm.PATIENT_PRINT_SLIP)
def slip(request, uhid: str):
    patient = selectors.patient_get(uhid)
    seen(request, [patient.uhid], AccessKind.PRINTED)
    return pdf.response(
        documents.registration_slip(
            patient,
            printed_by=pdf.printed_by(request),
            verify_url=papers.verify_url(request, patient),
        ),
        f"slip-{patient.uhid}.pdf",
    )


@permission_required(Perm.PATIENT_HISTORY)
def history(request, uhid: str):
    """Who has seen or changed this patient, newest first."""
    patient = selectors.patient_get(uhid)
    seen(request, [patient.uhid], AccessKind.HISTORY)
    changes = [
        (entry, ledger_selectors.changed_fields(entry))
        for entry in ledger_selectors.patient_changes(
            patient.uhid, selectors.related_records(patient)
        )[:200]
    ]
    accesses = Paginator(ledger_selectors.patient_accesses(patient.uhid), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "patients/history.html",
        {"patient": patient, "changes": changes, "accesses": accesses},
    )


# -- merges ---------------------------------------------------------------------------------


@permission_required(Perm.PATIENT_EDIT)
def merge_request(request, uhid: str):
    """Ask for this record to be merged into the one the person already had."""
    duplicate = selectors.patient_get(uhid)
    form = MergeRequestForm(request.POST or None, initial={"survivor": request.GET.get("into")})
    survivor = None
    if form.is_valid():
        try:
            survivor = selectors.patient_get(form.cleaned_data["survivor"])
            services.merge_request(actor=request.user, duplicate=duplicate, survivor=survivor,
                                   reason=form.cleaned_data["reason"])  # fmt: skip
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Merge asked for: an administrator will review it.")
            return redirect("patients:detail", uhid=duplicate.uhid)
    seen(request, [duplicate.uhid, *([survivor.uhid] if survivor else [])], AccessKind.VIEWED)
    context = {"patient": duplicate, "form": form, "survivor": survivor}
    status = 422 if request.method == "POST" else 200
    return render(request, "patients/merge_request.html", context, status=status)


@permission_required(Perm.PATIENT_MERGE)
def merges(request):
    waiting = selectors.merges_to_review()
    decided = selectors.merges_decided()
    seen(request, [u for m in waiting + decided for u in (m.duplicate.uhid, m.survivor.uhid)],
         AccessKind.LISTED)  # fmt: skip
    context = {"waiting": waiting, "decided": decided, "form": MergeDecisionForm()}
    return render(request, "patients/merges.html", context)


@permission_required(Perm.PATIENT_MERGE)
@require_POST
def merge_decide(request, pk: int):
    merge = selectors.merge_get(pk)
    form = MergeDecisionForm(request.POST)
    if form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        try:
            services.merge_decide(actor=request.user, merge=merge, approve=approve,
                                  note=form.cleaned_data["note"])  # fmt: skip
        except ApplicationError as exc:
            messages.error(request, exc.human)
        else:
            verb = "merged into" if approve else "not merged into"
            messages.success(
                request, f"{merge.duplicate.uhid_display} {verb} {merge.survivor.uhid_display}."
            )
    else:
        messages.error(request, "Choose approve or reject.")
    return redirect("patients:merges")
