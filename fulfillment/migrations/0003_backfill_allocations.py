"""Units already in open shipments when allocations began to be counted: count them on the
order line (OrderLine.quantity_allocated) and on the warehouse's reservation
(Reservation.allocated), so those shipments can still be cancelled, short-picked and shipped,
and edits cannot take their units away."""

from collections import defaultdict

from django.db import migrations

OPEN = ("pending", "picking", "packed")


def backfill(apps, schema_editor):
    ShipmentLine = apps.get_model("fulfillment", "ShipmentLine")
    OrderLine = apps.get_model("orders", "OrderLine")
    Reservation = apps.get_model("inventory", "Reservation")
    per_line = defaultdict(int)
    per_reservation = defaultdict(int)
    rows = ShipmentLine.objects.filter(shipment__status__in=OPEN, quantity__gt=0).values_list(
        "order_line_id", "order_line__line_no", "order_line__order__number", "shipment__warehouse_id", "quantity"
    )
    for line_id, line_no, number, warehouse_id, quantity in rows.iterator():
        per_line[line_id] += quantity
        per_reservation[(f"order:{number}:{line_no}", warehouse_id)] += quantity
    for line in OrderLine.objects.filter(pk__in=list(per_line)):
        line.quantity_allocated = min(per_line[line.pk], line.quantity_reserved)
        line.save(update_fields=["quantity_allocated"])
    for (ref, warehouse_id), quantity in per_reservation.items():
        r = Reservation.objects.filter(demand_ref=ref, warehouse_id=warehouse_id).first()
        if r is not None:
            r.allocated = min(quantity, r.quantity)
            r.save(update_fields=["allocated"])


class Migration(migrations.Migration):
    dependencies = [
        ("fulfillment", "0002_carrierservice_deliveryfeedback_manifest_parcel_and_more"),
        ("inventory", "0004_reservation_allocated"),
        ("orders", "0008_fulfillment_depth"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
