from django.apps import AppConfig


class ResilienceConfig(AppConfig):
    name = "ajeya.resilience"
    label = "resilience"
    verbose_name = "Recovery: backups, ledger shipping, restore drills"
