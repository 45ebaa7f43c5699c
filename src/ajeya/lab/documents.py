"""Printed laboratory documents: the sample labels for the thermal label printer, and the
laboratory report, drawn from the report's stored and hashed content (so the paper says
exactly what was authorised) with a QR code that opens the public report check."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable

import orjson
from django.urls import reverse
from reportlab.graphics.barcode import code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as rl_canvas

from ajeya.core import clock, pdf
from ajeya.core.identifiers import format_uhid
from ajeya.lab.models import Flag, ItemStatus, LabOrder, OrderSource, Priority, Report, Sample
from ajeya.patients.models import Sex, age_text

# -- sample labels ---------------------------------------------------------------------

LABEL_SIZE = (50 * mm, 25 * mm)  # one label a page: the label printer cuts between them
LABEL_MARGIN = 2.2 * mm
# The narrowest bar: 3 dots of a 203-dpi thermal head, so every bar prints the same width
# and a handheld scanner reads it from a curved tube (10 digits in Code 128 set C are
# 90 modules: 33.75 mm, 41.25 mm with the quiet zones).
BAR_WIDTH = 0.375 * mm
QUIET_MODULES = 10  # ISO/IEC 15417: at least ten module widths of white either side
BARCODE_HEIGHT = 7.4 * mm


def _fit(text: str, font: str, size: float, width: float) -> str:
    """The text, cut with an ellipsis where it would run past `width`."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def label_barcode(accession: str) -> code128.Code128:
    """Code 128 of the accession with its quiet zones; narrowed only if a longer number
    would not fit the label."""
    room = LABEL_SIZE[0] - 2 * mm
    bar = BAR_WIDTH
    for _ in range(2):
        barcode = code128.Code128(
            accession,
            barHeight=BARCODE_HEIGHT,
            barWidth=bar,
            quiet=True,
            lquiet=QUIET_MODULES * bar,
            rquiet=QUIET_MODULES * bar,
        )
        if barcode.width <= room:
            break
        bar = bar * room / barcode.width
    return barcode


def _tests_on(sample: Sample) -> str:
    return " ".join(
        item.panel.code for item in sample.items.all() if item.status != ItemStatus.CANCELLED
    )


def _label(c: rl_canvas.Canvas, order: LabOrder, sample: Sample) -> None:
    width, _ = LABEL_SIZE
    left, right = LABEL_MARGIN, width - LABEL_MARGIN
    patient = order.patient
    # Priority at the top right: STAT reversed out of black, the others in words.
    if order.priority == Priority.STAT:
        c.rect(right - 10 * mm, 21.2 * mm, 10 * mm, 3.3 * mm, stroke=0, fill=1)
        c.setFillGray(1)
        c.setFont(pdf.FONT_BOLD, 8)
        c.drawCentredString(right - 5 * mm, 22.1 * mm, "STAT")
        c.setFillGray(0)
    else:
        c.setFont(pdf.FONT_BOLD if order.priority == Priority.URGENT else pdf.FONT, 6)
        c.drawRightString(right, 22.4 * mm, Priority(order.priority).label)
    c.setFont(pdf.FONT_BOLD, 7)
    c.drawString(left, 22.4 * mm, _fit(patient.name, pdf.FONT_BOLD, 7, 34 * mm))
    c.setFont(pdf.FONT, 6)
    c.drawString(
        left, 19.9 * mm, f"UHID {patient.uhid_display}   {patient.age_display} / {patient.sex}"
    )
    barcode = label_barcode(sample.accession)
    barcode.drawOn(c, (width - barcode.width) / 2, 11.2 * mm)
    c.setFont(pdf.FONT_BOLD, 8)
    c.drawString(left, 8.2 * mm, sample.accession)
    when = sample.collected_at or order.ordered_at
    c.setFont(pdf.FONT, 6)
    c.drawRightString(
        right,
        8.2 * mm,
        f"{'Coll.' if sample.collected_at else 'Ord.'} {clock.local(when):%d-%m-%y %H:%M}",
    )
    section = sample.get_section_display()
    c.drawRightString(right, 5.5 * mm, section)
    room = right - left - stringWidth(section, pdf.FONT, 6) - 2 * mm
    c.drawString(left, 5.5 * mm, _fit(sample.get_container_display(), pdf.FONT, 6, room))
    c.setFont(pdf.FONT_BOLD, 6.5)
    c.drawString(left, 2.8 * mm, _fit(_tests_on(sample), pdf.FONT_BOLD, 6.5, right - left))


def sample_labels(order: LabOrder, samples: list[Sample]) -> bytes:
    """One 50 by 25 mm page per sample: the label printer's own size, so nothing is scaled
    (a scaled barcode's bars no longer fall on the printer's dots)."""
    pdf._register_fonts()
    buffer = io.BytesIO()
    c = rl_canvas.Canvas(buffer, pagesize=LABEL_SIZE)
    c.setTitle(f"Sample labels {order.number}")
    c.setCreator("Ajeya")
    for sample in samples:
        _label(c, order, sample)
        c.showPage()
    c.save()
    return buffer.getvalue()


