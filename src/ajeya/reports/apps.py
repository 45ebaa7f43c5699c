from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "ajeya.reports"
    label = "reports"
    verbose_name = "Reports and MIS"

    def ready(self) -> None:
        from ajeya.ledger.registry import register
        from ajeya.reports import models, standard  # noqa: F401  (standard registers reports)

        register(models.ReportSchedule, "reports.schedule")
        register(models.ReportRun, "reports.run")
