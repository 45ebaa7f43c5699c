from django.urls import path

from ajeya.downtime import views

app_name = "downtime"

urlpatterns = [
    path("", views.index, name="index"),
    path("kits/new/", views.kit_create, name="kit_create"),
    path("kits/<str:number>/", views.kit, name="kit"),
    path("kits/<str:number>/void/", views.kit_void, name="kit_void"),
    path("kits/<str:number>/forms.pdf", views.kit_pdf, name="kit_pdf"),
    path("back-entry/registration/", views.backentry_register, name="backentry_register"),
    path("back-entry/lab/", views.backentry_sample, name="backentry_sample"),
    path("back-entry/receipt/", views.backentry_receipt, name="backentry_receipt"),
]