# -- the laboratory report -------------------------------------------------------------

MARGIN = 14 * mm
WIDTH, HEIGHT = A4
QR_SIZE = 30 * mm
FLAG_TEXT = {
    Flag.HIGH: "H (high)",
    Flag.LOW: "L (low)",
    Flag.CRITICAL_HIGH: "HH CRITICAL",
    Flag.CRITICAL_LOW: "LL CRITICAL",
    Flag.ABNORMAL: "Abnormal",
}
# (heading, x from the left margin, width) in mm: 182 mm between A4's margins.
COLUMNS = (
    ("Test", 0, 50),
    ("Result", 50, 28),
    ("Flag", 78, 24),
    ("Unit", 102, 22),
    ("Reference range", 124, 28),
    ("Method", 152, 30),
)


def verify_path(report: Report) -> str:
    return reverse("lab:verify", args=[report.number, report.content_hash])


def verify_url(request, report: Report) -> str:
    """What the report's QR code holds: the absolute address of its public check."""
    return request.build_absolute_uri(verify_path(report))


def amendment_notes(versions: list[Report], codes: Iterable[str] = ()) -> dict[str, str]:
    """Test code → why it was amended, from the reasons the versions were issued with
    (oldest first, so the latest amendment of a test wins). A version's reason is
    "CODE amended: why; CODE amended: why": it is cut only before one of the report's
    test `codes` and " amended: ", so a pathologist's own "; " stays in the reason."""
    known = "|".join(re.escape(c) for c in sorted(set(codes), key=len, reverse=True))
    boundary = re.compile("; (?=(?:" + (known or r"[^;\s]+") + ") amended: )")
    notes: dict[str, str] = {}
    for version in versions:
        for part in boundary.split(version.reason):
            code, found, why = part.partition(" amended: ")
            if found:
                notes[code.strip()] = why.strip()
    return notes


def _local(value: dt.datetime) -> str:
    return f"{clock.local(value):%d-%m-%Y %H:%M} IST"


class _Pages(pdf.RunningFlow):
    """The report's lines: a page that runs over continues on a new page with the
    patient's name and the report number at its top (and the superseded mark)."""

    def __init__(self, c, *, top: float, running: str, superseded: str) -> None:
        super().__init__(c, top=top, pagesize=A4, margin=MARGIN, running=running)
        self.superseded = superseded

    def mark(self) -> None:
        if self.superseded:
            pdf.watermark(
                self.c, "SUPERSEDED", subtitle=self.superseded, size=54, angle=50, alpha=0.2
            )


def _head(c, top: float, content: dict, report: Report, url: str) -> float:
    """Patient and order on the left, the QR code and the report's identity on the
    right; returns where the body starts."""
    patient = content["patient"]
    born = dt.date.fromisoformat(patient["date_of_birth"])
    age = age_text(born, clock.local(report.issued_at).date())
    room = WIDTH - 2 * MARGIN - QR_SIZE - 20 * mm
    lines = [
        (patient["name"], 13, True),
        (f"UHID {format_uhid(patient['uhid'])} · {age} / {Sex(patient['sex']).label}", 9.5, False),
        (
            f"Order {content['order']} · {OrderSource(content['source']).label} · "
            f"priority {Priority(content['priority']).label}",
            9.5,
            content["priority"] == Priority.STAT,
        ),
        (f"Doctor: {content['doctor'] or '—'}", 9.5, False),
        (f"Ordered {content['ordered_at']} IST · issued {_local(report.issued_at)}", 9.5, False),
    ]
    y = top - 3 * mm
    for text, size, bold in lines:
        font = pdf.FONT_BOLD if bold else pdf.FONT
        c.setFont(font, size)
        c.drawString(MARGIN, y, _fit(text, font, size, room))
        y -= 5.2 * mm
    x = WIDTH - MARGIN - QR_SIZE
    pdf.draw_qr(c, url, x, top - QR_SIZE + 2 * mm, size=QR_SIZE)
    right = WIDTH - MARGIN
    c.setFont(pdf.FONT_BOLD, 7.5)
    c.drawRightString(right, top - QR_SIZE, f"Report {report.number} · version {report.version}")
    c.setFont(pdf.FONT, 7.5)
    c.drawRightString(right, top - QR_SIZE - 3.5 * mm, f"Fingerprint {report.content_hash[:16]}")
    c.setFont(pdf.FONT, 6.5)
    c.drawRightString(right, top - QR_SIZE - 6.8 * mm, "Scan the code to check this report")
    return min(y, top - QR_SIZE - 11 * mm)


