from django.urls import path

from ajeya.defense import alert_views, incident_views, lockdown_views

app_name = "defense"

urlpatterns = [
    path("alerts/", alert_views.alerts, name="alerts"),
    path("alerts/<int:pk>/", alert_views.alert, name="alert"),
    path("canaries/", alert_views.canaries, name="canaries"),
    path("lockdown/", lockdown_views.lockdown, name="lockdown"),
    path("incidents/", incident_views.incident_list, name="incidents"),
    path("incidents/new/", incident_views.incident_open, name="incident_open"),
    path("incidents/<str:number>/", incident_views.incident, name="incident"),
    path("incidents/<str:number>/update/", incident_views.incident_update, name="incident_update"),
    path("incidents/<str:number>/cert-in.txt", incident_views.certin_text, name="certin_text"),
    path("incidents/<str:number>/cert-in.pdf", incident_views.certin_pdf, name="certin_pdf"),
    path(
        "incidents/<str:number>/evidence.zip",
        incident_views.incident_evidence,
        name="incident_evidence",
    ),
]
