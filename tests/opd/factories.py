"""OPD visits and consultations made through the real services (tokens, ledger, seals)."""

from __future__ import annotations

from ajeya.opd import services
from ajeya.opd.models import Consultation, Visit
from ajeya.opd.services import OrderLine, PrescriptionLine
from tests.patients.factories import PatientFactory


def checked_in(clerk, clinic, patient=None, *, appointment=None) -> Visit:
    """A patient checked in at the counter: waiting, with the clinic's next token."""
    return services.visit_check_in(
        actor=clerk,
        patient=patient or PatientFactory(actor=clerk),
        clinic=None if appointment is not None else clinic,
        appointment=appointment,
    )


def called(clerk, doctor, clinic, patient=None) -> Visit:
    """A patient checked in and called to the room by `doctor`: in consultation."""
    visit = checked_in(clerk, clinic, patient)
    return services.visit_call(actor=doctor, visit=visit)


def paracetamol(**overrides) -> PrescriptionLine:
    line = {
        "drug": "Paracetamol",
        "dose": "500 mg",
        "route": "oral",
        "frequency": "TDS",
        "duration_days": 5,
        "instructions": "after food",
    }
    line.update(overrides)
    return PrescriptionLine(**line)


def consult(doctor, visit, **overrides) -> Consultation:
    """A complete consultation for a called visit; any argument may be overridden."""
    kwargs = {
        "complaints": "Fever and cough for 3 days",
        "examination": "Crepitations right base",
        "advice": "Plenty of fluids",
        "diagnoses": ["J18.9", "e119"],
        "prescriptions": [
            paracetamol(),
            PrescriptionLine(
                drug="Amoxicillin", dose="500 mg", route="oral", frequency="BD", duration_days=7
            ),
        ],
        "order_lines": [OrderLine(test="Complete blood count"), OrderLine(test="HbA1c")],
    }
    kwargs.update(overrides)
    return services.consultation_save(actor=doctor, visit=visit, **kwargs)
