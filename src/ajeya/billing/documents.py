"""Printed billing documents: the bill (what a scheme covers and what the patient pays),
a stay's running interim bill, and the receipt or refund voucher with its serial number
and the amount in words (Indian system: lakh, crore).

The bundled font has no rupee sign, so paper prints "Rs" before the amount, grouped as
`money.inr` groups it (Rs 1,23,456.78).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from reportlab.graphics.barcode import code128
from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth

from ajeya.billing.models import (
    Account,
    ApprovalStatus,
    Bill,
    Charge,
    Discount,
    Payment,
    PaymentKind,
    PaymentMode,
)
from ajeya.billing.selectors import Balance
from ajeya.core import clock, money, pdf

MARGIN = 14 * mm
BAR_WIDTH = 0.33 * mm  # as core.pdf.draw_code128 draws
WIDTH, HEIGHT = A4

# -- amounts ---------------------------------------------------------------------------

_ONES = (
    "",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
)
_TENS = ("", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety")


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = [f"{_ONES[hundreds]} Hundred"] if hundreds else []
    if rest:
        parts.append(_below_hundred(rest))
    return " ".join(parts)


def _indian_words(n: int) -> str:
    """A whole number in words as Indian accounts write it: crore, lakh, thousand."""
    if n == 0:
        return "Zero"
    parts = []
    crore, n = divmod(n, 10_000_000)
    if crore:
        parts.append(f"{_indian_words(crore)} Crore")
    lakh, n = divmod(n, 100_000)
    if lakh:
        parts.append(f"{_below_hundred(lakh)} Lakh")
    thousand, n = divmod(n, 1000)
    if thousand:
        parts.append(f"{_below_hundred(thousand)} Thousand")
    if n:
        parts.append(_below_thousand(n))
    return " ".join(parts)


def amount_in_words(value: Decimal) -> str:
    """Rs 1,23,456.78 → "Rupees One Lakh Twenty-Three Thousand Four Hundred Fifty-Six and
    Seventy-Eight Paise Only"."""
    amount = money.round_paise(Decimal(value))
    if amount < 0:
        raise ValueError("An amount in words is never negative.")
    rupees = int(amount)
    paise = int((amount - rupees) * 100)
    if rupees and paise:
        return f"Rupees {_indian_words(rupees)} and {_below_hundred(paise)} Paise Only"
    if paise:
        return f"{_below_hundred(paise)} Paise Only"
    return f"Rupees {_indian_words(rupees)} Only"


def rs(value: Decimal | None) -> str:
    """An amount as paper prints it: "Rs 1,23,456.78" (negative "-Rs 10.00")."""
    return "" if value is None else money.inr(value).replace("₹", "Rs ")


def _figure(value: Decimal) -> str:
    """An amount in a table column, whose heading says "Rs": "1,23,456.78"."""
    return money.inr(value).replace("₹", "")


def _local(value: dt.datetime | None) -> str:
    return f"{clock.local(value):%d-%m-%Y %H:%M} IST" if value else "—"


def _who(user) -> str:
    return (user.full_name or user.username) if user is not None else "—"


# -- the page: heading lines, a table that runs over pages, totals ---------------------


