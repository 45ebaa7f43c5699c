from django.urls import path

from ajeya.patients import views

app_name = "patients"

urlpatterns = [
    path("", views.search, name="search"),
    path("register/", views.register, name="register"),
    path("register/duplicates/", views.duplicates_check, name="duplicates"),
    path("<str:uhid>/", views.detail, name="detail"),
    path("<str:uhid>/edit/", views.edit, name="edit"),
    path("<str:uhid>/slip.pdf", views.slip, name="slip"),
    path("<str:uhid>/history/", views.history, name="history"),
]
