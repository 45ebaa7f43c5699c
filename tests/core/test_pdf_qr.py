"""The QR code every printed document carries decodes to exactly what was encoded (read
back with zbar from the rendered page, where the tools exist)."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from ajeya.core import pdf

TOOLS = shutil.which("pdftoppm") and shutil.which("zbarimg")


@pytest.mark.skipif(not TOOLS, reason="needs pdftoppm (poppler-utils) and zbarimg (zbar-tools)")
@pytest.mark.parametrize(
    "value",
    [
        "AJEYA|APPT|A2611300007|100000000427",
        "https://his.hospital.local/lab/verify/L260000012-1/" + "3f2a9c0e" * 8 + "/",
    ],
)
def test_a_drawn_qr_code_reads_back_as_its_value(tmp_path, value):
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=(60 * mm, 60 * mm))
    pdf.draw_qr(c, value, 5 * mm, 5 * mm, size=50 * mm)
    c.showPage()
    c.save()
    (tmp_path / "qr.pdf").write_bytes(buffer.getvalue())
    subprocess.run(
        ["pdftoppm", "-png", "-r", "120", str(tmp_path / "qr.pdf"), str(tmp_path / "qr")],
        check=True,
    )
    (image,) = tmp_path.glob("qr*.png")
    read = subprocess.run(
        ["zbarimg", "-q", "--raw", str(image)], capture_output=True, text=True, check=True
    )
    assert read.stdout.strip() == value
