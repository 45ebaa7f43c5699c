from django.urls import path

from ajeya.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("password/", views.password_change, name="password_change"),
    path("two-factor/", views.mfa_verify, name="mfa_verify"),
    path("two-factor/setup/", views.mfa_setup, name="mfa_setup"),
    path("staff/", views.staff_list, name="staff_list"),
    path("staff/new/", views.staff_create, name="staff_create"),
    path("staff/<int:user_id>/reset-two-factor/", views.staff_reset_mfa, name="staff_reset_mfa"),
    path("staff/<int:user_id>/unlock/", views.staff_unlock, name="staff_unlock"),
]
