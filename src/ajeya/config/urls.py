"""The site's URL map: one include per app."""

from django.urls import include, path

from ajeya.appointments.urls import self_booking
from ajeya.ledger.urls import paper_check

urlpatterns = [
    path("", include("ajeya.core.urls")),
    path("accounts/", include("ajeya.accounts.urls")),
    path("patients/", include("ajeya.patients.urls")),
    path("audit/", include("ajeya.ledger.urls")),
    path("appointments/", include("ajeya.appointments.urls")),
    path("book/", include(self_booking)),
    path("opd/", include("ajeya.opd.urls")),
    path("ipd/", include("ajeya.ipd.urls")),
    path("lab/", include("ajeya.lab.urls")),
    path("billing/", include("ajeya.billing.urls")),
    path("reports/", include("ajeya.reports.urls")),
    path("downtime/", include("ajeya.downtime.urls")),
    path("defense/", include("ajeya.defense.urls")),
    path("verify/", include(paper_check)),
]

handler403 = "ajeya.core.views.permission_denied"
handler404 = "ajeya.core.views.page_not_found"
handler500 = "ajeya.core.views.server_error"
