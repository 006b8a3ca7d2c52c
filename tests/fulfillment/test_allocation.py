"""Units in open shipments are counted on the order line (`quantity_allocated`), so the
orders layer can refuse edits that would take them away from the warehouse."""

import pytest

from fulfillment.services import (
    shipment_cancel,
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_ship,
    shipments_create,
)

pytestmark = pytest.mark.django_db


def test_shipments_count_their_units_on_the_line_until_they_ship(placed_order, manager, carrier):
    line = placed_order.lines.get()
    assert line.quantity_allocated == 0
    shipment = shipments_create(order=placed_order, actor=manager)[0]
    line.refresh_from_db()
    assert line.quantity_allocated == 2
    shipment = shipment_confirm_picked(shipment=shipment, actor=manager)
    shipment = shipment_confirm_packed(shipment=shipment, actor=manager)
    shipment_ship(shipment=shipment, carrier=carrier, tracking_number="T1", actor=manager)
    line.refresh_from_db()
    assert (line.quantity_allocated, line.quantity_reserved, line.quantity_shipped) == (0, 0, 2)


def test_a_cancelled_shipment_gives_its_units_back_to_the_order(placed_order, manager):
    shipment = shipments_create(order=placed_order, actor=manager)[0]
    shipment_cancel(shipment=shipment, actor=manager, reason="Wrong warehouse")
    line = placed_order.lines.get()
    assert (line.quantity_allocated, line.quantity_reserved) == (0, 2)
    # ...and they can go into a new shipment.
    again = shipments_create(order=placed_order, actor=manager)[0]
    assert again.lines.get().quantity == 2
    line.refresh_from_db()
    assert line.quantity_allocated == 2


def test_the_migration_counts_units_of_shipments_already_open_when_it_runs(placed_order, manager):
    """Shipments open at deploy time had no allocation counted; the data migration counts
    them, so they can still be cancelled and their units are not released by an edit."""
    import importlib

    from django.apps import apps

    from inventory.models import Reservation
    from orders.models import OrderLine

    backfill = importlib.import_module("fulfillment.migrations.0003_backfill_allocations").backfill
    shipment = shipments_create(order=placed_order, actor=manager)[0]
    OrderLine.objects.update(quantity_allocated=0)  # as before the migration
    Reservation.objects.update(allocated=0)
    backfill(apps, None)
    line = placed_order.lines.get()
    assert line.quantity_allocated == 2
    assert Reservation.objects.get(demand_ref=line.demand_ref).allocated == 2
    shipment_cancel(shipment=shipment, actor=manager, reason="Deployed mid-pick")
    line.refresh_from_db()
    assert line.quantity_allocated == 0
