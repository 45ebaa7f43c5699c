"""Hand-written reads and writes for the hot paths (core.rows, core.bulk) give and keep
exactly what the ORM would: the same Python values, the same stored values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from ajeya.core import bulk
from ajeya.core import rows as raw
from ajeya.lab.models import InboundMessage, MessageStatus, Result
from ajeya.patients.models import Patient
from tests.lab import factories as lab

pytestmark = pytest.mark.django_db

COLUMNS = tuple(f.attname for f in Result._meta.concrete_fields)


@pytest.fixture
def results(monday_morning):
    lab.load_catalogue()
    (sample,) = lab.received(lab.walk_in(["CBC"]))
    lab.verified(sample, {"HB": "13.25", "TLC": "7.4", "PLT": "250"})
    return list(Result.objects.filter(item__sample=sample).order_by("pk"))


def test_rows_hold_the_values_the_orm_gives(results):
    q = connection.ops.quote_name
    sql = (
        f"SELECT {raw.columns_sql('r', Result, COLUMNS)}, {raw.columns_sql('p', Patient, ['date_of_birth'])} "  # noqa: E501, S608
        f"FROM {q(Result._meta.db_table)} r, {q(Patient._meta.db_table)} p "
        f"WHERE r.id IN ({raw.marks(len(results))}) ORDER BY r.id"
    )
    columns = [*((Result, c) for c in COLUMNS), (Patient, "date_of_birth")]
    got = raw.select(sql, [r.pk for r in results], columns, [*COLUMNS, "born"])

    expected = list(Result.objects.filter(pk__in=[r.pk for r in results]).order_by("pk").values())
    assert [{c: getattr(row, c) for c in COLUMNS} for row in got] == expected
    hb = next(row for row in got if row.value == "13.3")
    assert isinstance(hb.numeric_value, Decimal)
    assert hb.verified_at.tzinfo is not None  # aware, as the ORM gives it
    assert isinstance(got[0].born, dt.date)
    assert got[0].delta_flag is False


def test_a_column_the_model_does_not_have_is_named():
    with pytest.raises(LookupError, match="Result has no column 'nope'"):
        raw.columns_sql("r", Result, ["nope"])


def test_update_rows_writes_what_save_would(results):
    hb = results[0]
    hb.numeric_value, hb.entered_at = (
        Decimal("12.5"),
        dt.datetime(2026, 12, 1, 3, 4, 5, tzinfo=dt.UTC),
    )
    bulk.update_rows(Result, [hb], ["numeric_value", "entered_at"])
    again = Result.objects.get(pk=hb.pk)
    assert (again.numeric_value, again.entered_at) == (Decimal("12.5"), hb.entered_at)


def test_insert_returning_ids_sets_each_objects_own_id(monkeypatch):
    monkeypatch.setattr(bulk, "RETURNING_BATCH", 2)  # three statements for five rows
    messages = [
        InboundMessage(
            sending_application="XN-1000",
            control_id=f"R{n}",
            received_at=dt.datetime(2026, 11, 30, 2, 30, tzinfo=dt.UTC),
            raw=f"MSH|R{n}",
            raw_sha256="0" * 64,
            status=MessageStatus.UNMATCHED,
            ack_code="AA",
        )
        for n in range(5)
    ]
    bulk.insert_returning_ids(InboundMessage, messages)
    assert all(not m._state.adding for m in messages)
    stored = dict(InboundMessage.objects.values_list("pk", "control_id"))
    assert {m.pk: m.control_id for m in messages} == stored
