from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ajeya.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from ajeya.core.models import Department
        from ajeya.ledger.registry import register

        register(Department, "core.department")
