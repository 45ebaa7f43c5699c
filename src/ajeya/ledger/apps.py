from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ajeya.ledger"
    label = "ledger"
    verbose_name = "Ledger"
