"""The canonical form: equal states hash equal, any change to any field changes the hash."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ajeya.ledger.canonical import canonical_bytes, state_hash

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
scalars = st.none() | st.booleans() | INT64 | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
states = st.dictionaries(st.text(max_size=8), json_values, max_size=8)


@given(states)
def test_equal_states_hash_equal_whatever_the_key_order(state):
    reordered = dict(reversed(list(state.items())))
    assert canonical_bytes(state) == canonical_bytes(reordered)
    assert state_hash(state) == state_hash(json.loads(json.dumps(state)))


@given(states)
def test_the_form_is_sorted_compact_utf8_json(state):
    expected = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_bytes(state) == expected.encode("utf-8")


@given(states.filter(bool), st.data())
def test_changing_any_field_changes_the_hash(state, data):
    key = data.draw(st.sampled_from(sorted(state)))
    new_value = data.draw(json_values)
    assume(json.dumps(new_value, sort_keys=True) != json.dumps(state[key], sort_keys=True))
    assert state_hash({**state, key: new_value}) != state_hash(state)


@given(states, st.text(max_size=8), json_values)
def test_adding_a_field_changes_the_hash(state, key, value):
    assume(key not in state)
    assert state_hash({**state, key: value}) != state_hash(state)


def test_types_json_lacks_have_one_text_form():
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    when_utc = dt.datetime(2026, 11, 26, 6, 30, tzinfo=dt.UTC)
    when_ist = when_utc.astimezone(ist)
    assert canonical_bytes({"t": when_ist}) == canonical_bytes({"t": when_utc})
    assert canonical_bytes({"t": when_utc}) == b'{"t":"2026-11-26T06:30:00+00:00"}'
    assert canonical_bytes({"d": dt.date(2026, 1, 2)}) == b'{"d":"2026-01-02"}'
    assert canonical_bytes({"m": Decimal("10.50")}) == b'{"m":"10.50"}'


def test_naive_times_are_refused():
    with pytest.raises(TypeError, match="datetime"):
        canonical_bytes({"t": dt.datetime(2026, 1, 1)})  # noqa: DTZ001 - the point of the test


@given(
    st.datetimes(
        min_value=dt.datetime(1900, 1, 2),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=dt.datetime(9999, 12, 30),  # noqa: DTZ001
        timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))]),
    )
)
def test_the_hashed_time_is_always_six_fractional_digits_in_utc(value):
    from ajeya.ledger.services import TIME_FORMAT, time_text

    assert time_text(value) == value.astimezone(dt.UTC).strftime(TIME_FORMAT)
