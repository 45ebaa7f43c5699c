"""Back-office forms: the collection report's filters, the day-end close, decisions on
refunds and discounts, and tariff prices. They parse what staff type; amounts stay text
so the services (core.money) refuse bad ones with their own messages."""

from __future__ import annotations

from django import forms

from ajeya.billing.models import Counter, RateClass
from ajeya.billing.reports import open_counters

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
AMOUNT = {"inputmode": "decimal", "autocomplete": "off", "size": 12}


def _counter_choices(*, blank: str | None) -> list[tuple[str, str]]:
    """Open counters to close a day at; every counter, closed ones too, to report on."""
    if blank is None:
        return [(c.code, f"{c.name} ({c.code})") for c in open_counters()]
    every = Counter.objects.order_by("code")
    return [("", blank)] + [
        (c.code, f"{c.name} ({c.code}){'' if c.is_active else ' — closed'}") for c in every
    ]


class CollectionsForm(forms.Form):
    start = forms.DateField(label="From", required=False, widget=DATE)
    end = forms.DateField(label="To", required=False, widget=DATE)
    counter = forms.ChoiceField(label="Counter", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["counter"].choices = _counter_choices(blank="All counters")


class DayChoiceForm(forms.Form):
    """Which counter and day the cashier is closing (a GET form)."""

    counter = forms.ChoiceField(label="Counter")
    date = forms.DateField(label="Day", widget=DATE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["counter"].choices = _counter_choices(blank=None)


class DayCloseForm(forms.Form):
    counter = forms.CharField(widget=forms.HiddenInput)
    date = forms.DateField(widget=forms.HiddenInput)
    cash = forms.CharField(
        label="Cash counted", required=False, max_length=20, help_text="Empty: none",
        widget=forms.TextInput(attrs=AMOUNT),
    )  # fmt: skip
    card = forms.CharField(
        label="Card slips total", required=False, max_length=20, help_text="Empty: none",
        widget=forms.TextInput(attrs=AMOUNT),
    )  # fmt: skip
    upi = forms.CharField(
        label="UPI total", required=False, max_length=20, help_text="Empty: none",
        widget=forms.TextInput(attrs=AMOUNT),
    )  # fmt: skip
    note = forms.CharField(
        label="Note", required=False, max_length=300,
        widget=forms.Textarea({"rows": 2, "cols": 50}),
        help_text="Explain any difference (e.g. ₹20 short: change given from own pocket).",
    )  # fmt: skip

    def counted(self) -> dict[str, str]:
        return {mode: self.cleaned_data[mode] for mode in ("cash", "card", "upi")}


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    note = forms.CharField(required=False, max_length=200)


class TariffSearchForm(forms.Form):
    q = forms.CharField(
        label="Code or name",
        required=False,
        max_length=60,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "autofocus": True,
                "aria-label": "Tariff code or name",
                "placeholder": "Code or name, e.g. ECG or CBC",
            }
        ),
    )


class PriceForm(forms.Form):
    rate_class = forms.ChoiceField(label="Rate class", choices=RateClass.choices)
    amount = forms.CharField(label="Price (₹)", max_length=20, widget=forms.TextInput(attrs=AMOUNT))
    effective_from = forms.DateField(label="From", widget=DATE)
    effective_to = forms.DateField(
        label="To", required=False, widget=DATE, help_text="Empty: until the next revision"
    )
    scheme_share = forms.CharField(
        label="Scheme pays (%)",
        required=False,
        max_length=6,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 6}),
        help_text="Scheme rates only; empty: the usual share (100%)",
    )