def _cells(row: dict, note: str) -> list[tuple[str, str, float]]:
    """(text, font, size) per column."""
    flagged = bool(row["flag"])
    value_font = pdf.FONT_BOLD if flagged else pdf.FONT
    name = row["name"] + (" [amended]" if row["amended"] else "")
    return [
        (name, pdf.FONT_BOLD if note else pdf.FONT, 8.5),
        (row["value"], value_font, 8.5),
        (FLAG_TEXT.get(row["flag"], row["flag"]), pdf.FONT_BOLD, 8),
        (row["unit"], pdf.FONT, 8),
        (row["range"], pdf.FONT, 8),
        (row["method"], pdf.FONT, 7),
    ]


def _table_head(flow: _Pages) -> None:
    c = flow.c
    c.setFont(pdf.FONT_BOLD, 7.5)
    for heading, x, _ in COLUMNS:
        c.drawString(MARGIN + x * mm, flow.y, heading)
    c.setLineWidth(0.4)
    c.line(MARGIN, flow.y - 1.3 * mm, WIDTH - MARGIN, flow.y - 1.3 * mm)
    flow.y -= 4.6 * mm


def _table_row(flow: _Pages, cells: list[tuple[str, str, float]]) -> None:
    split = [
        simpleSplit(text, font, size, width * mm - 1.5 * mm) or [""]
        for (text, font, size), (_, _, width) in zip(cells, COLUMNS, strict=True)
    ]
    height = max(len(lines) for lines in split) * 3.6 * mm + 0.8 * mm
    if flow.need(height):
        _table_head(flow)
    c = flow.c
    for (_, font, size), (_, x, _), lines in zip(cells, COLUMNS, split, strict=True):
        c.setFont(font, size)
        for n, text in enumerate(lines):
            c.drawString(MARGIN + x * mm, flow.y - n * 3.6 * mm, text)
    flow.y -= height


def _section(flow: _Pages, section: dict, notes: dict[str, str]) -> None:
    flow.need(28 * mm)  # a heading is never left alone at the foot of a page
    flow.line(f"{section['name']} ({section['panel']})", size=11, bold=True)
    flow.line(
        f"Specimen: {section['specimen']} · accession {section['accession']} · "
        f"collected {section['collected_at'] or '—'} IST · "
        f"received {section['received_at'] or '—'} IST",
        size=8.5,
    )
    flow.y -= 1 * mm
    _table_head(flow)
    amended = []
    for row in section["results"]:
        note = notes.get(row["test"], "corrected after an earlier report") if row["amended"] else ""
        if note:
            amended.append(f"Amended result: {row['name']} ({row['test']}) — {note}")
        _table_row(flow, _cells(row, note))
    flow.y -= 1 * mm
    for text in amended:
        flow.line(text, size=8, bold=True)
    signers = dict.fromkeys((r["authorised_by"], r["authorised_at"]) for r in section["results"])
    for who, when in signers:
        flow.line(f"Authorised by {who} at {when} IST", size=8.5)
    flow.line(size=5)


def report_pdf(report: Report, *, versions: list[Report], url: str, printed_by: str) -> bytes:
    """The report as issued: every word from `report.content`, the stored text whose
    hash the ledger keeps; `versions` are all of the order's versions (for amendment
    reasons, and to mark a replaced one SUPERSEDED)."""
    content = orjson.loads(report.content)
    later = [v for v in versions if v.version > report.version]
    newest = later[-1] if later else None
    codes = (row["test"] for section in content["sections"] for row in section["results"])
    notes = amendment_notes([v for v in versions if v.version <= report.version], codes)
    patient = content["patient"]
    running = (
        f"{patient['name']} · UHID {format_uhid(patient['uhid'])} · report {report.number} "
        f"version {report.version} (continued)"
    )

    def body(c, top: float) -> None:
        flow = _Pages(
            c,
            top=top,
            running=running,
            superseded=f"by version {newest.version}" if newest else "",
        )
        flow.mark()
        flow.y = _head(c, top, content, report, url)
        if newest is not None:
            replaced_by = later[0]
            flow.line(
                f"SUPERSEDED by version {newest.version} (issued {_local(newest.issued_at)}): "
                "this copy is not the current report.",
                size=10.5,
                bold=True,
            )
            if replaced_by.reason:
                flow.line(
                    f"Version {replaced_by.version} was issued because: {replaced_by.reason}",
                    size=9,
                )
        if not report.is_final:
            flow.line(
                "Partial report — tests pending: a new version is issued as they are authorised.",
                size=10,
                bold=True,
            )
        flow.line(size=5)
        for section in content["sections"]:
            _section(flow, section, notes)
        flow.line("End of report", size=9, bold=True)
        flow.line(
            "Authorised electronically; no signature is needed. Check that this paper is "
            f"what the laboratory issued: scan the QR code or open {url}",
            size=7.5,
        )

    return pdf.render(
        title="Laboratory report",
        printed_by=printed_by,
        pagesize=A4,
        draw_body=body,
        margin=MARGIN,
    )
