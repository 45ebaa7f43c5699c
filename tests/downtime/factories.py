"""A small hospital for the downtime tests: a ward with an inpatient whose snapshot has
something in every section, and a clinic."""

from __future__ import annotations

from ajeya.core.roles import Role
from ajeya.downtime import snapshots
from ajeya.ipd import services as ipd
from ajeya.lab import services as lab_services
from ajeya.opd.models import Frequency
from tests.ipd import factories as wards
from tests.lab import factories as lab
from tests.patients.factories import PatientFactory, record_allergy


def small_hospital(make_user, clinic, passphrase: str) -> dict:
    """Ward W1 with two beds, one patient in it with an allergy, two drugs (one dose
    given), a critical potassium and a test still awaited; a clinic (OPD MED)."""
    doctor = make_user(Role.DOCTOR, username="dr-meera", full_name="Dr. Meera Nair")
    nurse = make_user(Role.NURSE, username="nurse-anu", full_name="Anu Thomas")
    clerk = make_user(Role.REGISTRATION_CLERK, username="clerk-w", full_name="Ward Clerk")
    ward = wards.ward("W1")
    bed = wards.beds(ward)[0]
    patient = PatientFactory(name="Kamala Devi")
    admission = wards.admit(clerk, bed, doctor=doctor, unit=clinic, patient=patient)
    record_allergy(patient, actor=doctor, substance="Penicillin", severity="severe")
    ceftriaxone = ipd.medication_order(
        actor=doctor, admission=admission, drug="Ceftriaxone", dose="1 g", route="iv",
        frequency=Frequency.BD,
    )  # fmt: skip
    ipd.medication_order(actor=doctor, admission=admission, drug="Paracetamol", dose="650 mg",
                         route="oral", frequency=Frequency.SOS)  # fmt: skip
    ipd.dose_record(actor=nurse, order=ceftriaxone, outcome="given")
    lab.load_catalogue()
    order = lab_services.order_create(actor=doctor, patient=patient, tests=["KFT", "CBC"],
                                      source="ipd", admission=admission)  # fmt: skip
    kft = lab.sample_for(order, "sst")
    technician = lab.technician()
    lab_services.sample_collect(actor=technician, sample=kft)
    lab_services.sample_receive(actor=technician, accession=kft.accession)
    lab.verified(kft, {"K": "7.1"})
    for location in snapshots.all_locations():
        snapshots.key_set(location.id, passphrase)
    return {"ward": ward, "patient": patient, "admission": admission, "doctor": doctor}
