"""Scheduled reports: the list with a form to add one, stopping one, and the archive of
the files the worker made (each served only after its SHA-256 is checked again)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ajeya.core import periods
from ajeya.core.errors import ApplicationError, ValidationFailed
from ajeya.core.forms import add_service_errors
from ajeya.core.models import Department
from ajeya.core.roles import Perm, permission_required
from ajeya.reports import registry, selectors, services
from ajeya.reports.models import Frequency


class ScheduleForm(forms.Form):
    report = forms.ChoiceField(choices=())
    frequency = forms.ChoiceField(choices=Frequency.choices)
    department = forms.CharField(
        required=False, max_length=12, help_text="A department code, or empty for all."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["report"].choices = sorted(
            ((r.slug, r.title) for r in registry.REPORTS.values()), key=lambda c: c[1]
        )


def _schedules_page(request, form: ScheduleForm, status: int = 200):
    return render(
        request,
        "reports/schedules.html",
        {
            "form": form,
            "schedules": list(selectors.schedules()),
            "titles": {slug: r.title for slug, r in registry.REPORTS.items()},
            "departments": Department.objects.filter(is_active=True).order_by("code"),
        },
        status=status,
    )


@permission_required(Perm.REPORTS_SCHEDULE)
def schedules(request):
    if request.method != "POST":
        return _schedules_page(request, ScheduleForm())
    form = ScheduleForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            schedule = services.schedule_create(
                actor=request.user,
                slug=data["report"],
                frequency=data["frequency"],
                department=periods.department(data["department"]),
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            form.add_error(None, exc.human)
        else:
            messages.success(
                request,
                f"Scheduled: {registry.get(schedule.report).title}, "
                f"{schedule.get_frequency_display().lower()}. The worker makes the first "
                "files within the hour.",
            )
            return redirect("reports:schedules")
    return _schedules_page(request, form, status=422)


@permission_required(Perm.REPORTS_SCHEDULE)
@require_POST
def schedule_stop(request, pk: int):
    schedule = selectors.schedule_get(pk)
    try:
        services.schedule_stop(
            actor=request.user, schedule=schedule, reason=request.POST.get("reason", "")
        )
    except ApplicationError as exc:
        messages.error(request, exc.human)
    else:
        messages.success(request, f"Stopped: {schedule}.")
    return redirect("reports:schedules")


@permission_required(Perm.REPORTS_SCHEDULE)
def archive(request):
    return render(
        request,
        "reports/archive.html",
        {
            "runs": list(selectors.runs()),
            "titles": {slug: r.title for slug, r in registry.REPORTS.items()},
        },
    )


@permission_required(Perm.REPORTS_SCHEDULE)
def archive_file(request, pk: int, fmt: str):
    found = selectors.archived_file(pk, fmt)
    response = HttpResponse(found.data, content_type=found.content_type)
    response["Content-Disposition"] = f'attachment; filename="{found.name}"'
    return response
