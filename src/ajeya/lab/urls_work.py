from django.urls import path

from ajeya.lab import views

urlpatterns = [
    path("", views.home, name="home"),
    path("counter/", views.counter, name="counter"),
    path("admissions/<str:number>/order/", views.order_admission, name="order_admission"),
    path("orders/<str:number>/", views.order, name="order"),
    path("orders/<str:number>/placed/", views.placed, name="placed"),
    path("collection/", views.collection, name="collection"),
    path("reception/", views.reception, name="reception"),
    path("reception/reject/", views.reject, name="reject"),
    path("section/<str:section>/", views.section_worklist, name="section"),
    path("analyzer/<str:code>/", views.analyzer_worklist, name="analyzer"),
    path("sample/<str:accession>/", views.sample, name="sample"),
    path("sample/<str:accession>/collect/", views.collect, name="collect"),
    path("sample/<str:accession>/enter/", views.results_enter, name="results_enter"),
    path("sample/<str:accession>/verify/", views.results_verify, name="results_verify"),
    path("sample/<str:accession>/authorise/", views.results_authorise, name="results_authorise"),
    path("results/<int:pk>/amend/", views.result_amend, name="result_amend"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("messages/", views.analyzer_messages, name="messages"),
    path("messages/<int:pk>/match/", views.message_match, name="message_match"),
    path("messages/<int:pk>/dismiss/", views.message_dismiss, name="message_dismiss"),
    path("catalogue/", views.catalogue, name="catalogue"),
    path("patients/<str:uhid>/", views.patient_orders, name="patient_orders"),
]
