"""Order numbers from a native PostgreSQL sequence (see orders.services.order_number_next),
starting after the numbers the Sequence table has handed out so far."""

from django.db import migrations

SEQUENCE = "orders_order_number_seq"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    Sequence = apps.get_model("core", "Sequence")
    row = Sequence.objects.filter(name="order").first()
    start = (row.last_value if row else 0) + 1
    schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE} START WITH {int(start)}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")


class Migration(migrations.Migration):
    dependencies = [("orders", "0006_order_search_trigram"), ("core", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