class _Page(pdf.RunningFlow):
    """Lines and table rows down an A4 page; a table continued on a new page repeats its
    heading under a running line naming the patient and the document."""

    def __init__(self, c, *, top: float, running: str, watermark: str = "") -> None:
        super().__init__(c, top=top, pagesize=A4, margin=MARGIN, running=running)
        self.watermark, self.columns = watermark, None
        self.mark()

    def mark(self) -> None:
        if self.watermark:
            pdf.watermark(self.c, self.watermark)

    def continued(self) -> None:
        if self.columns:
            self.table_head(self.columns)

    def table_head(self, columns) -> None:
        self.columns = columns
        c = self.c
        c.setFont(pdf.FONT_BOLD, 7.5)
        for heading, x, width, right in columns:
            if right:
                c.drawRightString(self.margin + (x + width) * mm, self.y, heading)
            else:
                c.drawString(self.margin + x * mm, self.y, heading)
        c.setLineWidth(0.4)
        c.line(self.margin, self.y - 1.3 * mm, self.width - self.margin, self.y - 1.3 * mm)
        self.y -= 4.6 * mm

    def table_row(self, cells: list[str], *, bold: bool = False) -> None:
        font = pdf.FONT_BOLD if bold else pdf.FONT
        size = 7.5
        split = [
            simpleSplit(text, font, size, width * mm - 1.2 * mm) or [""]
            for text, (_, _, width, _) in zip(cells, self.columns, strict=True)
        ]
        height = max(len(lines) for lines in split) * 3.4 * mm + 0.8 * mm
        self.need(height)
        c = self.c
        c.setFont(font, size)
        for lines, (_, x, width, right) in zip(split, self.columns, strict=True):
            for n, text in enumerate(lines):
                y = self.y - n * 3.4 * mm
                if right:
                    c.drawRightString(self.margin + (x + width) * mm, y, text)
                else:
                    c.drawString(self.margin + x * mm, y, text)
        self.y -= height

    def table_end(self) -> None:
        self.columns = None
        self.c.setLineWidth(0.4)
        self.c.line(self.margin, self.y + 2 * mm, self.width - self.margin, self.y + 2 * mm)
        self.y -= 2 * mm

    def totals(self, rows: list[tuple[str, str, bool]]) -> None:
        """Label and amount pairs, right-aligned under the table."""
        right = self.width - self.margin
        for label, value, bold in rows:
            self.need(5 * mm)
            font = pdf.FONT_BOLD if bold else pdf.FONT
            self.c.setFont(font, 9)
            self.c.drawRightString(right - 34 * mm, self.y, label)
            self.c.drawRightString(right, self.y, value)
            self.y -= 4.6 * mm


# (heading, x from the left margin, width) in mm, right-aligned or not: 182 mm in all.
LINE_COLUMNS = (
    ("Date", 0, 16, False),
    ("Service", 16, 58, False),
    ("Dept", 74, 12, False),
    ("Qty", 86, 8, True),
    ("Rate", 94, 18, True),
    ("Amount", 112, 18, True),
    ("Tax", 130, 14, True),
    ("Scheme", 144, 19, True),
    ("Patient", 163, 19, True),
)


def _barcode(c, value: str, *, right: float, y: float, height: float) -> None:
    """The number as a Code 128 barcode ending at `right` (its width depends on it)."""
    width = code128.Code128(value, barHeight=height, barWidth=BAR_WIDTH, quiet=False).width
    pdf.draw_code128(c, value, right - width, y, height=height)


def _line_cells(c: Charge, reversed_ids: set[int]) -> list[str]:
    notes = []
    if c.pk in reversed_ids:
        notes.append("reversed")
    if c.reverses_id:
        notes.append(f"reason: {c.reason}")
    description = c.description + (f" ({'; '.join(notes)})" if notes else "")
    return [
        f"{c.service_date:%d-%m-%y}",
        f"{description} [{c.code}]",
        c.department.code if c.department_id else "",
        f"{c.quantity.normalize():f}",
        _figure(c.unit_price),
        _figure(c.amount),
        _figure(c.tax),
        _figure(c.scheme_amount),
        _figure(c.patient_amount),
    ]


def _lines(flow: _Page, charges: list[Charge]) -> None:
    reversed_ids = {c.reverses_id for c in charges if c.reverses_id}
    flow.need(20 * mm)
    flow.table_head(LINE_COLUMNS)
    for c in charges:
        flow.table_row(_line_cells(c, reversed_ids))
    if not charges:
        flow.table_row(["", "No charges.", "", "", "", "", "", "", ""])
    flow.table_end()


