from django.urls import path

from ajeya.patients import views

app_name = "patients"

urlpatterns = [
    path("", views.search, name="search"),
    path("register/", views.register, name="register"),
    path("register/duplicates/", views.duplicates_check, name="duplicates"),
    path("merges/", views.merges, name="merges"),
    path("merges/<int:pk>/decide/", views.merge_decide, name="merge_decide"),
    path("<str:uhid>/", views.detail, name="detail"),
    path("<str:uhid>/edit/", views.edit, name="edit"),
    path("<str:uhid>/slip.pdf", views.slip, name="slip"),
    path("<str:uhid>/history/", views.history, name="history"),
    path("<str:uhid>/allergies/", views.allergies, name="allergies"),
    path("<str:uhid>/merge/", views.merge_request, name="merge_request"),
]
