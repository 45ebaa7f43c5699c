from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ajeya.accounts"
    label = "accounts"
    verbose_name = "Accounts"
