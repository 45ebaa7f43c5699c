"""Back-entry: paper registrations, lab requisitions and receipts entered against their
kit's numbers, each keeping where it came from; every wrong number refused by name."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ajeya.billing.models import Payment, PaymentKind
from ajeya.core import clock
from ajeya.core.errors import Conflict, PermissionRefused, ValidationFailed
from ajeya.core.roles import Role
from ajeya.downtime import numbers, selectors, services
from ajeya.downtime.models import BackEntry, NumberKind
from ajeya.lab import services as lab_services
from ajeya.lab.models import Sample, SampleStatus
from ajeya.ledger.models import LedgerEntry
from ajeya.patients.models import Patient
from tests.appointments import factories as schedule
from tests.billing import factories as billing
from tests.ipd.factories import assert_sealed
from tests.lab import factories as lab
from tests.patients.factories import PatientFactory, valid_details

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


@pytest.fixture
def kit(db, make_user, monday_morning):
    schedule.department("MED")
    admin = make_user(Role.HOSPITAL_ADMIN, username="admin-dt")
    return services.kit_create(actor=admin, department="MED", uhids=3, accessions=3, receipts=3)


@pytest.fixture
def on_paper(clock_at, kit):
    """The system is back two days later; the forms were written during the outage."""
    clock_at(2026, 12, 2, 9, 0)
    return dt.datetime(2026, 12, 1, 10, 32, tzinfo=IST)


def _number(kit, kind, n=0):
    return numbers.numbers(kit, kind)[n]


def test_a_paper_registration_gets_its_uhid_time_and_provenance(kit, on_paper, clerk):
    uhid = _number(kit, NumberKind.UHID)
    entry = services.backentry_register(
        actor=clerk, uhid=uhid, form_number="17", written_at=on_paper,
        details=valid_details(name="Paper Patient"),
    )  # fmt: skip
    patient = Patient.objects.get(uhid=uhid)
    assert (patient.name, patient.registered_at) == ("Paper Patient", on_paper)
    assert (entry.kit, entry.form_number, entry.written_at, entry.entered_by) == (
        kit, "17", on_paper, clerk
    )  # fmt: skip
    assert (entry.subject_type, entry.subject_id) == ("patients.patient", uhid)
    created = LedgerEntry.objects.get(subject_type="patients.patient", subject_id=uhid)
    assert created.reason == (
        f"back-entry: downtime kit {kit.number}, form 17, written 01-12-2026 10:32 IST"
    )
    assert created.recorded_at == clock.now()  # when it was typed in, beside the paper time
    assert_sealed(entry)
    assert_sealed(patient)
    (tally, *_) = selectors.reconciliation(kit)
    assert list(tally.used) == [uhid]


def test_numbers_outside_kits_used_or_voided_are_refused_and_nothing_is_written(
    kit, on_paper, clerk, make_user
):
    admin = make_user(Role.HOSPITAL_ADMIN, username="admin-void")
    first, second = _number(kit, NumberKind.UHID), _number(kit, NumberKind.UHID, 1)
    services.backentry_register(actor=clerk, uhid=first, form_number="1", written_at=on_paper,
                                details=valid_details())  # fmt: skip
    services.number_void(actor=admin, kind=NumberKind.UHID, value=second, reason="form torn")
    live = PatientFactory()  # issued by the live system: in no kit
    before = (Patient.objects.count(), BackEntry.objects.count(), LedgerEntry.objects.count())
    cases = [
        (first, Conflict, r"already entered \(form 1, on 02-12-2026 09:00 by Sunita Verma\)"),
        (second, Conflict, "was voided on .* form torn"),
        (live.uhid, ValidationFailed, "is not in any downtime kit"),
        ("12345", ValidationFailed, "is not a UHID"),
    ]
    for uhid, error, message in cases:
        with pytest.raises(error, match=message):
            services.backentry_register(actor=clerk, uhid=uhid, form_number="2",
                                        written_at=on_paper, details=valid_details())  # fmt: skip
    after = (Patient.objects.count(), BackEntry.objects.count(), LedgerEntry.objects.count())
    assert after == before


def test_the_time_on_paper_must_fit_the_kit_and_the_clock(kit, on_paper, clerk):
    uhid = _number(kit, NumberKind.UHID, 2)
    for when, message in [
        (clock.now() + dt.timedelta(hours=1), "cannot be in the future"),
        (kit.made_at - dt.timedelta(days=1), "cannot be older"),
        (None, "When it was written"),
    ]:
        with pytest.raises(ValidationFailed, match=message):
            services.backentry_register(actor=clerk, uhid=uhid, form_number="3", written_at=when,
                                        details=valid_details())  # fmt: skip
    with pytest.raises(ValidationFailed, match="form's own number"):
        services.backentry_register(actor=clerk, uhid=uhid, form_number=" ", written_at=on_paper,
                                    details=valid_details())  # fmt: skip
    with pytest.raises(PermissionRefused):
        services.backentry_register(actor=lab.technician(), uhid=uhid, form_number="3",
                                    written_at=on_paper, details=valid_details())  # fmt: skip
    assert not Patient.objects.filter(uhid=uhid).exists()


def test_a_paper_requisition_becomes_an_order_under_its_tube_label(kit, on_paper):
    lab.load_catalogue()
    patient = PatientFactory()
    accession = _number(kit, NumberKind.ACCESSION)
    technician = lab.technician()
    entry = services.backentry_sample(
        actor=technician, accession=accession, form_number="L-4", written_at=on_paper,
        patient=patient, tests=["CBC"], priority="urgent", doctor_name="Dr. Paper",
    )  # fmt: skip
    sample = Sample.objects.get(accession=accession)
    assert (entry.subject_type, entry.subject_id) == ("lab.sample", accession)
    assert (sample.status, sample.collected_at) == (SampleStatus.COLLECTED, on_paper)
    assert (sample.order.ordered_at, sample.order.priority) == (on_paper, "urgent")
    assert sample.order.referring_doctor == "Dr. Paper"
    # The lab carries on as usual: receipt by scanning the label, then results.
    lab_services.sample_receive(actor=technician, accession=accession)
    with pytest.raises(ValidationFailed, match="different tubes"):
        services.backentry_sample(
            actor=technician, accession=_number(kit, NumberKind.ACCESSION, 1),
            form_number="L-5", written_at=on_paper, patient=patient, tests=["CBC", "KFT"],
            priority="routine", doctor_name="Dr. Paper",
        )  # fmt: skip
    with pytest.raises(Conflict, match="already entered"):
        services.backentry_sample(
            actor=technician, accession=accession, form_number="L-6", written_at=on_paper,
            patient=patient, tests=["KFT"], priority="routine", doctor_name="Dr. Paper",
        )  # fmt: skip


def test_a_paper_receipt_is_a_deposit_under_its_printed_number(kit, on_paper):
    billing.load_tariff()
    cashier = billing.cashier()
    patient = PatientFactory()
    receipt = _number(kit, NumberKind.RECEIPT)
    entry = services.backentry_receipt(
        actor=cashier, receipt=receipt.lower(), form_number="R-9", written_at=on_paper,
        patient=patient, amount="250.00", mode="cash", purpose="registration fee",
    )  # fmt: skip
    payment = Payment.objects.get(number=receipt)
    assert (payment.kind, payment.amount, payment.paid_at) == (
        PaymentKind.DEPOSIT, Decimal("250.00"), on_paper
    )  # fmt: skip
    assert payment.counter.code == "DT-MED"
    assert "registration fee" in payment.reason
    assert entry.subject_type == "billing.payment"
    with pytest.raises(ValidationFailed, match="What the money was for"):
        services.backentry_receipt(
            actor=cashier, receipt=_number(kit, NumberKind.RECEIPT, 1), form_number="R-10",
            written_at=on_paper, patient=patient, amount="10", mode="cash", purpose="",
        )  # fmt: skip
    with pytest.raises(ValidationFailed, match="not in any downtime kit"):
        services.backentry_receipt(
            actor=cashier, receipt=receipt.replace("000001", "000099"), form_number="R-11",
            written_at=on_paper, patient=patient, amount="10", mode="cash", purpose="fee",
        )  # fmt: skip
