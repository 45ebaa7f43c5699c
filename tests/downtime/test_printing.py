"""The downtime kit's paper: every reserved number printed once to a form, as text and as a
Code 128 barcode, on the pages the cover says."""

from __future__ import annotations

import datetime as dt
import io
import re
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from pypdf import PdfReader

from ajeya.core import clock, pdf
from ajeya.core.identifiers import format_uhid, make_uhid
from ajeya.downtime import printing
from ajeya.lab import documents as lab_documents
from ajeya.lab.services import make_accession

CATALOGUE = Path(lab_documents.__file__).with_name("catalogue.toml")


def make_kit(**changes) -> printing.KitPrint:
    fields = {
        "number": "K-0003",
        "department": "Medicine",
        "made_at": dt.datetime(2026, 5, 4, 3, 30, tzinfo=dt.UTC),
        "made_by": "Asha Rao",
        "uhids": [make_uhid(n) for n in range(41, 44)],
        "accessions": [make_accession(n, 2026) for n in range(1, 6)],
        "receipts": [f"R/DTMED/2026-27/{n:06d}" for n in range(1, 5)],
        "counter": "Medicine downtime receipt book (DTMED)",
    }
    return printing.KitPrint(**{**fields, **changes})


def page_texts(content: bytes) -> list[str]:
    assert content.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def test_a_registration_form_for_each_uhid_with_its_stickers():
    kit = make_kit()
    texts = page_texts(printing.registration_forms_pdf(kit, printed_by="Ravi Clerk"))

    assert len(texts) == 3
    for n, (uhid, text) in enumerate(zip(kit.uhids, texts, strict=True), start=1):
        assert f"DOWNTIME REGISTRATION — kit K-0003 — form {n} of 3" in text
        assert text.count(format_uhid(uhid)) == 1 + printing.STICKERS
        assert settings.AJEYA_HOSPITAL_NAME in text  # each page has the header, not just the first
        assert f"Page {n} of 3" in text
        assert "Printed by Ravi Clerk" in text


def test_the_registration_form_asks_what_the_system_needs():
    text = page_texts(printing.registration_forms_pdf(make_kit(), printed_by="x"))[0]

    for label in (
        "Patient's full name",
        "Date of birth",
        "Mobile number",
        "Address",
        "District",
        "State",
        "PIN code",
        "Guardian's name",
        "Guardian's relation",
        "ABHA number",
        "Category",
        "Scheme beneficiary ID",
        "Date and time registered (on paper)",
        "Registered by (name, signature)",
        # Tick boxes carry the system's own choices.
        "Transgender",
        "Brother/sister",
        "BPL / free",
        "PM-JAY (Ayushman Bharat)",
    ):
        assert label in text


