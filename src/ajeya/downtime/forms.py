"""Kit, void and back-entry forms. They validate what was typed; the services decide."""

from __future__ import annotations

from django import forms

from ajeya.billing.models import PaymentMode
from ajeya.core.models import Department
from ajeya.downtime.models import NumberKind
from ajeya.downtime.services import MAX_PER_KIND
from ajeya.lab.models import Priority
from ajeya.patients.forms import PatientForm

WHEN = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class KitForm(forms.Form):
    department = forms.ModelChoiceField(
        Department.objects.filter(is_active=True), to_field_name="code"
    )
    uhids = forms.IntegerField(label="UHIDs", min_value=0, max_value=MAX_PER_KIND, initial=200)
    accessions = forms.IntegerField(label="Accession numbers", min_value=0,
                                    max_value=MAX_PER_KIND, initial=500)  # fmt: skip
    receipts = forms.IntegerField(label="Receipt numbers", min_value=0, max_value=MAX_PER_KIND,
                                  initial=300)  # fmt: skip


class VoidForm(forms.Form):
    kind = forms.ChoiceField(choices=NumberKind.choices)
    value = forms.CharField(label="Number", max_length=40)
    reason = forms.CharField(max_length=200, help_text="e.g. 'form torn', 'page lost'")


class PaperForm(forms.Form):
    """What every back-entry names: the form and when it was written."""

    form_number = forms.CharField(label="Form number", max_length=30)
    written_at = forms.DateTimeField(label="Written on paper at (IST)", widget=WHEN)


class RegisterBackEntryForm(PatientForm):
    uhid = forms.CharField(label="UHID printed on the form", max_length=20)
    form_number = PaperForm.base_fields["form_number"]
    written_at = PaperForm.base_fields["written_at"]

    field_order = ["uhid", "form_number", "written_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.pop("autofocus", None)
        self.fields["uhid"].widget.attrs.update({"autofocus": True, "autocomplete": "off"})


class SampleBackEntryForm(PaperForm):
    accession = forms.CharField(label="Accession label on the tube", max_length=20)
    uhid = forms.CharField(label="Patient's UHID", max_length=20)
    tests = forms.CharField(label="Tests (comma-separated, as on the requisition)",
                            max_length=300)  # fmt: skip
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.ROUTINE)
    doctor_name = forms.CharField(label="Requesting doctor (as on the form)", max_length=100)
    clinical_notes = forms.CharField(max_length=300, required=False)

    field_order = ["accession", "form_number", "written_at", "uhid", "tests"]

    def test_names(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["tests"].split(",") if t.strip()]


class ReceiptBackEntryForm(PaperForm):
    receipt = forms.CharField(label="Receipt number printed on the form", max_length=30)
    uhid = forms.CharField(label="Patient's UHID", max_length=20)
    amount = forms.DecimalField(label="Amount (₹)", max_digits=12, decimal_places=2,
                                min_value=0)  # fmt: skip
    mode = forms.ChoiceField(choices=[c for c in PaymentMode.choices if c[0] != "scheme"])
    reference = forms.CharField(required=False, max_length=40,
                                help_text="UPI UTR or card approval code")  # fmt: skip
    purpose = forms.CharField(max_length=120, help_text="e.g. 'registration fee', 'CBC'")

    field_order = ["receipt", "form_number", "written_at", "uhid", "amount"]
