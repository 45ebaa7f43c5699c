"""Billing's pages: the counter — accounts, bills, payments, receipts (urls_counter.py);
approvals, the day-end close, collection reports and the tariff (urls_office.py)."""

from django.urls import include, path

app_name = "billing"

urlpatterns = [
    path("", include("ajeya.billing.urls_counter")),
    path("", include("ajeya.billing.urls_office")),
]
