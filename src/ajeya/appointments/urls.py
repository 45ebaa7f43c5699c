from django.urls import path

from ajeya.appointments import views

app_name = "appointments"

urlpatterns = [
    path("", views.clinics, name="clinics"),
    path("book/", views.book, name="book"),
    path("slots/", views.slots, name="slots"),
    path("schedules/", views.schedules, name="schedules"),
    path("clinics/<str:code>/", views.clinic_day, name="clinic_day"),
    path("<str:number>/", views.detail, name="detail"),
    path("<str:number>/cancel/", views.cancel, name="cancel"),
    path("<str:number>/no-show/", views.no_show, name="no_show"),
    path("<str:number>/reschedule/", views.reschedule, name="reschedule"),
    path("<str:number>/slip.pdf", views.slip, name="slip"),
]

self_booking = (
    [
        path("", views.self_start, name="start"),
        path("verify/", views.self_verify, name="verify"),
        path("choose/", views.self_choose, name="choose"),
        path("slots/", views.self_slots, name="slots"),
        path("done/", views.self_done, name="done"),
    ],
    "self_booking",
)
