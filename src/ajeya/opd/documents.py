"""The OPD prescription: who, when, diagnoses, drugs (dose, route, frequency, days),
tests ordered, advice and follow-up, signed by the doctor's name."""

from __future__ import annotations

from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm

from ajeya.core import clock, pdf
from ajeya.opd.models import Consultation


def prescription_qr_payload(consultation: Consultation) -> str:
    visit = consultation.visit
    return (
        f"AJEYA:OPD:{visit.clinic.code}:{visit.date:%Y%m%d}:{visit.token}:UHID:{visit.patient.uhid}"
    )


def prescription(consultation: Consultation, *, printed_by: str, verify_url: str = "") -> bytes:
    width, _ = A5
    margin = 10 * mm
    visit, patient = consultation.visit, consultation.visit.patient

    def body(c, top: float) -> None:
        flow = pdf.Flow(c, top=top, pagesize=A5, margin=margin, bottom=18 * mm)
        line = flow.line

        pdf.draw_qr(
            c,
            prescription_qr_payload(consultation),
            width - margin - 20 * mm,
            top - 20 * mm,
            size=20 * mm,
        )
        line(f"{patient.name}", size=11, bold=True)
        line(f"UHID {patient.uhid_display} · {patient.age_display} / {patient.get_sex_display()}")
        line(
            f"{visit.clinic.name} · token {visit.token} · "
            f"{clock.local(consultation.completed_at):%d-%m-%Y %H:%M} IST"
        )
        line(f"Doctor: {consultation.doctor.full_name or consultation.doctor.username}")
        flow.y -= 2 * mm
        line("Complaints", bold=True)
        for text in consultation.complaints.splitlines()[:6]:
            line(text, indent=4 * mm)
        line("Diagnosis", bold=True)
        for d in consultation.diagnoses.all():
            line(f"{d.icd10_code}  {d.description}", indent=4 * mm)
        line("Rx", size=12, bold=True)
        for n, p in enumerate(consultation.prescriptions.all(), start=1):
            line(f"{n}. {p.drug} {p.dose}", bold=True, indent=4 * mm)
            detail = f"{p.get_route_display()}, {p.get_frequency_display()}, {p.duration_days} days"
            line(detail + (f" — {p.instructions}" if p.instructions else ""), indent=8 * mm)
        orders = list(consultation.orders.all())
        if orders:
            line("Tests", bold=True)
            line(", ".join(o.test for o in orders), indent=4 * mm)
        if consultation.advice:
            line("Advice", bold=True)
            for text in consultation.advice.splitlines()[:6]:
                line(text, indent=4 * mm)
        if consultation.admit_advised:
            line(f"Admission advised: {consultation.admit_note}", bold=True)
        if consultation.follow_up_on:
            line(f"Follow up on {consultation.follow_up_on:%A %d-%m-%Y}", bold=True)
        c.setFont(pdf.FONT, 8)
        # Above the verification code the layout prints in the corner.
        c.drawRightString(width - margin, margin + 14 * mm, consultation.doctor.full_name or "")

    return pdf.render(
        title="OPD prescription",
        printed_by=printed_by,
        verify_url=verify_url,
        pagesize=A5,
        draw_body=body,
        margin=margin,
    )
