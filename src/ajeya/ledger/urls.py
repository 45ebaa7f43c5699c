from django.urls import path

from ajeya.ledger import views

app_name = "ledger"

urlpatterns = [
    path("", views.audit, name="audit"),
]
