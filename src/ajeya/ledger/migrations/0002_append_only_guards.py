"""The database refuses UPDATE and DELETE on the ledger tables (ARCHITECTURE §3)."""

from django.db import migrations

from ajeya.ledger import guards


def install(apps, schema_editor):
    guards.install(schema_editor.connection)


def drop(apps, schema_editor):
    guards.drop(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(install, drop)]
