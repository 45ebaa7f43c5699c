"""The shared page layout's text flow wraps long text and continues on new pages: a
printed summary never loses the end of what a doctor wrote."""

from __future__ import annotations

import io

from pypdf import PdfReader
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm

from ajeya.core import pdf


def _render(text: str, lines: int = 1) -> PdfReader:
    def body(c, top):
        flow = pdf.Flow(c, top=top, pagesize=A5, margin=10 * mm)
        for _ in range(lines):
            flow.block("Course in hospital", text)

    return PdfReader(io.BytesIO(pdf.render(title="t", printed_by="x", pagesize=A5, draw_body=body)))


def test_a_long_paragraph_is_wrapped_not_cut(db):
    words = [f"word{n}" for n in range(120)]
    reader = _render(" ".join(words))
    printed = " ".join(page.extract_text() for page in reader.pages)
    assert all(w in printed for w in words)  # the last word too


def test_text_longer_than_a_page_continues_on_the_next(db):
    reader = _render("Afebrile, tolerating orally, ambulant. " * 6, lines=30)
    assert len(reader.pages) >= 2
    assert "Page 2 of" in reader.pages[1].extract_text()


def _images(content: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(content)).pages)


def _one_page(**options) -> bytes:
    return pdf.render(
        title="t", printed_by="x", pagesize=A5, draw_body=lambda c, top: None, **options
    )


def test_the_hospitals_logo_heads_every_document(db, settings, tmp_path):
    from PIL import Image

    assert _images(_one_page()) == 0  # no logo configured: a drawn emblem, no image
    logo = tmp_path / "logo.png"
    Image.new("RGB", (120, 60), (20, 80, 160)).save(logo)
    settings.AJEYA_HOSPITAL_LOGO = logo
    assert _images(_one_page()) == 1


def test_the_verification_code_and_its_caption_are_on_every_page(db):
    def body(c, top):
        flow = pdf.Flow(c, top=top, pagesize=A5, margin=10 * mm)
        for n in range(80):
            flow.line(f"line {n}")

    content = pdf.render(
        title="t", printed_by="x", pagesize=A5, draw_body=body, verify_url="http://h/verify/x/"
    )
    pages = PdfReader(io.BytesIO(content)).pages
    assert len(pages) >= 2
    assert all("Scan to check this paper" in page.extract_text() for page in pages)
    assert "Scan to check" not in PdfReader(io.BytesIO(_one_page())).pages[0].extract_text()
