"""The laboratory's pages: worklists and result entry (views.py); labels, reports, the
public report check and turnaround times (document_views.py)."""

from django.urls import include, path

app_name = "lab"

urlpatterns = [
    path("", include("ajeya.lab.urls_work")),
    path("", include("ajeya.lab.urls_documents")),
]
