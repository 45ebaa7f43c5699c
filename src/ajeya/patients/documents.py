"""The registration slip: UHID as text, Code 128 barcode and QR code, and the
details a clerk reads back to the patient."""

from __future__ import annotations

from reportlab.lib.pagesizes import A6, landscape
from reportlab.lib.units import mm

from ajeya.core import clock, pdf
from ajeya.patients.models import Patient

SLIP_SIZE = landscape(A6)


def slip_qr_payload(patient: Patient) -> str:
    # Identifiers only: a QR code is readable by any phone, so no name or address.
    return f"AJEYA:UHID:{patient.uhid}"


def registration_slip(patient: Patient, *, printed_by: str, verify_url: str = "") -> bytes:
    width, _ = SLIP_SIZE
    margin = 8 * mm

    def body(c, top: float) -> None:
        c.setFont(pdf.FONT, 7.5)
        c.drawString(margin, top, "UHID")
        c.setFont(pdf.FONT_BOLD, 16)
        c.drawString(margin, top - 6 * mm, patient.uhid_display)
        pdf.draw_code128(c, patient.uhid, margin, top - 19 * mm, height=11 * mm)
        pdf.draw_qr(
            c, slip_qr_payload(patient), width - margin - 24 * mm, top - 22 * mm, size=24 * mm
        )
        rows = [
            ("Name", patient.name),
            ("Age / sex", f"{patient.age_display} / {patient.get_sex_display()}"),
            ("Guardian", _guardian(patient)),
            ("Mobile", patient.phone or "—"),
            ("Address", _address(patient)),
            ("Category", _category(patient)),
            ("Registered", clock.local(patient.registered_at).strftime("%d-%m-%Y %H:%M IST")),
        ]
        y = top - 27 * mm
        for label, value in rows:
            c.setFont(pdf.FONT, 7.5)
            c.drawString(margin, y, label)
            c.setFont(pdf.FONT_BOLD if label == "Name" else pdf.FONT, 9)
            c.drawString(margin + 20 * mm, y, value[:70])
            y -= 4.6 * mm
        c.setFont(pdf.FONT, 6.5)
        c.drawString(
            margin, y - 1 * mm, "Bring this slip on every visit. Quote your UHID at any counter."
        )

    return pdf.render(
        title="Registration slip",
        printed_by=printed_by,
        verify_url=verify_url,
        pagesize=SLIP_SIZE,
        draw_body=body,
    )


def _guardian(patient: Patient) -> str:
    if not patient.guardian_name:
        return "—"
    relation = patient.get_guardian_relation_display()
    return f"{patient.guardian_name} ({relation})" if relation else patient.guardian_name


def _address(patient: Patient) -> str:
    parts = [patient.address_line, patient.district, patient.get_state_display(), patient.pincode]
    return ", ".join(p for p in parts if p)


def _category(patient: Patient) -> str:
    if patient.scheme:
        return f"{patient.get_category_display()} — {patient.get_scheme_display()}"
    return patient.get_category_display()
