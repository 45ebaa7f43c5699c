from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "ajeya.patients"
    label = "patients"
    verbose_name = "Patients"

    def ready(self) -> None:
        from ajeya.ledger.registry import register
        from ajeya.patients.models import Patient

        register(Patient, "patients.patient", subject_attname="uhid")