def _patient_lines(account: Account) -> list[tuple[str, float, bool]]:
    patient, admission = account.patient, account.admission
    if patient.scheme:
        payer = (
            f"Scheme: {patient.get_scheme_display()} · beneficiary "
            f"{patient.scheme_beneficiary_id or '—'}"
        )
    else:
        payer = f"Category: {patient.get_category_display()}"
    lines = [
        (patient.name, 13, True),
        (
            f"UHID {patient.uhid_display} · {patient.age_display} / {patient.get_sex_display()}",
            9.5,
            False,
        ),
        (payer, 9.5, False),
        (f"Account {account.number} ({account.get_kind_display()})", 9.5, False),
    ]
    if admission is not None:
        lines.append(
            (
                f"IP number {admission.number} · admitted {_local(admission.admitted_at)}"
                + (
                    f" · discharged {_local(admission.discharged_at)}"
                    if admission.discharged_at
                    else " · still admitted"
                ),
                9.5,
                False,
            )
        )
    return lines


def _head(c, top: float, account: Account, identity: list[tuple[str, float, bool]]) -> float:
    """The patient on the left, the document's identity on the right; returns where the
    body starts."""
    right = WIDTH - MARGIN
    y = top - 3 * mm
    for text, size, bold in _patient_lines(account):
        font = pdf.FONT_BOLD if bold else pdf.FONT
        c.setFont(font, size)
        for piece in simpleSplit(text, font, size, 110 * mm)[:2]:
            c.drawString(MARGIN, y, piece)
            y -= 5.2 * mm
    ry = top - 3 * mm
    for text, size, bold in identity:
        c.setFont(pdf.FONT_BOLD if bold else pdf.FONT, size)
        c.drawRightString(right, ry, text)
        ry -= 5.2 * mm
    return min(y, ry) - 2 * mm


def _payment_line(p: Payment) -> str:
    sign = "-" if p.kind == PaymentKind.REFUND else ""
    reference = f" ref {p.reference}" if p.reference else ""
    return (
        f"{p.number} · {_local(p.paid_at)} · {p.get_kind_display()} · "
        f"{p.get_mode_display()}{reference} · {sign}{rs(p.amount)}"
    )


# -- the bill --------------------------------------------------------------------------


def bill_pdf(
    bill: Bill,
    *,
    lines: list[Charge],
    payments: list[Payment],
    discounts: list[Discount],
    figures: dict,
    printed_by: str,
    verify_url: str = "",
) -> bytes:
    """The bill as made, with its later reversals, discounts and payments. For a scheme
    patient it says what the scheme covers and what the patient pays."""
    account = bill.account
    patient = account.patient
    running = f"{patient.name} · UHID {patient.uhid_display} · bill {bill.number} (continued)"
    scheme = patient.get_scheme_display() if patient.scheme else "Scheme"

    def body(c, top: float) -> None:
        flow = _Page(
            c, top=top, running=running, watermark="CANCELLED" if bill.cancelled_at else ""
        )
        identity = [
            (bill.get_kind_display().upper(), 12, True),
            (f"Bill {bill.number}", 10, True),
            (f"Date {_local(bill.created_at)}", 9, False),
            (f"Made by {_who(bill.created_by)}", 9, False),
        ]
        flow.y = _head(c, top, account, identity)
        _barcode(c, bill.number, right=WIDTH - MARGIN, y=flow.y - 6 * mm, height=7 * mm)
        flow.y -= 10 * mm
        if bill.cancelled_at:
            flow.line(
                f"CANCELLED {_local(bill.cancelled_at)} by {_who(bill.cancelled_by)}: "
                f"{bill.cancel_reason}",
                size=10.5,
                bold=True,
            )
        if account.package_id:
            flow.line(
                f"Package {account.package.code} ({account.package.name}) booked for this stay: "
                "services marked 'in package' are included in the package rate.",
                size=9,
            )
        flow.line(size=4)
        _lines(flow, lines)
        total = figures["amount"] + figures["tax"]
        rows = [
            ("Amount", rs(figures["amount"]), False),
            ("Tax (GST)", rs(figures["tax"]), False),
            ("Total", rs(total), True),
        ]
        if figures["scheme"] or figures["settled"]:
            rows.append((f"{scheme} covers", rs(figures["scheme"]), True))
        rows.append(("Patient pays", rs(figures["patient"]), True))
        if figures["discounts"]:
            rows.append(("Discount", f"-{rs(figures['discounts'])}", False))
        rows.append(("Paid on this bill", rs(figures["paid"]), False))
        rows.append(("Balance due", rs(figures["due"]), True))
        flow.totals(rows)
        flow.line(size=4)
        if figures["scheme"]:
            flow.line(
                f"{scheme} covers {rs(figures['scheme'])} of {rs(total)}; the patient pays "
                f"{rs(figures['patient'])}."
                + (
                    f" Settled by the scheme so far: {rs(figures['settled'])}."
                    if figures["settled"]
                    else ""
                ),
                size=9.5,
                bold=True,
            )
        if figures["due"] > 0:
            flow.line(f"Balance due: {amount_in_words(figures['due'])}.", size=9)
        done = [d for d in discounts if d.status == ApprovalStatus.DONE]
        if done:
            flow.line("Discounts", bold=True)
            for d in done:
                flow.line(
                    f"{rs(d.amount)} · {d.reason} · {_who(d.requested_by)}", size=8.5, indent=4 * mm
                )
        paid = [p for p in payments if p.number]
        if paid:
            flow.line("Receipts", bold=True)
            for p in paid:
                flow.line(_payment_line(p), size=8.5, indent=4 * mm)
        flow.line(size=4)
        flow.line(
            "Computer-generated bill. A bill is never edited: corrections are made by "
            "cancellation, reversal, discount or refund, each with its own number.",
            size=7.5,
        )

    return pdf.render(
        title=f"Bill {bill.number}",
        printed_by=printed_by,
        verify_url=verify_url,
        pagesize=A4,
        draw_body=body,
        margin=MARGIN,
    )


