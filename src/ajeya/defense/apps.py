from django.apps import AppConfig


class DefenseConfig(AppConfig):
    name = "ajeya.defense"
    label = "defense"
    verbose_name = "Defence: detection, lockdown, investigation"

    def ready(self) -> None:
        from ajeya.defense import models
        from ajeya.ledger.registry import register

        register(models.Alert, "defense.alert")
        register(models.Canary, "defense.canary")
        register(models.Lockdown, "defense.lockdown")
        register(models.Incident, "defense.incident", subject_attname="number")
