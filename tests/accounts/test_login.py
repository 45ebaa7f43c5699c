"""Passwords, lockout, two-factor and the idle timeout, through the real HTTP stack."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from ajeya.accounts import services
from ajeya.accounts.models import User
from ajeya.core.errors import PermissionRefused
from ajeya.core.roles import Role
from ajeya.ledger.models import LedgerEntry
from tests.accounts.factories import TEST_PASSWORD
from tests.conftest import verified_client

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


def login(client, username, password=TEST_PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.mark.real_hashing
def test_passwords_are_stored_with_argon2(settings):
    user = services.user_create(
        actor=None,
        username="hashcheck",
        full_name="Hash Check",
        role=Role.DOCTOR,
        password=TEST_PASSWORD,
    )
    assert user.password.startswith("argon2$")
    assert TEST_PASSWORD not in user.password


def test_a_clerk_logs_in_and_out(client, make_user):
    make_user(Role.REGISTRATION_CLERK, username="meena")
    response = login(client, "meena")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    client.post(reverse("accounts:logout"))
    assert client.get("/").status_code == 302


def test_a_wrong_password_says_so_and_does_not_log_in(client, make_user):
    make_user(Role.REGISTRATION_CLERK, username="meena")
    response = login(client, "meena", "not-the-password")
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert client.get("/").status_code == 302


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    client, make_user, settings
):
    make_user(Role.REGISTRATION_CLERK, username="meena")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "meena", "wrong-guess").status_code == 200
    locked = login(client, "meena", "wrong-guess")
    assert locked.status_code == 429
    assert b"Account locked" in locked.content
    assert login(client, "meena").status_code == 429
    assert client.get("/").status_code == 302


def test_it_security_lifts_a_lockout_with_a_reason(client, make_user, settings):
    clerk = make_user(Role.REGISTRATION_CLERK, username="meena")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "meena", "wrong-guess")
    assert login(client, "meena").status_code == 429

    itsec = make_user(Role.IT_SECURITY, username="itsec1")
    verified_client(client, itsec)
    url = reverse("accounts:staff_unlock", args=[clerk.pk])
    refused = client.post(url, {"reason": ""}, follow=True)
    assert b"Give a reason" in refused.content
    client.post(url, {"reason": "verified by phone with the ward in-charge"})
    entry = LedgerEntry.objects.filter(subject_id=str(clerk.pk)).last()
    assert entry.reason.startswith("lockout lifted")
    assert entry.actor_username == "itsec1"

    client.logout()
    assert login(client, "meena").status_code == 302


@pytest.mark.parametrize("role", [Role.HOSPITAL_ADMIN, Role.IT_SECURITY, Role.AUDITOR])
def test_privileged_roles_must_enrol_two_factor_before_anything(client, make_user, role, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 600  # the retry below must land inside the wait
    user = make_user(role, username="boss")
    login(client, "boss")
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:mfa_setup"))

    page = client.get(reverse("accounts:mfa_setup"))
    assert b"<svg" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)

    wrong = client.post(reverse("accounts:mfa_setup"), {"token": "000000"})
    assert b"wrong or expired" in wrong.content
    assert client.get("/").status_code == 302
    throttled = client.post(reverse("accounts:mfa_setup"), {"token": current_code(device)})
    assert b"Too many wrong codes" in throttled.content
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)

    done = client.post(reverse("accounts:mfa_setup"), {"token": current_code(device)})
    assert done.status_code == 302
    assert client.get("/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_an_enrolled_user_must_give_the_code_at_every_login(client, make_user):
    user = make_user(Role.AUDITOR, username="aud")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    login(client, "aud")
    response = client.get("/patients/")
    assert response["Location"].startswith(reverse("accounts:mfa_verify"))

    bad = client.post(reverse("accounts:mfa_verify"), {"token": "12345"})
    assert b"six digits" in bad.content
    ok = client.post(
        reverse("accounts:mfa_verify"), {"token": current_code(device), "next": "/patients/"}
    )
    assert ok["Location"] == "/patients/"
    assert client.get("/patients/").status_code == 200


def test_two_factor_redirect_refuses_to_leave_the_site(client, make_user):
    user = make_user(Role.AUDITOR, username="aud")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    login(client, "aud")
    response = client.post(
        reverse("accounts:mfa_verify"),
        {"token": current_code(device), "next": "https://evil.example/"},
    )
    assert response["Location"] == "/"


def test_optional_two_factor_for_a_clerk(client, make_user):
    make_user(Role.REGISTRATION_CLERK, username="meena")
    login(client, "meena")
    assert client.get("/").status_code == 200  # not forced
    client.get(reverse("accounts:mfa_setup"))
    device = TOTPDevice.objects.get(user__username="meena")
    client.post(reverse("accounts:mfa_setup"), {"token": current_code(device)})
    client.logout()
    login(client, "meena")
    assert client.get("/")["Location"].startswith(reverse("accounts:mfa_verify"))


def test_sessions_end_after_the_idle_timeout(client, make_user, settings):
    assert settings.SESSION_COOKIE_AGE == settings.AJEYA_SESSION_IDLE_MINUTES * 60
    make_user(Role.REGISTRATION_CLERK, username="meena")
    login(client, "meena")
    client.get("/")
    session = Session.objects.get()
    remaining = session.expire_date - timezone.now()
    assert dt.timedelta(minutes=settings.AJEYA_SESSION_IDLE_MINUTES - 1) < remaining
    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    assert client.get("/").status_code == 302


def test_a_screen_polling_by_itself_does_not_keep_the_session_alive(client, make_user):
    make_user(Role.REGISTRATION_CLERK, username="meena")
    login(client, "meena")
    client.get("/")  # the first page after login settles the session
    almost = timezone.now() + dt.timedelta(minutes=1)
    Session.objects.update(expire_date=almost)
    client.get(reverse("ipd:board"), HTTP_HX_REQUEST="true", HTTP_X_AJEYA_POLL="1")
    assert Session.objects.get().expire_date == almost  # the poll renewed nothing
    client.get(reverse("ipd:board"))
    assert Session.objects.get().expire_date > almost + dt.timedelta(minutes=5)  # a person did


def test_it_security_resets_a_lost_authenticator(client, make_user):
    lost = make_user(Role.AUDITOR, username="aud")
    TOTPDevice.objects.create(user=lost, name="phone", confirmed=True)
    verified_client(client, make_user(Role.IT_SECURITY, username="itsec1"))
    client.post(reverse("accounts:staff_reset_mfa", args=[lost.pk]), {"reason": "phone stolen"})
    assert not TOTPDevice.objects.filter(user=lost).exists()
    assert any("phone stolen" in e.reason for e in LedgerEntry.objects.all())


def test_staff_accounts_are_created_by_it_security_with_checks(client, make_user):
    verified_client(client, make_user(Role.IT_SECURITY, username="itsec1"))
    url = reverse("accounts:staff_create")
    weak = client.post(
        url,
        {"username": "newdoc", "full_name": "Dr New", "role": Role.DOCTOR, "password": "123"},
    )
    assert weak.status_code == 200
    assert b"too short" in weak.content
    assert not User.objects.filter(username="newdoc").exists()

    bad_role = client.post(
        url, {"username": "newdoc", "full_name": "Dr New", "role": "god", "password": TEST_PASSWORD}
    )
    assert b"Select a valid choice" in bad_role.content

    created = client.post(
        url,
        {
            "username": "newdoc",
            "full_name": "Dr New",
            "role": Role.DOCTOR,
            "password": TEST_PASSWORD,
        },
    )
    assert created.status_code == 302
    assert User.objects.get(username="newdoc").role == Role.DOCTOR
    again = client.post(
        url,
        {
            "username": "newdoc",
            "full_name": "Dr Two",
            "role": Role.DOCTOR,
            "password": TEST_PASSWORD,
        },
    )
    assert b"is taken" in again.content


def test_a_password_alone_cannot_enrol_a_second_authenticator(client, make_user):
    """With only the password, the setup page must not let an intruder add their own
    authenticator and pass as verified."""
    user = make_user(Role.AUDITOR, username="aud")
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    login(client, "aud")
    response = client.get(reverse("accounts:mfa_setup"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:mfa_verify"))
    client.post(reverse("accounts:mfa_setup"), {"token": "123456"})
    assert TOTPDevice.objects.filter(user=user).count() == 1
    assert client.get("/patients/").status_code == 302


def test_an_account_made_by_it_must_choose_its_own_password(client, make_user):
    verified_client(client, make_user(Role.IT_SECURITY, username="itsec1"))
    client.post(
        reverse("accounts:staff_create"),
        {
            "username": "newclerk",
            "full_name": "New Clerk",
            "role": Role.REGISTRATION_CLERK,
            "password": TEST_PASSWORD,
        },
    )
    client.logout()
    login(client, "newclerk")
    forced = client.get("/patients/")
    assert forced["Location"].startswith(reverse("accounts:password_change"))
    url = reverse("accounts:password_change")
    wrong = client.post(
        url, {"current_password": "nope", "new_password": "x", "new_password_again": "x"}
    )
    assert b"not your current password" in wrong.content
    same = client.post(
        url,
        {
            "current_password": TEST_PASSWORD,
            "new_password": TEST_PASSWORD,
            "new_password_again": TEST_PASSWORD,
        },
    )
    assert b"different from the current one" in same.content
    done = client.post(
        url,
        {
            "current_password": TEST_PASSWORD,
            "new_password": "a-new-long-phrase-42",
            "new_password_again": "a-new-long-phrase-42",
        },
    )
    assert done.status_code == 302
    assert client.get("/patients/").status_code == 200
    user = User.objects.get(username="newclerk")
    assert not user.must_change_password
    assert user.check_password("a-new-long-phrase-42")
    assert any("changed by its owner" in e.reason for e in LedgerEntry.objects.all())


def test_the_django_admin_is_not_served(client_as):
    client = client_as(Role.IT_SECURITY)
    assert client.get("/django-admin/").status_code == 404
    assert client.get("/admin/").status_code == 404


def test_a_password_set_by_it_must_be_replaced_by_its_owner(make_user):
    itsec = make_user(Role.IT_SECURITY, username="itdesk")
    clerk = make_user(Role.REGISTRATION_CLERK, username="meena")
    services.user_set_password(
        actor=itsec, user=clerk, password="temporary-pass-42", reason="forgot password"
    )
    clerk.refresh_from_db()
    assert clerk.must_change_password
    assert clerk.check_password("temporary-pass-42")
    refused = make_user(Role.DOCTOR, username="doc")
    with pytest.raises(PermissionRefused):
        services.user_set_password(actor=refused, user=clerk, password="x-y-z-123456", reason="x")
