"""The database's own refusal to change the ledger: UPDATE and DELETE (and TRUNCATE
on PostgreSQL) on the ledger tables raise an error, whoever asks.

Installed by migration ledger.0002. `drop` exists for the test suite's database flush
and for tamper tests that play an intruder who has already dropped the triggers.
"""

from __future__ import annotations

TABLES = ("ledger_ledgerentry", "ledger_accessentry")
MESSAGE = "the Ajeya ledger is append-only"


def _sqlite_install(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    ]


def _postgres_install(table: str) -> list[str]:
    return [
        f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION ajeya_ledger_append_only()",
        f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION ajeya_ledger_append_only()",
    ]


_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION ajeya_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def install_statements(vendor: str) -> list[str]:
    if vendor == "sqlite":
        return [sql for table in TABLES for sql in _sqlite_install(table)]
    if vendor == "postgresql":
        return [_PG_FUNCTION] + [sql for table in TABLES for sql in _postgres_install(table)]
    raise RuntimeError(f"no ledger guards for database {vendor!r}")


def drop_statements(vendor: str) -> list[str]:
    if vendor == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {table}_{kind}"
            for table in TABLES
            for kind in ("no_update", "no_delete")
        ]
    return [
        f"DROP TRIGGER IF EXISTS {table}_{kind} ON {table}"
        for table in TABLES
        for kind in ("append_only", "no_truncate")
    ]


def install(connection) -> None:
    with connection.cursor() as cursor:
        for sql in install_statements(connection.vendor):
            cursor.execute(sql)


def drop(connection) -> None:
    with connection.cursor() as cursor:
        for sql in drop_statements(connection.vendor):
            cursor.execute(sql)


def app_role_grants(role: str) -> list[str]:
    """PostgreSQL: what the web/worker role may do on the ledger — read and append only."""
    quoted = '"' + role.replace('"', '""') + '"'
    statements = []
    for table in TABLES:
        statements += [
            f"REVOKE ALL ON {table} FROM {quoted}",
            f"GRANT SELECT, INSERT ON {table} TO {quoted}",
        ]
    return statements
