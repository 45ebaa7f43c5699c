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
