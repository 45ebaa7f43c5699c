"""The reports index, a report's page and its exports. A report's slug never takes the
schedules' and archive's paths (urls_schedules.py), which share /reports/."""

from django.urls import path, re_path

from ajeya.reports import views

SLUG = r"(?P<slug>(?!(?:schedules|archive)/)[-a-zA-Z0-9_]+)"

urlpatterns = [
    path("", views.index, name="index"),
    re_path(rf"^{SLUG}\.(?P<fmt>[a-z]+)$", views.report_export, name="report_export"),
    re_path(rf"^{SLUG}/$", views.report, name="report"),
]
