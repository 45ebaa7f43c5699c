from django.urls import path

from ajeya.ipd import views

app_name = "ipd"

urlpatterns = [
    path("", views.board, name="board"),
    path("wards/<str:code>/", views.board, name="ward"),
    path("admit/", views.admit, name="admit"),
    path("census/", views.census, name="census"),
    path("setup/", views.setup, name="setup"),
    path("beds/<str:label>/status/", views.bed_status, name="bed_status"),
    path("admissions/<str:number>/", views.admission, name="admission"),
    path("admissions/<str:number>/admitted/", views.admitted, name="admitted"),
    path("admissions/<str:number>/observation/", views.observation, name="observation"),
    path("admissions/<str:number>/fluid/", views.fluid, name="fluid"),
    path("admissions/<str:number>/note/", views.note, name="note"),
    path("admissions/<str:number>/medication/", views.medication, name="medication"),
    path(
        "admissions/<str:number>/medication/<int:pk>/stop/",
        views.medication_stop,
        name="medication_stop",
    ),
    path("admissions/<str:number>/medication/<int:pk>/dose/", views.dose, name="dose"),
    path("admissions/<str:number>/transfer/", views.transfer, name="transfer"),
    path("admissions/<str:number>/discharge/", views.discharge, name="discharge"),
    path("admissions/<str:number>/discharge.pdf", views.discharge_pdf, name="discharge_pdf"),
    path("admissions/<str:number>/sheet.pdf", views.admission_sheet, name="sheet"),
    path("admissions/<str:number>/contacts/", views.contacts, name="contacts"),
]
