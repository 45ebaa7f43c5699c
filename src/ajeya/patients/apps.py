from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "ajeya.patients"
    label = "patients"
    verbose_name = "Patients"

    def ready(self) -> None:
        from ajeya.ledger import papers
        from ajeya.ledger.registry import register, register_derived_check, register_rebuild
        from ajeya.patients.models import Patient, PatientAllergy, PatientMerge
        from ajeya.patients.selectors import name_index_mismatches
        from ajeya.patients.services import reindex_names

        register(Patient, "patients.patient", subject_attname="uhid")
        register(PatientAllergy, "patients.allergy")
        register(PatientMerge, "patients.merge")
        papers.register(Patient, "Registration slip")
        register_derived_check(name_index_mismatches)
        register_rebuild("patients.patient", reindex_names)
