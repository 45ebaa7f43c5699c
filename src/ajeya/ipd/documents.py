"""Printed ward documents: the admission sheet (with the IP number as barcode and QR for
the case file and the wristband) and the discharge summary."""

from __future__ import annotations

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from ajeya.core import clock, pdf
from ajeya.ipd.models import Admission, DischargeType

WIDTH, HEIGHT = A4
MARGIN = 14 * mm


def _writer(c, top: float):
    flow = pdf.Flow(c, top=top, pagesize=A4, margin=MARGIN)
    return flow.line, flow.block


def _head(line, admission: Admission) -> None:
    patient = admission.patient
    line(patient.name, size=13, bold=True)
    line(f"UHID {patient.uhid_display} · {patient.age_display} / {patient.get_sex_display()}")
    line(
        f"IP number {admission.number} · admitted "
        f"{clock.local(admission.admitted_at):%d-%m-%Y %H:%M} IST"
    )
    line(
        f"Unit {admission.unit.name} · {admission.attending_doctor.full_name} · "
        f"bed {admission.bed.label if admission.bed else '—'}"
    )


def admission_sheet(admission: Admission, *, printed_by: str, verify_url: str = "") -> bytes:
    patient = admission.patient

    def body(c, top: float) -> None:
        pdf.draw_code128(
            c, admission.number, WIDTH - MARGIN - 60 * mm, top - 14 * mm, height=12 * mm
        )
        pdf.draw_qr(
            c,
            f"AJEYA:IP:{admission.number}:UHID:{patient.uhid}",
            WIDTH - MARGIN - 24 * mm,
            top - 42 * mm,
            size=24 * mm,
        )
        line, _ = _writer(c, top)
        _head(line, admission)
        line()
        line(f"Source: {admission.get_source_display()}")
        line(
            f"Provisional diagnosis: {admission.provisional_icd10} "
            f"{admission.provisional_diagnosis}"
        )
        line(f"Admitted by {admission.admitted_by.full_name or admission.admitted_by.username}")
        line(
            f"Address: {patient.address_line}, {patient.district}, "
            f"{patient.get_state_display()} {patient.pincode}"
        )
        line(f"Guardian: {patient.guardian_name or '—'} · mobile {patient.phone or '—'}")
        line()
        for heading in ("History", "Examination", "Plan", "Consent (signature / thumb impression)"):
            line(heading, bold=True)
            line()
            line()

    return pdf.render(
        title="Admission sheet",
        printed_by=printed_by,
        verify_url=verify_url,
        pagesize=A4,
        draw_body=body,
        margin=MARGIN,
    )


def discharge_summary(admission: Admission, *, printed_by: str, verify_url: str = "") -> bytes:
    summary = admission.discharge

    def body(c, top: float) -> None:
        line, block = _writer(c, top)
        _head(line, admission)
        line(
            f"{summary.get_kind_display()} on "
            f"{clock.local(summary.discharged_at):%d-%m-%Y %H:%M} IST "
            f"by {summary.discharged_by.full_name}"
        )
        line()
        line("Diagnoses", bold=True)
        for d in summary.diagnoses.all():
            line(f"{d.icd10_code}  {d.description}", indent=4 * mm)
        block("Procedures", summary.procedures)
        block("Course in hospital", summary.course)
        block("Investigations", summary.investigations)
        block("Condition at discharge", summary.condition)
        block("Medications on discharge", summary.medications)
        block("Follow-up", summary.follow_up)
        if summary.kind == DischargeType.REFERRED:
            block("Referred to", summary.referred_to)
        if summary.kind == DischargeType.DEATH:
            line("Death", bold=True)
            line(
                f"Date and time: {clock.local(summary.death_at):%d-%m-%Y %H:%M} IST", indent=4 * mm
            )
            line(f"(a) Immediate cause: {summary.cause_immediate}", indent=4 * mm)
            line(f"(b) Antecedent cause: {summary.cause_antecedent or '—'}", indent=4 * mm)
            line(
                f"(c) Underlying cause: {summary.cause_underlying_icd10} "
                f"{summary.cause_underlying}",
                indent=4 * mm,
            )
            line(
                f"Manner of death: {summary.manner_of_death or '—'} · medico-legal: "
                f"{'yes' if summary.medico_legal else 'no'}",
                indent=4 * mm,
            )
        line()
        line(f"Signed: {summary.discharged_by.full_name}", bold=True)

    return pdf.render(
        title="Discharge summary",
        printed_by=printed_by,
        verify_url=verify_url,
        pagesize=A4,
        draw_body=body,
        margin=MARGIN,
    )
