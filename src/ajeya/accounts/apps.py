from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ajeya.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        import hashlib

        from django_otp.plugins.otp_totp.models import TOTPDevice

        from ajeya.accounts.models import User
        from ajeya.ledger.registry import register

        # Login times and password re-hashing change without a ledger entry, so the
        # state is the account's identity and rights, not every column.
        register(
            User,
            "accounts.user",
            fields=(
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
        # A device row added behind the app's back would let an intruder pass two-factor
        # as someone else. Its state holds a hash of the secret, never the secret.
        register(
            TOTPDevice,
            "accounts.totpdevice",
            fields=("id", "user_id", "name", "confirmed", "key"),
            transforms={"key": lambda key: hashlib.sha256(key.encode()).hexdigest()},
            sealed=False,
        )
