from django.apps import AppConfig


class IpdConfig(AppConfig):
    name = "ajeya.ipd"
    label = "ipd"
    verbose_name = "Inpatient care"

    def ready(self) -> None:
        from ajeya.ipd import models
        from ajeya.ledger import papers
        from ajeya.ledger.registry import register

        register(models.Ward, "ipd.ward")
        register(models.Room, "ipd.room")
        register(models.Bed, "ipd.bed")
        register(models.Admission, "ipd.admission", subject_attname="number")
        papers.register(models.Admission, "Admission sheet")
        register(models.BedStay, "ipd.stay")
        register(models.Observation, "ipd.observation")
        register(models.IntakeOutput, "ipd.intake_output")
        register(models.NursingNote, "ipd.nursing_note")
        register(models.MedicationOrder, "ipd.medication_order")
        register(models.MedicationDose, "ipd.medication_dose")
        register(models.Discharge, "ipd.discharge")
        papers.register(models.Discharge, "Discharge summary", name=lambda d: d.admission.number)
        register(models.DischargeDiagnosis, "ipd.discharge_diagnosis")