# -- the running (interim) bill of a stay ----------------------------------------------


def interim_pdf(
    account: Account,
    *,
    charges: list[Charge],
    payments: list[Payment],
    balance: Balance,
    printed_by: str,
    verify_url: str = "",
) -> bytes:
    """What a stay has cost so far, the deposits, and the estimated balance: not a bill."""
    patient = account.patient
    number = account.admission.number
    running = f"{patient.name} · UHID {patient.uhid_display} · interim bill {number} (continued)"

    def body(c, top: float) -> None:
        flow = _Page(c, top=top, running=running)
        identity = [
            ("INTERIM BILL", 12, True),
            (f"Stay {number}", 10, True),
            (f"As on {_local(clock.now())}", 9, False),
            ("Not a final bill", 9, True),
        ]
        flow.y = _head(c, top, account, identity) - 2 * mm
        if account.package_id:
            flow.line(
                f"Package {account.package.code} ({account.package.name}): services marked "
                "'in package' are included in the package rate.",
                size=9,
            )
        _lines(flow, charges)
        rows = [
            ("Charges so far (patient)", rs(balance.unbilled_patient), True),
        ]
        if balance.unbilled_scheme:
            rows.append(("Scheme covers", rs(balance.unbilled_scheme), False))
        rows.append(("Deposits and payments", rs(balance.received), False))
        if balance.refunded:
            rows.append(("Refunded", f"-{rs(balance.refunded)}", False))
        due = balance.running_due
        rows.append(
            (
                "Estimated balance to pay" if due >= 0 else "Estimated amount to return",
                rs(abs(due)),
                True,
            )
        )
        flow.totals(rows)
        received = [p for p in payments if p.number]
        if received:
            flow.line("Deposits, payments and refunds", bold=True)
            for p in received:
                flow.line(_payment_line(p), size=8.5, indent=4 * mm)
        flow.line(size=4)
        flow.line(
            "Estimate only: bed charges are added for each midnight, and the final bill is "
            "made at discharge, with the deposits adjusted against it.",
            size=7.5,
        )

    return pdf.render(
        title=f"Interim bill {number}",
        printed_by=printed_by,
        verify_url=verify_url,
        pagesize=A4,
        draw_body=body,
        margin=MARGIN,
    )


# -- the receipt or refund voucher -----------------------------------------------------

