"""The appointment slip: number as text, barcode and QR, where and when to come."""

from __future__ import annotations

from reportlab.lib.pagesizes import A6, landscape
from reportlab.lib.units import mm

from ajeya.appointments.models import Appointment
from ajeya.core import pdf

SLIP_SIZE = landscape(A6)


def slip_qr_payload(appointment: Appointment) -> str:
    # Identifiers only: anyone's phone can read a QR code.
    return f"AJEYA:APPT:{appointment.number}:UHID:{appointment.patient.uhid}"


def appointment_slip(appointment: Appointment, *, printed_by: str, verify_url: str = "") -> bytes:
    width, _ = SLIP_SIZE
    margin = 8 * mm
    patient, clinic = appointment.patient, appointment.clinic

    def body(c, top: float) -> None:
        c.setFont(pdf.FONT, 7.5)
        c.drawString(margin, top, "Appointment")
        c.setFont(pdf.FONT_BOLD, 16)
        c.drawString(margin, top - 6 * mm, appointment.number)
        pdf.draw_code128(c, appointment.number, margin, top - 19 * mm, height=11 * mm)
        pdf.draw_qr(
            c, slip_qr_payload(appointment), width - margin - 24 * mm, top - 22 * mm, size=24 * mm
        )
        rows = [
            ("Patient", f"{patient.name} ({patient.uhid_display})"),
            ("Clinic", f"{clinic.name} ({clinic.code})"),
            ("Room", clinic.room),
            ("Date", appointment.date.strftime("%A %d-%m-%Y")),
            ("Time", f"{appointment.slot_time:%H:%M} IST (come 15 minutes early)"),
            ("Booked", appointment.get_channel_display()),
        ]
        if appointment.session.doctor:
            rows.insert(2, ("Doctor", appointment.session.doctor.full_name))
        y = top - 27 * mm
        for label, value in rows:
            c.setFont(pdf.FONT, 7.5)
            c.drawString(margin, y, label)
            c.setFont(pdf.FONT_BOLD if label in ("Date", "Time") else pdf.FONT, 9)
            c.drawString(margin + 20 * mm, y, value[:70])
            y -= 4.6 * mm
        c.setFont(pdf.FONT, 6.5)
        c.drawString(
            margin,
            y - 1 * mm,
            "Show this slip at the OPD counter to get your token. Bring your UHID slip.",
        )

    return pdf.render(
        title="Appointment slip",
        printed_by=printed_by,
        verify_url=verify_url,
        pagesize=SLIP_SIZE,
        draw_body=body,
    )
