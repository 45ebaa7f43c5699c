from django.urls import path

from ajeya.defense import alert_views

app_name = "defense"

urlpatterns = [
    path("alerts/", alert_views.alerts, name="alerts"),
    path("alerts/<int:pk>/", alert_views.alert, name="alert"),
    path("canaries/", alert_views.canaries, name="canaries"),
]
