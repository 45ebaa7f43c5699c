"""Ward forms. They parse what staff type; the services decide and write."""

from __future__ import annotations

from django import forms

from ajeya.accounts.models import User
from ajeya.appointments.models import Clinic
from ajeya.core.models import Department
from ajeya.core.roles import Role
from ajeya.ipd.models import (
    AdmissionSource,
    Bed,
    BedCategory,
    BedStatus,
    DischargeType,
    DoseOutcome,
    FluidDirection,
    FluidRoute,
    MannerOfDeath,
    Ward,
)
from ajeya.ipd.selectors import beds_allocatable
from ajeya.ipd.services import OBSERVATION_FIELDS
from ajeya.opd.forms import VitalsForm
from ajeya.opd.models import Frequency, Route

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _doctor_field(**kwargs) -> forms.ModelChoiceField:
    field = forms.ModelChoiceField(
        User.objects.filter(role=Role.DOCTOR, is_active=True).order_by("full_name"), **kwargs
    )
    field.label_from_instance = lambda u: u.full_name or u.username
    return field


def _free_beds() -> list[tuple[str, str]]:
    return [("", "---------")] + [
        (
            str(b.pk),
            f"{b.label} · {b.ward.code} · {b.get_category_display()}"
            + (" (reserved)" if b.status == BedStatus.RESERVED else ""),
        )
        for b in beds_allocatable()
    ]


class AdmitForm(forms.Form):
    uhid = forms.CharField(label="Patient UHID", max_length=20)
    source = forms.ChoiceField(choices=AdmissionSource.choices, initial=AdmissionSource.EMERGENCY)
    unit = forms.ModelChoiceField(Clinic.objects.filter(is_active=True), label="Unit")
    attending_doctor = _doctor_field()
    provisional_icd10 = forms.CharField(label="Provisional diagnosis (ICD-10)", max_length=250)
    # Any bed validates, so a bed taken since the page was drawn reaches the service and
    # its message ("Bed MW-3 is occupied: choose a free bed"); only free ones are offered.
    bed = forms.ModelChoiceField(Bed.objects.all(), label="Bed")
    consultation = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attending_doctor"] = _doctor_field()
        self.fields["bed"].choices = _free_beds()


class TransferForm(forms.Form):
    to_bed = forms.ModelChoiceField(Bed.objects.all(), label="To bed")
    unit = forms.ModelChoiceField(Clinic.objects.filter(is_active=True), required=False)
    attending_doctor = forms.ModelChoiceField(User.objects.none(), required=False)
    reason = forms.CharField(max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attending_doctor"] = _doctor_field(required=False)
        self.fields["to_bed"].choices = _free_beds()


class ObservationForm(VitalsForm):
    """The OPD vitals form, without weight and height (charted on admission)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in list(self.fields):
            if name not in OBSERVATION_FIELDS:
                del self.fields[name]


class FluidForm(forms.Form):
    direction = forms.ChoiceField(choices=FluidDirection.choices)
    route = forms.ChoiceField(choices=FluidRoute.choices)
    volume_ml = forms.IntegerField(label="Volume (ml)")
    note = forms.CharField(max_length=200, required=False)


class NoteForm(forms.Form):
    text = forms.CharField(label="Nursing note", widget=forms.Textarea(attrs={"rows": 2}))


class MedicationForm(forms.Form):
    drug = forms.CharField(max_length=120)
    dose = forms.CharField(max_length=40)
    route = forms.ChoiceField(choices=Route.choices)
    frequency = forms.ChoiceField(choices=Frequency.choices)
    instructions = forms.CharField(max_length=200, required=False)


class StopForm(forms.Form):
    reason = forms.CharField(
        max_length=200, error_messages={"required": "Say why the drug is stopped."}
    )


class DoseForm(forms.Form):
    outcome = forms.ChoiceField(choices=DoseOutcome.choices)
    note = forms.CharField(max_length=200, required=False)


class DischargeForm(forms.Form):
    kind = forms.ChoiceField(choices=DischargeType.choices, label="Discharge type")
    discharged_at = forms.DateTimeField(widget=DATETIME, required=False, help_text="Empty: now")
    diagnosis_1 = forms.CharField(label="Final diagnosis (ICD-10)", max_length=250)
    diagnosis_2 = forms.CharField(label="Other diagnosis", max_length=250, required=False)
    diagnosis_3 = forms.CharField(label="Other diagnosis", max_length=250, required=False)
    procedures = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    course = forms.CharField(label="Course in hospital", widget=forms.Textarea(attrs={"rows": 4}))
    investigations = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    condition = forms.CharField(label="Condition at discharge", max_length=200)
    medications = forms.CharField(
        label="Medications on discharge", widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    follow_up = forms.CharField(max_length=200, required=False)
    referred_to = forms.CharField(max_length=200, required=False)
    death_at = forms.DateTimeField(widget=DATETIME, required=False, label="Date and time of death")
    cause_immediate = forms.CharField(max_length=250, required=False, label="Immediate cause")
    cause_antecedent = forms.CharField(max_length=250, required=False, label="Antecedent cause")
    cause_underlying_icd10 = forms.CharField(
        max_length=250, required=False, label="Underlying cause (ICD-10)"
    )
    manner_of_death = forms.ChoiceField(choices=[("", "—"), *MannerOfDeath.choices], required=False)
    medico_legal = forms.BooleanField(required=False, label="Medico-legal case")

    def codes(self) -> list[str]:
        return [
            v.split()[0]
            for n in (1, 2, 3)
            if (v := (self.cleaned_data.get(f"diagnosis_{n}") or "").strip())
        ]

    def texts(self) -> dict[str, str]:
        names = (
            "procedures",
            "course",
            "investigations",
            "condition",
            "medications",
            "follow_up",
            "referred_to",
            "cause_immediate",
            "cause_antecedent",
            "manner_of_death",
        )
        return {n: self.cleaned_data.get(n) or "" for n in names}


class BedStatusForm(forms.Form):
    status = forms.ChoiceField(choices=BedStatus.choices)
    note = forms.CharField(max_length=200, required=False)


class CensusForm(forms.Form):
    first = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), required=False)
    last = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), required=False)


class WardForm(forms.Form):
    code = forms.CharField(max_length=16, help_text="Short code, e.g. MW")
    name = forms.CharField(max_length=100)
    department = forms.ModelChoiceField(Department.objects.filter(kind="clinical"))
    floor = forms.CharField(max_length=40, required=False)


class BedsForm(forms.Form):
    """A room and its beds in one go: room 7 of MW with 4 general beds MW-25 to MW-28."""

    ward = forms.ModelChoiceField(Ward.objects.filter(is_active=True))
    room = forms.CharField(max_length=16, label="Room number")
    isolation = forms.BooleanField(required=False, label="Isolation room")
    category = forms.ChoiceField(choices=BedCategory.choices)
    beds = forms.IntegerField(min_value=1, max_value=40, initial=4, label="Number of beds")
    first_number = forms.IntegerField(min_value=1, initial=1, label="First bed number")
