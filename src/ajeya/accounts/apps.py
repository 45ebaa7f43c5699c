import hashlib

from django.apps import AppConfig


def _fingerprint(secret: str) -> str:
    """What the ledger keeps of a secret: enough to notice it changed, nothing to reuse."""
    return hashlib.sha256(secret.encode()).hexdigest()


class AccountsConfig(AppConfig):
    name = "ajeya.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from ajeya.accounts.models import User
        from ajeya.ledger.registry import register

        # The state is the account's identity, rights and password (as a hash of its
        # hash: a password hash written straight into the database is the classic
        # account takeover). Login times change without an entry and are left out.
        register(
            User,
            "accounts.user",
            transforms={"password": _fingerprint},
            fields=(
                "password",
                "id",
                "username",
                "full_name",
                "role",
                "department_id",
                "employee_id",
                "is_active",
                "is_staff",
                "is_superuser",
                "must_change_password",
            ),
        )
        # A device row added or weakened behind the app's back (one-digit codes, a wide
        # tolerance) would let an intruder pass two-factor. Its state holds a hash of the
        # secret, never the secret; what changes at each login (drift, last use,
        # throttling) is left out.
        register(
            TOTPDevice,
            "accounts.totpdevice",
            fields=(
                "id",
                "user_id",
                "name",
                "confirmed",
                "key",
                "digits",
                "step",
                "t0",
                "tolerance",
            ),
            transforms={"key": _fingerprint},
            sealed=False,
        )
