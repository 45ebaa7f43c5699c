"""The paper of a downtime kit: registration forms, lab requisitions and a receipt book,
each printed with one of the identifiers reserved for the outage, so that work done on
paper is back-entered later under numbers the live system never issues."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from reportlab.graphics.barcode import code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from ajeya.billing.models import PaymentMode
from ajeya.core import clock, pdf
from ajeya.core.identifiers import format_uhid
from ajeya.lab import documents as lab_documents
from ajeya.lab.models import Priority
from ajeya.patients.models import GuardianRelation, PatientCategory, Scheme, Sex


@dataclass(frozen=True)
class KitPrint:
    number: str  # the kit's own number, e.g. "K-0003"
    department: str
    made_at: datetime  # aware UTC; printed in IST
    made_by: str
    uhids: list[str]
    accessions: list[str]
    receipts: list[str]
    counter: str  # the receipt book's cash counter, e.g. "Medicine downtime receipt book (DTMED)"


class Box(NamedTuple):
    """A labelled box to fill by hand; `options` are printed as tick boxes."""

    label: str
    weight: float = 1
    options: Sequence[str] = ()


Draw = Callable[[Canvas, float], None]  # draws one page's body from its top
Page = tuple[str, Draw]  # (the page's header title, its body)

WIDTH, HEIGHT = A4
MARGIN = 8 * mm
LEFT, RIGHT = MARGIN, WIDTH - MARGIN
TOP = HEIGHT - MARGIN - 11 * mm  # where core.pdf's header leaves the body
SLOT = TOP - MARGIN - 12 * mm  # the body's height: core.pdf keeps 12 mm for the footer
BAR_WIDTH = 0.33 * mm  # as core.pdf.draw_code128 draws
STICKERS = 4  # to a UHID, and tube labels to an accession
STICKER = (46 * mm, 24 * mm)
TUBE_LABEL = (lab_documents.LABEL_SIZE[0] - 3 * mm, 24 * mm)
COUNTERFOIL = 90 * mm  # room for a receipt number's barcode at its full width
# Orderable panels of lab/catalogue.toml (code, name): what wards ask for most.
LAB_PANELS = [
    tuple(panel.split(" ", 1))
    for panel in (
        "CBC Complete blood count; LFT Liver function tests; KFT Kidney function tests; "
        "ELEC Serum electrolytes; LIPID Lipid profile; COAG Coagulation profile (PT/INR, APTT); "
        "FBS Glucose, fasting; PPBS Glucose, 2 h after a meal; RBS Glucose, random; "
        "HBA1C Glycated haemoglobin (HbA1c); URE Urine routine examination; "
        "BCS Blood culture and sensitivity"
    ).split("; ")
]
# What patients.services.patient_register asks for: (height in mm, *boxes) a row.
REGISTRATION_ROWS: tuple[tuple, ...] = (
    (18, Box("Patient's full name")),
    (
        18,
        Box("Sex", 1.4, Sex.labels),
        Box("Date of birth (dd-mm-yyyy)"),
        Box("or age (years / months / days)", 1, ["estimated"]),
    ),
    (
        18,
        Box("Mobile number (10 digits)"),
        Box("ABHA number (14 digits)"),
        Box("Aadhaar (last 4 digits only)", 0.7),
    ),
    (26, Box("Address (house, street, village or town)")),
    (18, Box("District"), Box("State"), Box("PIN code (6 digits)", 0.6)),
    (20, Box("Guardian's name"), Box("Guardian's relation", 1.5, GuardianRelation.labels)),
    (
        22,
        Box("Category", 0.9, PatientCategory.labels),
        Box("Scheme (category Scheme only)", 1.5, Scheme.labels),
        Box("Scheme beneficiary ID", 0.8),
    ),
    (20, Box("Date and time registered (on paper)"), Box("Registered by (name, signature)", 1.4)),
)
# A requisition's rows of boxes: two above the tests requested, two below.
REQUISITION_ROWS: tuple[tuple[Box, ...], ...] = (
    (Box("UHID"), Box("Patient's name", 1.8)),
    (
        Box("Age", 0.4),
        Box("Sex", 1.9, Sex.labels),
        Box("Ward / bed or OPD", 0.8),
        Box("Requesting doctor (name, signature)", 1.2),
    ),
    (Box("Priority", 1, Priority.labels), Box("Clinical details / provisional diagnosis", 2.2)),
    (Box("Sample collected at (date, time)"), Box("Collected by (name, signature)", 1.4)),
)
INSTRUCTIONS = (
    "Use these numbers only while the system is down. Every number must be accounted for "
    "after recovery: used numbers are back-entered, spoiled forms are voided.",
    "Never photocopy a form: each number is given to one patient, sample or payment only.",
    "Keep unused and spoiled forms with this cover, and hand the whole kit back after recovery.",
)

# -- drawing ---------------------------------------------------------------------------


def _header(c: Canvas, title: str) -> float:
    """core.pdf.render's header, for the pages after the first (it draws only that one):
    a form torn from the kit still names the hospital and what it is."""
    logo = pdf.draw_logo(
        c, MARGIN, HEIGHT - MARGIN - pdf.LOGO_HEIGHT + 0.5 * mm, height=pdf.LOGO_HEIGHT
    )
    c.setFont(pdf.FONT_BOLD, 11)
    c.drawString(MARGIN + logo + 2 * mm, HEIGHT - MARGIN - 4 * mm, settings.AJEYA_HOSPITAL_NAME)
    c.setFont(pdf.FONT, 9)
    c.drawRightString(RIGHT, HEIGHT - MARGIN - 4 * mm, title)
    c.setLineWidth(0.6)
    c.line(MARGIN, HEIGHT - MARGIN - 6 * mm, RIGHT, HEIGHT - MARGIN - 6 * mm)
    return TOP


def _render(pages: list[Page], *, printed_by: str) -> bytes:
    """One PDF of `pages`; no verification code: blank forms are not ledgered papers."""

    def body(c: Canvas, top: float) -> None:
        for n, (title, draw) in enumerate(pages):
            if n:
                c.showPage()
                top = _header(c, title)
            draw(c, top)

    return pdf.render(
        title=pages[0][0], printed_by=printed_by, pagesize=A4, draw_body=body, margin=MARGIN
    )


def _template(c: Canvas, name: str, top: float, draw: Callable[[Canvas], None]) -> None:
    """What every copy of a form shares (its boxes and words, drawn for a slot at TOP)
    goes into the PDF once, as a form XObject, placed here at `top`: a 1,000-number kit
    renders in half the time, at half the size, of one that draws every box again."""
    if not c.hasForm(name):
        c.beginForm(name)
        draw(c)
        c.endForm()
    c.saveState()
    c.translate(0, top - TOP)
    c.doForm(name)
    c.restoreState()


def _barcode(c: Canvas, value: str, x: float, y: float, *, height: float, align="left", room=0.0):
    """Code 128 of `value` with its bottom at y, starting, centred or ending at x; narrowed
    to `room` if wider (a long counter code makes a long receipt number)."""
    width = code128.Code128(value, barWidth=BAR_WIDTH, quiet=False).width
    scale = min(1.0, room / width) if room else 1.0
    x -= {"left": 0, "centre": width / 2, "right": width}[align] * scale
    c.saveState()
    c.translate(x, y)
    c.scale(scale, 1)
    pdf.draw_code128(c, value, 0, 0, height=height)
    c.restoreState()


def _cut(c: Canvas, x: float, y: float, w: float, h: float) -> None:
    """A dashed outline (a line if w or h is 0): cut here."""
    c.saveState()
    c.setLineWidth(0.4)
    c.setDash(2, 2)
    if w and h:
        c.rect(x, y, w, h)
    else:
        c.line(x, y, x + w, y + h)
    c.restoreState()


def _ticks(c: Canvas, x: float, y: float, width: float, options: Sequence[str]) -> None:
    """Tick boxes with their words, wrapped to `width`; (x, y) is the first baseline."""
    left = x
    c.setFont(pdf.FONT, 7.5)
    for option in options:
        need = 4.4 * mm + stringWidth(option, pdf.FONT, 7.5)
        if x > left and x + need > left + width:
            x, y = left, y - 4.4 * mm
        c.rect(x, y - 0.3 * mm, 2.7 * mm, 2.7 * mm)
        c.drawString(x + 3.5 * mm, y, option)
        x += need + 2 * mm


def _row(c: Canvas, y: float, height: float, boxes: Sequence[Box]) -> float:
    """Labelled boxes across the page, sharing its width by weight; returns the y below."""
    gap, x = 2 * mm, LEFT
    room = RIGHT - LEFT - gap * (len(boxes) - 1)
    total = sum(box.weight for box in boxes)
    c.setLineWidth(0.5)
    for box in boxes:
        w = room * box.weight / total
        c.rect(x, y - height, w, height)
        c.setFont(pdf.FONT, 6.5)
        c.drawString(x + 1.2 * mm, y - 2.8 * mm, box.label)
        _ticks(c, x + 1.5 * mm, y - 7 * mm, w - 3 * mm, box.options)
        x += w + gap
    return y - height - gap


def _blank(c: Canvas, x: float, y: float, width: float, label: str, *, size=8.0) -> None:
    """A label and a line to write on after it, to x + width."""
    c.setFont(pdf.FONT, size)
    c.drawString(x, y, label)
    start = x + stringWidth(label, pdf.FONT, size) + 1.5 * mm
    c.setLineWidth(0.3)
    c.line(start, y - 0.8 * mm, x + width, y - 0.8 * mm)


def _strip(size: tuple[float, float], bottom: float) -> list[tuple[float, float]]:
    """The bottom-left corners of STICKERS cut-out labels of `size` across the page."""
    gap = (RIGHT - LEFT - STICKERS * size[0]) / (STICKERS - 1)
    return [(LEFT + n * (size[0] + gap), bottom) for n in range(STICKERS)]


# -- registration forms: one A4 page per UHID ------------------------------------------

STICKERS_AT = TOP - 29 * mm - sum(row[0] + 2 for row in REGISTRATION_ROWS) * mm - 4 * mm
STICKERS_BOTTOM = STICKERS_AT - 2.5 * mm - STICKER[1]


def _registration_form(c: Canvas) -> None:
    c.setFont(pdf.FONT, 7.5)
    c.drawString(
        LEFT,
        TOP - 25 * mm,
        "This is the patient's UHID from now on: tell the patient, write it on every paper, "
        "and enter this form under it when the system is back.",
    )
    y = TOP - 29 * mm
    for height, *boxes in REGISTRATION_ROWS:
        y = _row(c, y, height * mm, boxes)
    c.setFont(pdf.FONT, 7.5)
    c.drawString(LEFT, STICKERS_AT, "Cut out and stick on the patient's file, wristband, forms:")
    for x, bottom in _strip(STICKER, STICKERS_BOTTOM):
        _cut(c, x, bottom, *STICKER)
        _blank(c, x + 2 * mm, bottom + 19 * mm, STICKER[0] - 4 * mm, "Name", size=6.5)


def _registration(c: Canvas, top: float, kit: KitPrint, uhid: str, n: int, total: int):
    _template(c, "registration", top, _registration_form)
    c.setFont(pdf.FONT_BOLD, 12)
    c.drawString(
        LEFT, top - 3 * mm, f"DOWNTIME REGISTRATION — kit {kit.number} — form {n} of {total}"
    )
    c.setFont(pdf.FONT, 8)
    c.drawString(LEFT, top - 9 * mm, f"{kit.department} · UHID")
    c.setFont(pdf.FONT_BOLD, 26)
    c.drawString(LEFT, top - 19 * mm, format_uhid(uhid))
    _barcode(c, uhid, RIGHT, top - 20 * mm, height=14 * mm, align="right")
    for x, bottom in _strip(STICKER, STICKERS_BOTTOM):
        _barcode(c, uhid, x + STICKER[0] / 2, bottom + 7 * mm, height=9 * mm, align="centre")
        c.setFont(pdf.FONT_BOLD, 9)
        c.drawCentredString(x + STICKER[0] / 2, bottom + 2.6 * mm, format_uhid(uhid))


# -- lab requisitions: two a page, each with four tube labels --------------------------

TUBE_LABELS_AT = TOP - 14 * mm - 33 * mm - len(REQUISITION_ROWS) * 13 * mm - TUBE_LABEL[1]


def _requisition_form(c: Canvas) -> None:
    y = TOP - 14 * mm
    for n, boxes in enumerate(REQUISITION_ROWS):
        if n == 2:  # what is asked for, between whom it is for and who collected it
            c.rect(LEFT, y - 31 * mm, RIGHT - LEFT, 31 * mm)
            c.setFont(pdf.FONT, 6.5)
            c.drawString(LEFT + 1.2 * mm, y - 2.8 * mm, "Tests requested (tick)")
            column = (RIGHT - LEFT - 3 * mm) / 3
            for k, (code, name) in enumerate(LAB_PANELS):
                x, down = LEFT + 1.5 * mm + (k // 4) * column, 7 * mm + (k % 4) * 5 * mm
                _ticks(c, x, y - down, column, [f"{code} {name}"])
            _blank(c, LEFT + 1.5 * mm, y - 28.5 * mm, RIGHT - LEFT - 3 * mm, "Other tests")
            y -= 33 * mm
        y = _row(c, y, 11 * mm, boxes)
    for x, bottom in _strip(TUBE_LABEL, TUBE_LABELS_AT):
        _cut(c, x, bottom, *TUBE_LABEL)
        _blank(c, x + 2 * mm, bottom + 19.5 * mm, TUBE_LABEL[0] - 4 * mm, "Name", size=6.5)
        _blank(c, x + 2 * mm, bottom + 15.5 * mm, TUBE_LABEL[0] - 4 * mm, "UHID", size=6.5)
        c.setFont(pdf.FONT, 6)
        c.drawRightString(x + TUBE_LABEL[0] - 2 * mm, bottom + 2.5 * mm, "Coll. ____:____")


def _requisition(c: Canvas, top: float, kit: KitPrint, accession: str, n: int, total: int):
    _template(c, "requisition", top, _requisition_form)
    c.setFont(pdf.FONT_BOLD, 11)
    c.drawString(
        LEFT, top - 3 * mm, f"DOWNTIME LAB REQUISITION — kit {kit.number} — form {n} of {total}"
    )
    c.setFont(pdf.FONT, 8)
    c.drawString(LEFT, top - 9.5 * mm, f"{kit.department} · accession")
    c.setFont(pdf.FONT_BOLD, 14)
    c.drawString(LEFT + 42 * mm, top - 9.5 * mm, accession)
    _barcode(c, accession, RIGHT, top - 12 * mm, height=10 * mm, align="right")
    barcode = lab_documents.label_barcode(accession)  # as the laboratory prints its own
    for x, bottom in _strip(TUBE_LABEL, TUBE_LABELS_AT + top - TOP):
        barcode.drawOn(c, x + (TUBE_LABEL[0] - barcode.width) / 2, bottom + 6.3 * mm)
        c.setFont(pdf.FONT_BOLD, 8)
        c.drawString(x + 2 * mm, bottom + 2.5 * mm, accession)


# -- the receipt book: three a page, each with its counterfoil -------------------------


def _receipt_form(c: Canvas, counter: str) -> None:
    c.setFont(pdf.FONT_BOLD, 8)
    c.drawString(LEFT, TOP - 3 * mm, "COUNTERFOIL — the hospital keeps this")
    labels = "Date and time|Received from|UHID|Amount (Rs.)|Mode (cash / UPI / card)|"
    labels += "Reference (UTR / approval)|For|Cashier's initials"
    for k, label in enumerate(labels.split("|")):
        _blank(c, LEFT, TOP - 28 * mm - k * 6.5 * mm, COUNTERFOIL - 4 * mm, label, size=7.5)
    _cut(c, LEFT + COUNTERFOIL, TOP, 0, 4 * mm - SLOT / 3)
    x = LEFT + COUNTERFOIL + 4 * mm
    width = RIGHT - x
    c.setFont(pdf.FONT_BOLD, 11)
    c.drawString(x, TOP - 3 * mm, "RECEIPT (issued during downtime)")
    y = TOP - 28 * mm
    for label in ("Received from", "UHID", "the sum of Rupees", "(in words)", "for"):
        _blank(c, x, y, width, label)
        y -= 7.5 * mm
    c.setFont(pdf.FONT, 8)
    c.drawString(x, y, "Mode")
    modes = [PaymentMode.CASH.label, PaymentMode.UPI.label, PaymentMode.CARD.label]
    _ticks(c, x + 10 * mm, y, 45 * mm, modes)
    _blank(c, x + 52 * mm, y, width - 52 * mm, "Reference")
    _blank(c, x, y - 9 * mm, 48 * mm, "Date / time")
    _blank(c, x + 52 * mm, y - 9 * mm, width - 52 * mm, "Cashier's signature")
    c.setFont(pdf.FONT, 6.5)
    c.drawString(x, y - 14 * mm, f"{counter} · entered in the system under this number")


def _receipt(c: Canvas, top: float, kit: KitPrint, number: str, n: int, total: int) -> None:
    _template(c, "receipt", top, lambda c: _receipt_form(c, kit.counter))
    c.setFont(pdf.FONT, 7)
    c.drawRightString(LEFT + COUNTERFOIL - 2 * mm, top - 3 * mm, f"{n} of {total}")
    c.setFont(pdf.FONT_BOLD, 11)
    c.drawString(LEFT, top - 9 * mm, number)
    _barcode(c, number, LEFT, top - 21 * mm, height=9 * mm, room=COUNTERFOIL - 4.5 * mm)
    x = LEFT + COUNTERFOIL + 4 * mm
    c.setFont(pdf.FONT_BOLD, 11)
    c.drawString(x, top - 9 * mm, number)
    # 6 mm of white from the perforation: a scanner must not read the dashes as bars.
    _barcode(c, number, x + 2 * mm, top - 21 * mm, height=9 * mm, room=RIGHT - x - 4 * mm)


# -- the kit: a cover, then the three parts --------------------------------------------

# (title, what a kit may have none of, KitPrint field, per A4 page, draws one)
PARTS = (
    ("Downtime registration forms", "UHIDs", "uhids", 1, _registration),
    ("Downtime lab requisitions", "lab accession numbers", "accessions", 2, _requisition),
    ("Downtime receipt book", "receipt numbers", "receipts", 3, _receipt),
)


def _part(kit: KitPrint, index: int, *, alone: bool = False) -> list[Page]:
    """A part's pages, `per_page` numbers a page with a cut line between them; printed
    alone, a part with no numbers is one page saying so."""
    name, what, field, per_page, draw_one = PARTS[index]
    title, numbers = f"{name} — kit {kit.number}", getattr(kit, field)

    def page(first: int) -> Draw:
        def draw(c: Canvas, top: float) -> None:
            for k, number in enumerate(numbers[first : first + per_page]):
                if k:
                    _cut(c, LEFT - 4 * mm, top + 2 * mm, RIGHT - LEFT + 8 * mm, 0)
                draw_one(c, top, kit, number, first + k + 1, len(numbers))
                top -= SLOT / per_page

        return draw

    def empty(c: Canvas, top: float) -> None:
        c.setFont(pdf.FONT_BOLD, 12)
        c.drawString(LEFT, top - 6 * mm, f"This kit has no {what}.")

    pages = [(title, page(first)) for first in range(0, len(numbers), per_page)]
    return pages or ([(title, empty)] if alone else [])


def _cover(kit: KitPrint, pages: list[int]) -> Page:
    ranges = [["", "First", "Last", "Count"]]
    for kind, numbers, shown in (
        ("UHIDs (registration forms)", kit.uhids, format_uhid),
        ("Lab accession numbers", kit.accessions, str),
        ("Receipt numbers", kit.receipts, str),
    ):
        first_last = [shown(numbers[0]), shown(numbers[-1])] if numbers else ["none", ""]
        ranges.append([kind, *first_last, str(len(numbers))])

    def draw(c: Canvas, top: float) -> None:
        flow = pdf.Flow(c, top=top - 6 * mm, pagesize=A4, margin=MARGIN)
        flow.line(settings.AJEYA_HOSPITAL_NAME, size=12, bold=True)
        flow.line(f"DOWNTIME KIT {kit.number} — {kit.department}", size=18, bold=True)
        flow.line(f"Made at {clock.local(kit.made_at):%d-%m-%Y %H:%M} IST by {kit.made_by}")
        flow.line(f"Receipts belong to: {kit.counter}")
        flow.line()
        for k, cells in enumerate(ranges):
            c.setFont(pdf.FONT_BOLD if k == 0 else pdf.FONT, 10)
            for cell, x in zip(cells, (0, 62, 112, 162), strict=True):
                c.drawString(LEFT + x * mm, flow.y, cell)
            flow.y -= 6.5 * mm
        flow.line()
        flow.line("Contents", bold=True)
        first = 2
        for (name, *_), count in zip(PARTS, pages, strict=True):
            where = f"pages {first} to {first + count - 1}" if count else "none in this kit"
            flow.line(f"{name}: {where}", indent=4 * mm)
            first += count
        flow.line()
        for text in INSTRUCTIONS:
            flow.line(text, size=11, bold=text is INSTRUCTIONS[0])

    return f"Downtime kit {kit.number} — {kit.department}", draw


def registration_forms_pdf(kit: KitPrint, *, printed_by: str) -> bytes:
    """One A4 form per UHID, with four stickers of it."""
    return _render(_part(kit, 0, alone=True), printed_by=printed_by)


def lab_requisitions_pdf(kit: KitPrint, *, printed_by: str) -> bytes:
    """Two requisitions an A4 page, one per accession number, each with four tube labels."""
    return _render(_part(kit, 1, alone=True), printed_by=printed_by)


def receipt_book_pdf(kit: KitPrint, *, printed_by: str) -> bytes:
    """Three receipts an A4 page, each with its counterfoil."""
    return _render(_part(kit, 2, alone=True), printed_by=printed_by)


def kit_pdf(kit: KitPrint, *, printed_by: str) -> bytes:
    """The whole kit in one file: the cover with its ranges, then the three parts."""
    parts = [_part(kit, index) for index in range(len(PARTS))]
    cover = _cover(kit, [len(part) for part in parts])
    return _render([cover, *(page for part in parts for page in part)], printed_by=printed_by)
