"""fulfillment.edits.order_edit_checked: while a shipment is packed (label and slip printed for
the current address and method), the delivery address and the shipping method stay, checked
under lock in the same transaction as the edit, not only on the page."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from core.errors import ValidationFailed
from fulfillment.edits import order_edit_checked
from fulfillment.services import shipment_confirm_packed, shipment_confirm_picked, shipments_create
from orders.models import Order, OrderEvent

pytestmark = pytest.mark.django_db


def _moved_to(order, manager, status):
    shipment = shipments_create(order=order, actor=manager)[0]
    if status in ("picking", "packed"):
        shipment = shipment_confirm_picked(shipment=shipment, actor=manager)
    if status == "packed":
        shipment = shipment_confirm_packed(shipment=shipment, actor=manager)
    return shipment


def _state(order):
    order = Order.objects.get(pk=order.pk)
    return (
        order.ship_line1,
        order.shipping_method,
        order.shipping_total,
        OrderEvent.objects.filter(order=order).count(),
    )


def test_a_new_address_or_method_is_refused_while_a_shipment_is_packed(
    placed_order, manager, address
):
    shipment = _moved_to(placed_order, manager, "packed")
    before = _state(placed_order)

    with pytest.raises(ValidationFailed) as refused:
        order_edit_checked(
            order=placed_order, actor=manager, address={**address, "line1": "Neuer Wall 1"}
        )
    assert f"Shipment {shipment.number} is packed" in refused.value.errors[""][0]
    assert "delivery address cannot change now" in refused.value.errors[""][0]
    assert "ship_line1" in refused.value.errors

    with pytest.raises(ValidationFailed) as refused:
        order_edit_checked(order=placed_order, actor=manager, shipping_method="Express")
    assert "shipping method cannot change now" in refused.value.errors[""][0]
    assert "shipping_method" in refused.value.errors
    assert _state(placed_order) == before


def test_other_changes_pass_while_packed_and_the_address_while_only_to_pick(
    placed_order, manager, address
):
    _moved_to(placed_order, manager, "packed")
    order = order_edit_checked(
        order=placed_order,
        actor=manager,
        address=dict(address),  # same address
        shipping_method=placed_order.shipping_method,
        shipping_total=Decimal("0.00"),
    )
    assert order.shipping_total == Decimal("0.00")

    other = Order.objects.get(pk=placed_order.pk)
    from fulfillment.models import Shipment
    from fulfillment.services import shipment_cancel

    shipment_cancel(shipment=Shipment.objects.get(order=other), actor=manager, reason="Repack")
    _moved_to(other, manager, "pending")
    order_edit_checked(order=other, actor=manager, address={**address, "line1": "Neuer Wall 1"})
    assert Order.objects.get(pk=other.pk).ship_line1 == "Neuer Wall 1"


@pytest.mark.django_db(transaction=True)
def test_a_shipment_packed_while_the_edit_waits_refuses_the_edit(placed_order, manager, address):
    """The page read the shipments before the edit took its lock: a parcel packed in between
    shipped to the old address with a changed order. The service waits for the packing to commit
    and then refuses."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    shipment = _moved_to(placed_order, manager, "picking")
    packing_holds_its_lock = threading.Event()
    results = []

    def pack():
        try:
            with transaction.atomic():
                shipment_confirm_packed(shipment=shipment, actor=manager)
                packing_holds_its_lock.set()
                time.sleep(0.5)  # the edit arrives meanwhile
        finally:
            connections.close_all()

    def edit():
        packing_holds_its_lock.wait(5)
        try:
            order_edit_checked(
                order=placed_order, actor=manager, address={**address, "line1": "Neuer Wall 1"}
            )
            results.append("edited")
        except ValidationFailed as exc:
            results.append(exc.errors[""][0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=pack), threading.Thread(target=edit)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)

    [result] = results
    assert f"Shipment {shipment.number} is packed" in result
    assert Order.objects.get(pk=placed_order.pk).ship_line1 == address["line1"]
