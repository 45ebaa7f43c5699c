from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "ajeya.reports"
    label = "reports"
    verbose_name = "Reports and MIS"

    def ready(self) -> None:
        from ajeya.reports import standard  # noqa: F401  (registers the standard reports)
