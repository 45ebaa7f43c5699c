from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "ajeya.patients"
    label = "patients"
    verbose_name = "Patients"
