"""Billing's numbers: accounts, bills, and receipts that never repeat or skip.

Each number is allocated inside the transaction that saves its row
(`core.identifiers.allocate`, a row lock on PostgreSQL), so a rolled-back payment gives
its number back and two cashiers never share one: receipts are gapless per counter per
financial year (April to March, the year Indian accounts are kept in).
"""

from __future__ import annotations

import datetime as dt

from ajeya.core import clock, identifiers


def financial_year(day: dt.date) -> str:
    """ "2026-27" for any day from 1 April 2026 to 31 March 2027."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def account_number() -> str:
    return f"AC{identifiers.allocate('billing-account'):08d}"


def bill_number(when: dt.datetime | None = None) -> str:
    fy = financial_year(clock.local(when or clock.now()).date())
    return f"B/{fy}/{identifiers.allocate(f'bill:{fy}'):07d}"


def receipt_number(counter, *, refund: bool = False, when: dt.datetime | None = None) -> str:
    """R/<counter>/<year>/000001 for money in; RF/... for refund vouchers (their own series)."""
    fy = financial_year(clock.local(when or clock.now()).date())
    prefix = "RF" if refund else "R"
    serial = identifiers.allocate(f"{prefix.lower()}:{counter.code}:{fy}")
    return f"{prefix}/{counter.code}/{fy}/{serial:06d}"
