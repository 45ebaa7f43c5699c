"""Laboratory forms. They parse what staff type or scan; the services decide and write."""

from __future__ import annotations

from django import forms

from ajeya.lab.models import Priority, RejectionReason, ResultType

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class FindPatientForm(forms.Form):
    uhid = forms.CharField(
        label="Patient UHID",
        max_length=20,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
    )


class _AnyPanel(forms.MultipleChoiceField):
    # Any code validates here, so a panel withdrawn since the page was drawn reaches the
    # service and its message ("Unknown test …"); the page offers only the active ones.
    def valid_value(self, value) -> bool:
        return True


class OrderForm(forms.Form):
    """A doctor's order for an inpatient: tests, priority, a clinical note."""

    panels = _AnyPanel(label="Tests", error_messages={"required": "Choose at least one test."})
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.ROUTINE)
    clinical_notes = forms.CharField(
        label="Clinical notes", max_length=300, required=False, widget=forms.Textarea({"rows": 2})
    )

    @property
    def chosen(self) -> list[str]:
        """The codes ticked, for drawing the checkboxes again after an error."""
        return self.data.getlist("panels") if self.is_bound else []


class CounterOrderForm(OrderForm):
    """A walk-in order at the lab counter: as on the outside doctor's prescription."""

    uhid = forms.CharField(widget=forms.HiddenInput(attrs={"id": "id_order_uhid"}))
    referring_doctor = forms.CharField(label="Referring doctor", max_length=100, required=False)


class CollectForm(forms.Form):
    collected_at = forms.DateTimeField(
        label="Collected at", required=False, widget=DATETIME, help_text="Empty: now"
    )


class ScanForm(forms.Form):
    accession = forms.CharField(
        label="Scan the sample's barcode",
        max_length=40,
        error_messages={"required": "Scan or type the sample's accession number."},
    )


class RejectForm(forms.Form):
    accession = forms.CharField(label="Accession number", max_length=40)
    # No reason is preselected: a rejection says what the technician saw.
    reason = forms.ChoiceField(
        choices=[("", "—"), *RejectionReason.choices],
        error_messages={"required": "Choose why the sample is rejected."},
    )
    note = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        # Its own ids: the reception page also has the scan box's accession field.
        kwargs.setdefault("auto_id", "id_reject_%s")
        super().__init__(*args, **kwargs)


class ResultEntryForm(forms.Form):
    """One input per result that may still be entered, named r<result id> as the service
    names its errors: a number box, the test's list of choices, or free text."""

    def __init__(self, results, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = []
        for r in results:
            name = f"r{r.pk}"
            # The inputs sit in the results table and name their form, so each row can
            # also hold its own amend form (forms cannot nest).
            attrs = {"aria-label": r.test.name, "autocomplete": "off", "form": "entry-form"}
            if r.test.result_type == ResultType.CHOICE:
                field = forms.ChoiceField(
                    choices=[("", "—"), *((c, c) for c in r.options)],
                    required=False,
                    widget=forms.Select(attrs=attrs),
                )
            elif r.test.result_type == ResultType.NUMERIC:
                field = forms.CharField(
                    required=False,
                    max_length=40,
                    widget=forms.TextInput(attrs={**attrs, "inputmode": "decimal", "size": 8}),
                )
            else:
                field = forms.CharField(
                    required=False, max_length=200, widget=forms.TextInput(attrs=attrs)
                )
            field.label = r.test.name
            field.initial = r.value
            self.fields[name] = field
            self.rows.append(r.pk)

    def values(self) -> dict[int, str]:
        """What was typed, leaving out values that are already stored as they are."""
        return {
            int(name[1:]): value.strip()
            for name, value in self.cleaned_data.items()
            if value.strip() and value.strip() != (self.fields[name].initial or "")
        }


class AmendForm(forms.Form):
    value = forms.CharField(label="Corrected value", max_length=200)
    reason = forms.CharField(
        max_length=200, error_messages={"required": "Say why the result is amended."}
    )


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label="What was done",
        max_length=300,
        error_messages={"required": "Say what was done (e.g. 'repeat K+, started insulin')."},
    )


class MatchForm(forms.Form):
    accession = forms.CharField(label="Accession number", max_length=40)


class DismissForm(forms.Form):
    reason = forms.CharField(
        max_length=200, error_messages={"required": "Say why the message is set aside."}
    )