def test_lab_requisitions_two_to_a_page_each_with_four_tube_labels():
    kit = make_kit()
    texts = page_texts(printing.lab_requisitions_pdf(kit, printed_by="x"))

    assert len(texts) == 3  # five requisitions, two to a page
    for n, accession in enumerate(kit.accessions):
        text = texts[n // 2]
        assert f"DOWNTIME LAB REQUISITION — kit K-0003 — form {n + 1} of 5" in text
        assert text.count(accession) == 1 + printing.STICKERS
    for label in ("Complete blood count", "Lipid profile", "Glucose, fasting", "STAT"):
        assert label in texts[-1]


def test_the_checklist_names_panels_as_the_laboratory_catalogue_does():
    catalogue = tomllib.loads(CATALOGUE.read_text())
    orderable = {p["code"]: p["name"] for p in catalogue["panel"]}
    orderable |= {t["code"]: t["name"] for t in catalogue["test"] if t.get("orderable")}

    for code, name in printing.LAB_PANELS:
        assert orderable.get(code) == name


def test_the_receipt_book_three_receipts_to_a_page_each_with_its_counterfoil():
    kit = make_kit()
    texts = page_texts(printing.receipt_book_pdf(kit, printed_by="x"))

    assert len(texts) == 2
    for n, number in enumerate(kit.receipts):
        assert texts[n // 3].count(number) == 2  # the receipt and its counterfoil
    assert texts[0].count("COUNTERFOIL") == 3
    assert "Medicine downtime receipt book (DTMED)" in texts[0]


def test_the_kit_is_a_cover_then_the_three_parts():
    kit = make_kit()
    texts = page_texts(printing.kit_pdf(kit, printed_by="x"))

    assert len(texts) == 1 + 3 + 3 + 2
    cover = texts[0]
    assert "DOWNTIME KIT K-0003 — Medicine" in cover
    assert "Made at 04-05-2026 09:00 IST by Asha Rao" in cover  # 03:30 UTC
    for first, last, count in (
        (format_uhid(kit.uhids[0]), format_uhid(kit.uhids[-1]), 3),
        (kit.accessions[0], kit.accessions[-1], 5),
        (kit.receipts[0], kit.receipts[-1], 4),
    ):
        assert re.search(rf"{re.escape(first)}\s+{re.escape(last)}\s+{count}\b", cover)
    assert "registration forms: pages 2 to 4" in cover
    assert "lab requisitions: pages 5 to 7" in cover
    assert "receipt book: pages 8 to 9" in cover
    assert "Use these numbers only while the system is down." in cover
    assert "spoiled forms are voided." in cover
    assert "form 1 of 3" in texts[1]
    assert "form 1 of 5" in texts[4]
    assert kit.receipts[-1] in texts[8]
    assert "Page 9 of 9" in texts[8]


def test_a_kit_without_receipts_has_no_receipt_pages_and_its_cover_says_so():
    kit = make_kit(receipts=[])
    texts = page_texts(printing.kit_pdf(kit, printed_by="x"))

    assert len(texts) == 1 + 3 + 3
    assert re.search(r"Receipt numbers\s+none\s+0\b", texts[0])
    assert "receipt book: none in this kit" in texts[0]
    assert not any("COUNTERFOIL" in text for text in texts)

    alone = page_texts(printing.receipt_book_pdf(kit, printed_by="x"))
    assert len(alone) == 1
    assert "This kit has no receipt numbers." in alone[0]


def test_a_kit_of_one_number_each_shows_it_as_first_and_last():
    kit = make_kit(uhids=[make_uhid(7)], accessions=[], receipts=[])
    cover = page_texts(printing.kit_pdf(kit, printed_by="x"))[0]

    uhid = re.escape(format_uhid(kit.uhids[0]))
    assert re.search(rf"{uhid}\s+{uhid}\s+1\b", cover)
    assert re.search(r"Lab accession numbers\s+none\s+0\b", cover)


@pytest.fixture
def barcodes(monkeypatch) -> Counter:
    """Every value drawn as a Code 128 barcode, counted: the page barcodes go through
    core.pdf.draw_code128, the tube labels through lab.documents.label_barcode."""
    drawn: Counter = Counter()
    draw_code128, label_barcode = pdf.draw_code128, lab_documents.label_barcode

    def record(c, value, x, y, *, height):
        drawn[value] += 1
        return draw_code128(c, value, x, y, height=height)

    def record_label(value):
        barcode = label_barcode(value)
        draw_on = barcode.drawOn

        def counted(*args, **kwargs):
            drawn[value] += 1
            return draw_on(*args, **kwargs)

        barcode.drawOn = counted
        return barcode

    monkeypatch.setattr(pdf, "draw_code128", record)
    monkeypatch.setattr(lab_documents, "label_barcode", record_label)
    return drawn


def test_every_number_is_drawn_as_a_barcode(barcodes):
    kit = make_kit()
    printing.kit_pdf(kit, printed_by="x")

    expected = Counter()
    for uhid in kit.uhids:
        expected[uhid] = 1 + printing.STICKERS  # the form's own and its stickers
    for accession in kit.accessions:
        expected[accession] = 1 + printing.STICKERS  # the requisition's and its tube labels
    for number in kit.receipts:
        expected[number] = 2  # the receipt and its counterfoil
    assert barcodes == expected


def test_the_tube_labels_use_the_laboratorys_own_label_barcode(monkeypatch):
    asked = []
    real = lab_documents.label_barcode
    monkeypatch.setattr(lab_documents, "label_barcode", lambda v: asked.append(v) or real(v))

    kit = make_kit()
    printing.lab_requisitions_pdf(kit, printed_by="x")

    assert asked == kit.accessions


def test_the_same_kit_prints_the_same_apart_from_its_timestamps(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: dt.datetime(2026, 5, 4, 4, 0, tzinfo=dt.UTC))
    kit = make_kit()

    def stripped(content: bytes) -> bytes:
        return re.sub(rb"/(CreationDate|ModDate) \(D:[^)]*\)|/ID\s*\[[^\]]*\]", b"", content)

    first = printing.kit_pdf(kit, printed_by="x")
    assert stripped(first) == stripped(printing.kit_pdf(kit, printed_by="x"))