RECEIPT_MARGIN = 10 * mm
RECEIPT_TITLES = {
    PaymentKind.PAYMENT: "RECEIPT",
    PaymentKind.DEPOSIT: "ADVANCE DEPOSIT RECEIPT",
    PaymentKind.SETTLEMENT: "SCHEME SETTLEMENT RECEIPT",
    PaymentKind.REFUND: "REFUND VOUCHER",
}


def receipt_pdf(payment: Payment, *, printed_by: str, verify_url: str = "") -> bytes:
    """One A5 page: the serial number, when, where, who, how and how much."""
    if payment.number is None:
        raise ValueError("A refund awaiting approval has no voucher.")
    account = payment.account
    patient = account.patient
    refund = payment.kind == PaymentKind.REFUND
    title = RECEIPT_TITLES[PaymentKind(payment.kind)]
    width, _ = A5
    reference_label = {
        PaymentMode.UPI: "UPI UTR",
        PaymentMode.CARD: "Card approval",
        PaymentMode.SCHEME: "Claim number",
    }.get(PaymentMode(payment.mode), "Reference")
    facts = [
        ("Number", payment.number),
        ("Date", _local(payment.paid_at)),
        ("Patient", patient.name),
        ("UHID", patient.uhid_display),
        (
            "Account",
            account.number + (f" · IP {account.admission.number}" if account.admission_id else ""),
        ),
        ("Bill", payment.bill.number if payment.bill_id else "—"),
        ("For", payment.get_kind_display()),
        ("Mode", payment.get_mode_display()),
        (reference_label, payment.reference or "—"),
        ("Counter", f"{payment.counter.name} ({payment.counter.code})"),
        ("Cashier", _who(payment.requested_by)),
    ]
    if payment.decided_by_id:
        facts.append(("Approved by", f"{_who(payment.decided_by)} at {_local(payment.decided_at)}"))
    if payment.reason:
        facts.append(("Reason", payment.reason))

    def body(c, top: float) -> None:
        left = RECEIPT_MARGIN
        c.setFont(pdf.FONT_BOLD, 14)
        c.drawString(left, top - 4 * mm, title)
        _barcode(c, payment.number, right=width - left, y=top - 16 * mm, height=8 * mm)
        y = top - 24 * mm
        for label, value in facts:
            c.setFont(pdf.FONT, 9)
            c.drawString(left, y, label)
            font = pdf.FONT_BOLD if label == "Number" else pdf.FONT
            c.setFont(font, 9.5)
            pieces = simpleSplit(value, font, 9.5, width - 2 * left - 32 * mm) or [""]
            for piece in pieces:
                c.drawString(left + 32 * mm, y, piece)
                y -= 4.4 * mm
            y -= 1.6 * mm
        y -= 2 * mm
        c.setLineWidth(0.6)
        c.line(left, y + 4 * mm, width - left, y + 4 * mm)
        label = "Amount paid back" if refund else "Amount received"
        c.setFont(pdf.FONT, 10)
        c.drawString(left, y - 2 * mm, label)
        c.setFont(pdf.FONT_BOLD, 16)
        c.drawRightString(width - left, y - 3 * mm, rs(payment.amount))
        y -= 10 * mm
        words = amount_in_words(payment.amount)
        c.setFont(pdf.FONT, 9)
        for piece in simpleSplit(words, pdf.FONT, 9, width - 2 * left):
            c.drawString(left, y, piece)
            y -= 4.6 * mm
        y -= 8 * mm
        c.setFont(pdf.FONT, 8)
        sign = "Receiver's signature" if refund else "Cashier's signature"
        c.drawRightString(width - left, y, sign)
        c.line(width - left - stringWidth(sign, pdf.FONT, 8), y + 4 * mm, width - left, y + 4 * mm)
        y -= 8 * mm
        c.setFont(pdf.FONT, 7)
        c.drawString(
            left,
            y,
            "Receipt numbers run without gaps per counter per year; keep this paper for any "
            "refund.",
        )

    return pdf.render(
        title=f"{'Refund voucher' if refund else 'Receipt'} {payment.number}",
        printed_by=printed_by,
        verify_url=verify_url,
        pagesize=A5,
        draw_body=body,
        margin=RECEIPT_MARGIN,
    )
