from django.apps import AppConfig


class OpdConfig(AppConfig):
    name = "ajeya.opd"
    label = "opd"
    verbose_name = "Outpatient care"

    def ready(self) -> None:
        from ajeya.ledger import papers
        from ajeya.ledger.registry import register
        from ajeya.opd import models

        register(models.Visit, "opd.visit")
        register(models.Vitals, "opd.vitals")
        register(models.Consultation, "opd.consultation")
        papers.register(models.Consultation, "OPD prescription")
        register(models.Diagnosis, "opd.diagnosis")
        register(models.Prescription, "opd.prescription")
        register(models.ClinicalOrder, "opd.order")
