"""PostgreSQL: take a chain's append lock and read its head in one round trip.

A VOLATILE PL/pgSQL function runs each statement with a fresh snapshot, so the head it
reads after taking the lock includes every entry committed before the lock was granted
(one plain statement doing both would read with a snapshot from before the lock).
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION ajeya_chain_head(lock_key bigint, chain text)
RETURNS TABLE(seq bigint, hash varchar) AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    IF chain = 'ledger_ledgerentry' THEN
        RETURN QUERY SELECT e.seq, e.hash FROM ledger_ledgerentry e ORDER BY e.seq DESC LIMIT 1;
    ELSIF chain = 'ledger_accessentry' THEN
        RETURN QUERY SELECT e.seq, e.hash FROM ledger_accessentry e ORDER BY e.seq DESC LIMIT 1;
    ELSE
        RAISE EXCEPTION 'unknown ledger chain %', chain;
    END IF;
END;
$$ LANGUAGE plpgsql VOLATILE
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # No parameters: the body's RAISE format uses a literal %.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(FUNCTION)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS ajeya_chain_head(bigint, text)")


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_append_only_guards")]
    operations = [migrations.RunPython(create, drop)]
