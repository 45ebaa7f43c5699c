import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from ajeya.core import identifiers
from ajeya.core.identifiers import (
    allocate,
    format_uhid,
    is_valid_uhid,
    make_uhid,
    verhoeff_check_digit,
    verhoeff_valid,
)

digits = st.text(alphabet="0123456789", min_size=1, max_size=30)


@given(digits)
def test_a_number_with_its_check_digit_is_valid(body):
    assert verhoeff_valid(body + verhoeff_check_digit(body))


@given(digits, st.data())
def test_any_single_digit_mistake_is_caught(body, data):
    number = body + verhoeff_check_digit(body)
    position = data.draw(st.integers(0, len(number) - 1))
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    mistyped = number[:position] + wrong + number[position + 1 :]
    assert not verhoeff_valid(mistyped)


@given(st.text(alphabet="0123456789", min_size=2, max_size=30), st.data())
def test_any_swap_of_adjacent_digits_is_caught(body, data):
    number = body + verhoeff_check_digit(body)
    i = data.draw(st.integers(0, len(number) - 2))
    if number[i] == number[i + 1]:
        return  # swapping equal digits changes nothing
    swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
    assert not verhoeff_valid(swapped)


def test_known_verhoeff_value():
    # The worked example from the scheme's literature: 236 → check digit 3.
    assert verhoeff_check_digit("236") == "3"
    assert verhoeff_valid("2363")
    assert not verhoeff_valid("2364")


@given(st.integers(1, 10**identifiers.UHID_SERIAL_DIGITS - 1))
def test_uhids_are_twelve_valid_digits(serial):
    uhid = make_uhid(serial, "100")
    assert len(uhid) == 12
    assert uhid.startswith("100")
    assert is_valid_uhid(uhid)
    assert is_valid_uhid(format_uhid(uhid))


@pytest.mark.parametrize("serial", [0, -1, 10**identifiers.UHID_SERIAL_DIGITS])
def test_out_of_range_serials_are_refused(serial):
    with pytest.raises(ValueError, match="out of range"):
        make_uhid(serial, "100")


def test_non_digits_are_refused():
    with pytest.raises(ValueError, match="digits"):
        verhoeff_check_digit("12a")
    assert not verhoeff_valid("12a4")
    assert not is_valid_uhid("100 0000 0001")


@pytest.mark.django_db
def test_allocate_hands_out_consecutive_blocks():
    with transaction.atomic():
        first = allocate("test-seq")
        block = allocate("test-seq", 10)
        after = allocate("test-seq")
    assert block == first + 1
    assert after == block + 10


@pytest.mark.django_db
def test_a_rolled_back_allocation_gives_its_number_back():
    with transaction.atomic():
        first = allocate("test-seq")

    def failing_registration():
        with transaction.atomic():
            allocate("test-seq")
            raise RuntimeError("registration failed")

    with pytest.raises(RuntimeError):
        failing_registration()
    with transaction.atomic():
        assert allocate("test-seq") == first + 1


@pytest.mark.django_db(transaction=True)
def test_allocate_outside_a_transaction_is_a_bug():
    with pytest.raises(RuntimeError, match=r"transaction\.atomic"):
        allocate("test-seq")
