from django.apps import AppConfig


class LabConfig(AppConfig):
    name = "ajeya.lab"
    label = "lab"
    verbose_name = "Laboratory"

    def ready(self) -> None:
        from ajeya.ipd import hooks as ipd_hooks
        from ajeya.lab import models, selectors, services
        from ajeya.ledger.registry import register
        from ajeya.opd import orders
        from ajeya.opd.models import OrderKind

        register(models.LabTest, "lab.test", subject_attname="code")
        register(models.ReferenceRange, "lab.range")
        register(models.Panel, "lab.panel", subject_attname="code")
        register(models.PanelTest, "lab.panel_test")
        register(models.Analyzer, "lab.analyzer", subject_attname="code")
        register(models.AnalyzerMapping, "lab.analyzer_mapping")
        register(models.LabOrder, "lab.order", subject_attname="number")
        register(models.Sample, "lab.sample", subject_attname="accession")
        register(models.OrderItem, "lab.order_item")
        register(models.Result, "lab.result")
        register(models.CriticalAlert, "lab.critical_alert")
        register(models.Report, "lab.report", subject_attname="number")
        register(models.InboundMessage, "lab.message")
        # Doctors' lab orders in OPD become lab orders; discharge summaries list results.
        orders.register(OrderKind.LAB, services.order_from_opd, services.order_check)
        ipd_hooks.register(selectors.investigations_for_admission)
        # Doctors see their unacknowledged critical results at the top of every page.
        from ajeya.core import notices
        from ajeya.lab.views import critical_notices

        notices.register(critical_notices)
