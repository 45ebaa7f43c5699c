from django.urls import path

from ajeya.opd import views

app_name = "opd"

urlpatterns = [
    path("", views.index, name="index"),
    path("check-in/", views.check_in, name="check_in"),
    path("arrive/", views.arrive, name="arrive"),
    path("display/", views.display, name="display"),
    path("icd10/", views.icd10_search, name="icd10"),
    path("clinics/<str:code>/", views.worklist, name="worklist"),
    path("clinics/<str:code>/call-next/", views.call_next, name="call_next"),
    path("visits/<int:pk>/", views.visit, name="visit"),
    path("visits/<int:pk>/call/", views.call, name="call"),
    path("visits/<int:pk>/skip/", views.skip, name="skip"),
    path("visits/<int:pk>/no-show/", views.no_show, name="no_show"),
    path("visits/<int:pk>/transfer/", views.transfer, name="transfer"),
    path("visits/<int:pk>/vitals/", views.vitals, name="vitals"),
    path("visits/<int:pk>/consult/", views.consult, name="consult"),
    path("visits/<int:pk>/follow-up/", views.follow_up, name="follow_up"),
    path("visits/<int:pk>/prescription.pdf", views.prescription, name="prescription"),
    path("patients/<str:uhid>/timeline/", views.timeline, name="timeline"),
]
