"""The counter: find a patient, their accounts, bills, and the printed bill, interim
bill and receipt. Bill and receipt numbers hold "/", so their pages go by id."""

from django.urls import path

from ajeya.billing import document_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("patients/<str:uhid>/", views.account, name="account"),
    path("stays/<str:number>/", views.stay, name="stay"),
    path("stays/<str:number>/interim.pdf", document_views.interim_pdf, name="interim_pdf"),
    path("accounts/<str:number>/charge/", views.charge_add, name="charge_add"),
    path("accounts/<str:number>/bill/", views.bill_make, name="bill_make"),
    path("accounts/<str:number>/payment/", views.payment, name="payment"),
    path("accounts/<str:number>/refund/", views.refund, name="refund"),
    path("accounts/<str:number>/package/", views.package, name="package"),
    path("charges/<int:pk>/reverse/", views.charge_reverse, name="charge_reverse"),
    path("charges/<int:pk>/reprice/", views.charge_reprice, name="charge_reprice"),
    path("bills/<int:pk>/", views.bill, name="bill"),
    path("bills/<int:pk>/payment/", views.bill_payment, name="bill_payment"),
    path("bills/<int:pk>/discount/", views.bill_discount, name="bill_discount"),
    path("bills/<int:pk>/cancel/", views.bill_cancel, name="bill_cancel"),
    path("bills/<int:pk>/bill.pdf", document_views.bill_pdf, name="bill_pdf"),
    path("payments/<int:pk>/receipt.pdf", document_views.receipt_pdf, name="receipt_pdf"),
]
