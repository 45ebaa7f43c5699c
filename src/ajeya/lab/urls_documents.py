"""Labels, report PDFs, the public report check and turnaround times."""

from django.urls import path

from ajeya.lab import document_views

urlpatterns = [
    path("orders/<str:number>/labels.pdf", document_views.labels, name="labels"),
    path("reports/<str:number>.pdf", document_views.report_pdf, name="report_pdf"),
    path("verify/<str:number>/<str:digest>/", document_views.verify, name="verify"),
    path("tat/", document_views.tat_dashboard, name="tat"),
    path("tat.csv", document_views.tat_csv, name="tat_csv"),
]
