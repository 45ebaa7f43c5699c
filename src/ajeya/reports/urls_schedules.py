from django.urls import path

from ajeya.reports import schedule_views as views

urlpatterns = [
    path("schedules/", views.schedules, name="schedules"),
    path("schedules/<int:pk>/stop/", views.schedule_stop, name="schedule_stop"),
    path("archive/", views.archive, name="archive"),
    path("archive/<int:pk>/<str:fmt>/", views.archive_file, name="archive_file"),
]
