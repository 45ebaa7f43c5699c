"""Downtime kits: blocks of real numbers reserved so the live system never issues them,
found again from any number typed, voided with a reason, reconciled."""

from __future__ import annotations

import pytest

from ajeya.core import identifiers
from ajeya.core.errors import Conflict, NotFound, PermissionRefused, ValidationFailed
from ajeya.core.roles import Role
from ajeya.downtime import numbers, selectors, services
from ajeya.downtime.models import Kit, NumberKind
from ajeya.ledger.models import LedgerEntry
from tests.appointments import factories as schedule
from tests.ipd.factories import assert_sealed
from tests.lab import factories as lab
from tests.patients.factories import PatientFactory


@pytest.fixture
def admin(make_user):
    return make_user(Role.HOSPITAL_ADMIN, username="admin-kits", full_name="Kit Admin")


@pytest.fixture
def kit(db, admin):
    schedule.department("MED")
    PatientFactory()  # the live system has issued a UHID already
    return services.kit_create(actor=admin, department="med", uhids=3, accessions=4, receipts=2)


def test_a_kit_reserves_each_block_past_the_live_counters(kit):
    uhids = numbers.numbers(kit, NumberKind.UHID)
    accessions = numbers.numbers(kit, NumberKind.ACCESSION)
    receipts = numbers.numbers(kit, NumberKind.RECEIPT)
    assert len(uhids) == 3
    assert all(identifiers.is_valid_uhid(u) for u in uhids)
    assert len(set(accessions)) == 4
    assert receipts == [f"R/DT-MED/{kit.receipt_year}/00000{n}" for n in (1, 2)]
    # The next patient registered and the next sample ordered come after the blocks.
    after = PatientFactory()
    assert after.uhid not in uhids
    assert int(after.uhid[3:-1]) == kit.uhid_first + 3
    lab.load_catalogue()
    (sample,) = lab.walk_in(("CBC",)).samples.all()
    assert int(sample.accession[2:-1]) == kit.accession_first + 4
    assert_sealed(kit)
    entry = LedgerEntry.objects.filter(subject_type="downtime.kit").get()
    assert entry.subject_id == kit.number


def test_every_number_finds_its_kit_and_others_none(kit):
    for kind in NumberKind.values:
        for value in numbers.numbers(kit, kind):
            assert numbers.kit_of(kind, value) == kit
    outside = identifiers.make_uhid(kit.uhid_first + 3)
    assert numbers.kit_of(NumberKind.UHID, outside) is None
    assert numbers.kit_of(NumberKind.RECEIPT, f"R/DT-MED/{kit.receipt_year}/000003") is None
    assert numbers.kit_of(NumberKind.RECEIPT, f"R/OPD-1/{kit.receipt_year}/000001") is None


def test_typed_numbers_are_checked_before_any_lookup(db):
    with pytest.raises(ValidationFailed, match="is not a UHID"):
        numbers.normalise(NumberKind.UHID, "100 0000 0001 1")  # wrong check digit
    with pytest.raises(ValidationFailed, match="fails its check digit"):
        numbers.normalise(NumberKind.ACCESSION, "2600000010")
    with pytest.raises(ValidationFailed, match="not a receipt number"):
        numbers.normalise(NumberKind.RECEIPT, "R-12")
    assert numbers.normalise(NumberKind.RECEIPT, " r/dt-med/2026-27/000001 ") == (
        "R/DT-MED/2026-27/000001"
    )


def test_bad_kits_are_refused_and_reserve_nothing(db, admin, make_user):
    schedule.department("MED")
    with pytest.raises(NotFound, match="No active department with code 'XYZ'"):
        services.kit_create(actor=admin, department="XYZ", uhids=5)
    with pytest.raises(ValidationFailed, match="at least one"):
        services.kit_create(actor=admin, department="MED")
    with pytest.raises(ValidationFailed, match="Between 0 and 5000"):
        services.kit_create(actor=admin, department="MED", accessions=5001)
    with pytest.raises(PermissionRefused):
        services.kit_create(actor=make_user(Role.NURSE), department="MED", uhids=5)
    assert Kit.objects.count() == 0
    assert PatientFactory().uhid == identifiers.make_uhid(1)


def test_a_spoiled_form_is_voided_once_with_its_reason(kit, admin, make_user):
    uhid = numbers.numbers(kit, NumberKind.UHID)[1]
    void = services.number_void(actor=admin, kind=NumberKind.UHID, value=uhid, reason="torn")
    assert_sealed(void)
    with pytest.raises(Conflict, match=r"was voided on .* by Kit Admin: torn"):
        services.number_void(actor=admin, kind=NumberKind.UHID, value=uhid, reason="again")
    with pytest.raises(ValidationFailed, match="Say why"):
        services.number_void(actor=admin, kind=NumberKind.UHID, value=uhid, reason="  ")
    stranger = identifiers.make_uhid(kit.uhid_first + 50)
    with pytest.raises(ValidationFailed, match="not in any downtime kit"):
        services.number_void(actor=admin, kind=NumberKind.UHID, value=stranger, reason="x")
    with pytest.raises(PermissionRefused):
        services.number_void(actor=make_user(Role.NURSE), kind=NumberKind.UHID,
                             value=uhid, reason="x")  # fmt: skip
    (tally, *_) = selectors.reconciliation(kit)
    assert (tally.kind, list(tally.voided), len(tally.unused)) == ("uhid", [uhid], 2)


def test_the_ranges_read_as_staff_say_them(kit):
    lines = selectors.kit_ranges(kit)
    assert lines[0].startswith("UHIDs: 3, ")
    assert identifiers.format_uhid(numbers.numbers(kit, NumberKind.UHID)[0]) in lines[0]
    assert lines[2] == (
        f"Receipt numbers: 2, R/DT-MED/{kit.receipt_year}/000001 to "
        f"R/DT-MED/{kit.receipt_year}/000002"
    )
