"""Billing's printed papers: the bill, a stay's running (interim) bill, and the receipt
or refund voucher (layout in documents.py)."""

from __future__ import annotations

from django.views.decorators.cache import never_cache

from ajeya.billing import documents, selectors
from ajeya.billing.models import ApprovalStatus
from ajeya.billing.views import open_account
from ajeya.core import pdf
from ajeya.core.errors import NotFound
from ajeya.core.roles import Perm, permission_required
from ajeya.ipd import selectors as ipd_selectors
from ajeya.ledger import papers
from ajeya.ledger.access import seen
from ajeya.ledger.models import AccessKind


def _safe(number: str) -> str:
    return number.replace("/", "-")


@permission_required(Perm.BILLING_VIEW)
@never_cache
def bill_pdf(request, pk: int):
    target = selectors.bill_get(pk)
    data = selectors.bill_statement(target)
    seen(request, [target.account.patient.uhid], AccessKind.PRINTED)
    content = documents.bill_pdf(
        target,
        lines=data["lines"],
        payments=data["payments"],
        discounts=data["discounts"],
        figures=data["figures"],
        printed_by=pdf.printed_by(request),
        verify_url=papers.verify_url(request, target),
    )
    return pdf.response(content, f"bill-{_safe(target.number)}.pdf")


@permission_required(Perm.BILLING_VIEW)
@never_cache
def interim_pdf(request, number: str):
    """The running bill of a stay: charges so far (fresh bed-days posted first), the
    deposits, the estimated balance."""
    admission = ipd_selectors.admission_get(number)
    found = open_account(admission.patient, admission, actor=request.user)
    found.patient, found.admission = admission.patient, admission
    seen(request, [admission.patient.uhid], AccessKind.PRINTED)
    content = documents.interim_pdf(
        found,
        charges=list(selectors.unbilled(found)),
        payments=selectors.payments_in(found.payments.filter(status=ApprovalStatus.DONE)),
        balance=selectors.balance(found),
        printed_by=pdf.printed_by(request),
        verify_url=papers.verify_url(request, found),
    )
    return pdf.response(content, f"interim-{admission.number}.pdf")


@permission_required(Perm.BILLING_VIEW)
@never_cache
def receipt_pdf(request, pk: int):
    """A receipt, or a refund voucher; a refund awaiting approval has no number and no
    paper yet."""
    found = selectors.payment_get(pk)
    if found.number is None:
        raise NotFound("This refund is awaiting approval: it has no voucher yet.")
    seen(request, [found.account.patient.uhid], AccessKind.PRINTED)
    content = documents.receipt_pdf(
        found, printed_by=pdf.printed_by(request), verify_url=papers.verify_url(request, found)
    )
    return pdf.response(content, f"receipt-{_safe(found.number)}.pdf")
