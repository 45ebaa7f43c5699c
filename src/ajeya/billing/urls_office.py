"""Billing's back office: collection reports, the day-end close, approvals, the tariff."""

from django.urls import path

from ajeya.billing import office_views as views

urlpatterns = [
    path("reports/collections/", views.collections, name="collections"),
    path("reports/collections.csv", views.collections_csv, name="collections_csv"),
    path("reports/collections.xlsx", views.collections_xlsx, name="collections_xlsx"),
    path("day-close/", views.day_close, name="day_close"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/refunds/<int:pk>/", views.refund_decide, name="refund_decide"),
    path("approvals/discounts/<int:pk>/", views.discount_decide, name="discount_decide"),
    path("tariff/", views.tariff_list, name="tariff"),
    path("tariff/<str:code>/price/", views.tariff_price, name="tariff_price"),
]
