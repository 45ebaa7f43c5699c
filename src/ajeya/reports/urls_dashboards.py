"""The role dashboards at /reports/dashboard/."""

from django.urls import path

from ajeya.reports import dashboard_views

urlpatterns = [
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
]
