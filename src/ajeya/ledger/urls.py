from django.urls import path

from ajeya.ledger import views

app_name = "ledger"

urlpatterns = [
    path("", views.audit, name="audit"),
]

# The public check of a printed paper's QR code, at /verify/ (see ledger.papers).
paper_check = (
    [
        path(
            "<str:subject_type>/<str:digest>/<path:subject_id>/",
            views.paper_verify,
            name="paper-verify",
        )
    ],
    "",
)
