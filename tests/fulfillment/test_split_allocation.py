"""A split line's units in an open shipment stay with that shipment's warehouse: an edit or a
cancel frees units of the other warehouse, never the ones being picked (review finding)."""

from decimal import Decimal

import pytest

from fulfillment.models import PickList
from fulfillment.picking import pick_lines_confirm, pick_list_create
from fulfillment.services import (
    shipment_cancel,
    shipment_confirm_packed,
    shipment_pack_unchecked,
    shipment_ship,
    shipments_create,
)
from inventory.models import Reservation
from inventory.services import stock_receive
from orders.services import LineChange, LineInput, order_edit, order_line_cancel, order_place
from tests.factories import CarrierFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def split(channel, manager, warehouse_user, address, warehouses):
    """22 tees: 20 reserved in HAM (first priority), 2 in BER; BER's 2 are on a pick list."""
    ham, ber = warehouses
    tee = ProductFactory(sku="TEE-01", name="Tee")
    stock_receive(product=tee, warehouse=ham, quantity=20, actor=manager, reference="PO")
    stock_receive(product=tee, warehouse=ber, quantity=5, actor=manager, reference="PO")
    order = order_place(
        channel=channel,
        email="x@example.com",
        name="X",
        address=address,
        lines=[LineInput(product=tee, quantity=22)],
        actor=manager,
        shipping_total=Decimal("1"),
    )
    pick_list = pick_list_create(warehouse=ber, filters={}, limit=10, actor=warehouse_user)
    return order, pick_list


def _held(order) -> dict[str, tuple[int, int]]:
    return {
        r.warehouse.code: (r.quantity, r.allocated)
        for r in Reservation.objects.filter(demand_ref=f"order:{order.number}:1").select_related(
            "warehouse"
        )
    }


def test_an_edit_frees_the_units_no_shipment_holds_and_both_warehouses_still_ship(
    split, manager, warehouse_user
):
    order, pick_list = split
    assert _held(order) == {"HAM": (20, 0), "BER": (2, 2)}
    line = order.lines.get()
    order_edit(
        order=order, actor=manager, lines=[LineChange(line_id=line.pk, product=None, quantity=20)]
    )
    assert _held(order) == {"HAM": (18, 0), "BER": (2, 2)}

    carrier = CarrierFactory()
    ber_shipment = pick_list.shipments.get()
    pick_lines_confirm(
        pick_list=pick_list,
        line_ids=[sl.pk for sl in ber_shipment.lines.all()],
        actor=warehouse_user,
    )
    shipment_confirm_packed(shipment=ber_shipment, actor=manager)
    shipment_ship(shipment=ber_shipment, carrier=carrier, tracking_number="T1", actor=manager)
    (ham_shipment,) = shipments_create(order=order, actor=manager)
    assert ham_shipment.lines.get().quantity == 18
    assert _held(order) == {"HAM": (18, 18), "BER": (0, 0)}


def test_a_line_cancel_takes_units_from_the_warehouse_without_a_shipment(split, manager):
    order, _ = split
    line = order.lines.get()
    order_line_cancel(order=order, line=line, quantity=19, reason="Customer asked", actor=manager)
    assert _held(order) == {"HAM": (1, 0), "BER": (2, 2)}


def test_cancelling_the_last_open_shipment_completes_its_pick_list(split, manager):
    _, pick_list = split
    shipment_cancel(
        shipment=pick_list.shipments.get(), actor=manager, reason="Customer collects in store"
    )
    assert PickList.objects.get(pk=pick_list.pk).status == "completed"


def test_a_manager_packing_without_scanning_completes_the_pick_list(split, manager):
    _, pick_list = split
    shipment_pack_unchecked(shipment=pick_list.shipments.get(), actor=manager)
    assert PickList.objects.get(pk=pick_list.pk).status == "completed"
