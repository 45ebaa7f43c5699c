"""Reports: the index, a report's page and its CSV/XLSX/PDF (views.py); scheduled
reports and their archive (schedule_views.py)."""

from django.urls import include, path

app_name = "reports"

urlpatterns = [
    path("", include("ajeya.reports.urls_dashboards")),
    path("", include("ajeya.reports.urls_reports")),
    path("", include("ajeya.reports.urls_schedules")),
]
