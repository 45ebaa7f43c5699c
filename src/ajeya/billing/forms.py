"""Counter forms. They only parse what the cashier typed: amounts, quantities and codes
go to the services as typed, so the services' own messages ("more than the ₹10.00 due",
"more than two decimal places") are what the cashier reads."""

from __future__ import annotations

from django import forms

from ajeya.billing.models import Counter, PaymentKind, PaymentMode

MONEY_INPUT = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
COUNTER_SESSION_KEY = "billing_counter"
DRAWER_MODES = [
    (PaymentMode.CASH.value, PaymentMode.CASH.label),
    (PaymentMode.CARD.value, PaymentMode.CARD.label),
    (PaymentMode.UPI.value, PaymentMode.UPI.label),
]


class FindForm(forms.Form):
    q = forms.CharField(
        label="UHID, IP number or name",
        max_length=100,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
    )


def _reason(label: str = "Reason") -> forms.CharField:
    # Required-ness is the service's rule (core.validation.require_reason): its message.
    return forms.CharField(label=label, max_length=200, required=False)


class _CounterForm(forms.Form):
    """A form that moves money: at which counter (remembered in the session). The
    service checks the counter is open; the list offers the open ones, read once."""

    counter = forms.ChoiceField(
        choices=[],
        error_messages={"required": "Choose your counter.", "invalid_choice": "No such counter."},
    )

    def __init__(self, *args, session=None, counters=None, **kwargs):
        super().__init__(*args, **kwargs)
        if counters is None:
            counters = Counter.objects.filter(is_active=True).order_by("code")
        self.fields["counter"].choices = [(c.code, str(c)) for c in counters]
        if session is not None and session.get(COUNTER_SESSION_KEY):
            self.initial.setdefault("counter", session[COUNTER_SESSION_KEY])


class PaymentForm(_CounterForm):
    amount = forms.CharField(label="Amount (₹)", max_length=20, widget=MONEY_INPUT)
    mode = forms.ChoiceField(choices=DRAWER_MODES, initial=PaymentMode.CASH)
    reference = forms.CharField(
        label="Reference",
        max_length=40,
        required=False,
        help_text="UPI: the 12-digit UTR; card: the approval code",
    )
    kind = forms.ChoiceField(
        choices=[
            (PaymentKind.PAYMENT.value, "Payment of bills"),
            (PaymentKind.DEPOSIT.value, "Advance deposit"),
        ],
        initial=PaymentKind.PAYMENT,
    )

    def __init__(self, *args, kinds=None, **kwargs):
        super().__init__(*args, **kwargs)
        if kinds is not None:
            self.fields["kind"].choices = kinds
        if any(value == PaymentKind.SETTLEMENT for value, _ in self.fields["kind"].choices):
            self.fields["mode"].choices = [*DRAWER_MODES, (PaymentMode.SCHEME, "Scheme")]


class RefundForm(_CounterForm):
    amount = forms.CharField(label="Refund (₹)", max_length=20, widget=MONEY_INPUT)
    mode = forms.ChoiceField(choices=DRAWER_MODES, initial=PaymentMode.CASH)
    reference = forms.CharField(label="Reference", max_length=40, required=False)
    reason = _reason()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "refund")
        super().__init__(*args, **kwargs)


class ChargeForm(forms.Form):
    code = forms.CharField(
        label="Tariff code",
        max_length=20,
        widget=forms.TextInput(attrs={"list": "tariff-codes", "autocomplete": "off"}),
    )
    quantity = forms.CharField(label="Quantity", max_length=10, initial="1")
    note = forms.CharField(label="Note", max_length=100, required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "charge")
        super().__init__(*args, **kwargs)


class ConfirmForm(forms.Form):
    """A button with nothing to fill in (make the bill)."""


class ReasonForm(forms.Form):
    reason = _reason()


class DiscountForm(forms.Form):
    amount = forms.CharField(label="Discount (₹)", max_length=20, widget=MONEY_INPUT)
    reason = _reason()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "discount")
        super().__init__(*args, **kwargs)


class CancelForm(ReasonForm):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "cancel")
        super().__init__(*args, **kwargs)


class PackageForm(forms.Form):
    code = forms.CharField(
        label="Package code",
        max_length=20,
        widget=forms.TextInput(attrs={"list": "package-codes", "autocomplete": "off"}),
    )
    reason = _reason("Scheme pre-authorisation number")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "package")
        super().__init__(*args, **kwargs)
