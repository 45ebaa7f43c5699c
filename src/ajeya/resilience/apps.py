from django.apps import AppConfig


class ResilienceConfig(AppConfig):
    name = "ajeya.resilience"
    label = "resilience"
    verbose_name = "Recovery: backups, ledger shipping, restore drills"

    def ready(self) -> None:
        from ajeya.reports.dashboards import Check, register_resilience
        from ajeya.resilience import selectors

        def backup_check(day):
            text, ok = selectors.backup_line()
            return Check("Last backup", text, ok=ok)

        def restore_check(day):
            text, ok = selectors.restore_line()
            return Check("Last verified restore", text, ok=ok)

        register_resilience("backup", backup_check)
        register_resilience("restore", restore_check)
