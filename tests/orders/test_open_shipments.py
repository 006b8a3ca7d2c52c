"""Units in an open shipment (to pick, picking, packed) cannot be edited or cancelled away:
the services refuse with the counts, the pages name the shipments, nothing changes."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages

from core.errors import DomainError, ValidationFailed
from fulfillment.services import (
    shipment_cancel,
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipments_create,
)
from inventory.models import StockLevel
from inventory.services import stock_receive
from orders.choices import EventType, OrderStatus
from orders.models import OrderEvent, OrderLine
from orders.services import (
    LineChange,
    LineInput,
    order_cancel,
    order_edit,
    order_line_cancel,
    order_place,
)
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mug(warehouses, manager):
    product = ProductFactory(sku="MUG-1", name="Enamel mug", price=Decimal("9.50"))
    stock_receive(product=product, warehouse=warehouses[0], quantity=5, actor=manager)
    return product


@pytest.fixture
def order(channel, stocked_product, mug, manager, address):
    return order_place(
        channel=channel,
        email="ada@example.com",
        name="Ada Lovelace",
        address=address,
        lines=[LineInput(product=stocked_product, quantity=3), LineInput(product=mug, quantity=1)],
        actor=manager,
        shipping_method="Standard",
        shipping_total=Decimal("4.90"),
        payment_method="card",
    )


def ship_to(order, manager, status):
    """One shipment of the order, moved to ``status`` (pending, picking or packed)."""
    shipment = shipments_create(order=order, actor=manager)[0]
    if status in ("picking", "packed"):
        shipment = shipment_confirm_picked(shipment=shipment, actor=manager)
    if status == "packed":
        shipment = shipment_confirm_packed(shipment=shipment, actor=manager)
    shipment.refresh_from_db()
    assert shipment.status == status
    return shipment


def snapshot(order):
    """What must not move when a change is refused."""
    order.refresh_from_db()
    lines = [
        (ln.quantity, ln.quantity_cancelled, ln.quantity_reserved, ln.quantity_allocated)
        for ln in OrderLine.objects.filter(order=order).order_by("line_no")
    ]
    stock = sorted(StockLevel.objects.values_list("product__sku", "on_hand", "reserved"))
    return (
        order.status,
        order.total,
        order.ship_line1,
        lines,
        stock,
        OrderEvent.objects.filter(order=order).count(),
    )


def line(order, sku):
    return OrderLine.objects.get(order=order, sku=sku)


# ---------------------------------------------------------------- services


@pytest.mark.parametrize("status", ["pending", "picking", "packed"])
def test_line_cancel_refuses_units_in_an_open_shipment(order, manager, status):
    ship_to(order, manager, status)
    before = snapshot(order)

    with pytest.raises(DomainError) as exc:
        order_line_cancel(
            order=order, line=line(order, "TEE-BLK-M"), quantity=1, reason="x", actor=manager
        )

    assert exc.value.code == "in_shipment"
    assert exc.value.field == "quantity"
    assert exc.value.message.startswith(
        "3 of 3 unshipped unit(s) of line 1 (TEE-BLK-M) are in an open shipment"
    )
    assert "cancel that shipment first" in exc.value.message
    assert snapshot(order) == before


def test_line_cancel_may_take_units_outside_the_shipment(channel, manager, address, warehouses):
    """2 reserved (and shipped out to pick), 1 backordered: the backordered one may go."""
    lamp = ProductFactory(sku="LAMP-1", name="Lamp", price=Decimal("40.00"), allow_backorder=True)
    stock_receive(product=lamp, warehouse=warehouses[0], quantity=2, actor=manager)
    order = order_place(
        channel=channel,
        email="b@example.com",
        name="Bo",
        address=address,
        lines=[LineInput(product=lamp, quantity=3)],
        actor=manager,
        payment_method="card",
    )
    ship_to(order, manager, "pending")
    ln = line(order, "LAMP-1")
    assert (ln.quantity_reserved, ln.quantity_backordered, ln.quantity_allocated) == (2, 1, 2)

    with pytest.raises(DomainError) as exc:
        order_line_cancel(order=order, line=ln, quantity=2, reason="x", actor=manager)
    assert "2 of 3 unshipped unit(s) of line 1 (LAMP-1)" in exc.value.message
    assert "or take away at most 1" in exc.value.message

    order_line_cancel(order=order, line=ln, quantity=1, reason="Customer wants two", actor=manager)
    ln.refresh_from_db()
    assert (ln.quantity_cancelled, ln.quantity_backordered, ln.quantity_allocated) == (1, 0, 2)


def test_line_cancel_works_again_once_the_shipment_is_cancelled(order, manager, stocked_product):
    shipment = ship_to(order, manager, "picking")
    shipment_cancel(shipment=shipment, actor=manager, reason="Wrong tote")

    order_line_cancel(
        order=order, line=line(order, "TEE-BLK-M"), quantity=2, reason="Fewer", actor=manager
    )

    ln = line(order, "TEE-BLK-M")
    assert (ln.quantity_cancelled, ln.quantity_reserved, ln.quantity_allocated) == (2, 1, 0)
    assert StockLevel.objects.get(product=stocked_product).reserved == 1


@pytest.mark.parametrize("quantity", [0, 2])
def test_edit_refuses_to_reduce_or_remove_units_in_a_shipment(order, manager, quantity):
    ship_to(order, manager, "pending")
    before = snapshot(order)

    with pytest.raises(ValidationFailed) as exc:
        order_edit(
            order=order,
            actor=manager,
            lines=[
                LineChange(line_id=line(order, "TEE-BLK-M").pk, product=None, quantity=quantity)
            ],
        )

    [message] = exc.value.errors["lines-0-quantity"]
    assert "3 of 3 unshipped unit(s) of line 1 (TEE-BLK-M) are in an open shipment" in message
    assert "cannot go below 3" in message
    assert snapshot(order) == before


def test_edit_may_raise_quantities_and_change_the_address_of_a_pending_shipment(
    order, manager, address
):
    ship_to(order, manager, "pending")

    order_edit(
        order=order,
        actor=manager,
        lines=[LineChange(line_id=line(order, "TEE-BLK-M").pk, product=None, quantity=4)],
        address={**address, "line1": "Neuer Wall 1"},
    )

    order.refresh_from_db()
    assert order.ship_line1 == "Neuer Wall 1"
    assert line(order, "TEE-BLK-M").quantity_effective == 4


@pytest.mark.parametrize("status", ["pending", "packed"])
def test_whole_order_cancel_is_refused_while_units_are_in_shipments(order, manager, status):
    ship_to(order, manager, status)
    before = snapshot(order)

    with pytest.raises(DomainError) as exc:
        order_cancel(order=order, reason="Customer withdrew", actor=manager)

    assert exc.value.code == "in_shipment"
    assert "4 unit(s) of order" in exc.value.message
    assert "line 1 (TEE-BLK-M): 3, line 2 (MUG-1): 1" in exc.value.message
    assert "Cancel the open shipments first" in exc.value.message
    assert snapshot(order) == before
    assert not OrderEvent.objects.filter(order=order, type=EventType.CANCELLED).exists()


def test_cancelling_the_last_units_of_a_line_in_a_shipment_is_refused_not_an_order_cancel(
    channel, stocked_product, manager, address
):
    order = order_place(
        channel=channel,
        email="c@example.com",
        name="Cy",
        address=address,
        lines=[LineInput(product=stocked_product, quantity=2)],
        actor=manager,
        payment_method="card",
    )
    ship_to(order, manager, "picking")

    with pytest.raises(DomainError) as exc:
        order_line_cancel(
            order=order, line=line(order, "TEE-BLK-M"), quantity=2, reason="x", actor=manager
        )

    assert exc.value.code == "in_shipment"
    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN


# ---------------------------------------------------------------- pages


@pytest.fixture
def agent(client, service_agent):
    client.force_login(service_agent)
    return client


def flashed(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def edit_data(order, **overrides) -> dict:
    data = {
        f"ship_{k}": getattr(order, f"ship_{k}")
        for k in ("name", "line1", "line2", "city", "region", "postal_code", "country")
    }
    data.update(
        {
            "shipping_method": order.shipping_method,
            "shipping_total": str(order.shipping_total),
            "save": "1",
        }
    )
    for ln in order.lines.all():
        data[f"line-{ln.pk}-quantity"] = str(ln.quantity_effective)
    data.update(overrides)
    return data


def test_cancel_page_names_the_open_shipment_and_changes_nothing(agent, order, manager):
    shipment = ship_to(order, manager, "picking")
    before = snapshot(order)

    response = agent.post(
        f"/orders/{order.number}/cancel/", {"reason": "Customer withdrew"}, follow=True
    )

    [message] = flashed(response)
    assert "4 unit(s) of order" in message
    assert f"Open shipment: {shipment.number} (being picked, 4 units)" in message
    assert message in response.content.decode()
    assert snapshot(order) == before


def test_line_cancel_page_names_the_shipment_next_to_the_field(agent, order, manager):
    shipment = ship_to(order, manager, "packed")
    tee = line(order, "TEE-BLK-M")
    before = snapshot(order)

    response = agent.post(
        f"/orders/{order.number}/lines/{tee.pk}/cancel/", {"quantity": "1", "reason": "x"}
    )

    assert response.status_code == 200
    [error] = response.context["form"].errors["quantity"]
    assert "3 of 3 unshipped unit(s) of line 1 (TEE-BLK-M)" in error
    assert f"{shipment.number} (packed, waiting for the carrier, 3 units)" in error
    assert snapshot(order) == before


def test_edit_page_refuses_to_reduce_and_names_the_shipment(agent, order, manager):
    shipment = ship_to(order, manager, "pending")
    tee = line(order, "TEE-BLK-M")
    before = snapshot(order)

    response = agent.get(f"/orders/{order.number}/edit/")
    html = response.content.decode()
    assert f"{shipment.number}</a> is waiting to be picked" in html
    assert f'name="line-{tee.pk}-quantity" value="3"' in html
    assert 'min="3"' in html

    response = agent.post(
        f"/orders/{order.number}/edit/", edit_data(order, **{f"line-{tee.pk}-quantity": "1"})
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing was changed." in html
    assert "3 of 3 unshipped unit(s) of line 1 (TEE-BLK-M) are in an open shipment" in html
    assert f"Open shipment: {shipment.number} (waiting to be picked, 4 units)" in html
    assert snapshot(order) == before


def test_edit_page_refuses_a_new_address_while_a_shipment_is_packed(agent, order, manager):
    shipment = ship_to(order, manager, "packed")
    before = snapshot(order)

    response = agent.post(
        f"/orders/{order.number}/edit/", edit_data(order, ship_line1="Neuer Wall 1")
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert f"Shipment {shipment.number} is packed" in form.non_field_errors()[0]
    assert "delivery address cannot change now" in form.non_field_errors()[0]
    assert form.errors["ship_line1"]
    assert snapshot(order) == before

    response = agent.post(
        f"/orders/{order.number}/edit/", edit_data(order, shipping_method="Express")
    )
    assert "shipping method cannot change now" in response.context["form"].non_field_errors()[0]
    assert snapshot(order) == before


def test_edit_page_accepts_a_new_address_while_the_shipment_is_only_to_pick(agent, order, manager):
    ship_to(order, manager, "pending")

    response = agent.post(
        f"/orders/{order.number}/edit/", edit_data(order, ship_line1="Neuer Wall 1")
    )

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.ship_line1 == "Neuer Wall 1"


def test_order_page_shows_units_in_shipments_instead_of_a_cancel_form(agent, order, manager):
    shipment = ship_to(order, manager, "picking")

    html = agent.get(f"/orders/{order.number}/").content.decode()

    assert (
        f'3 in <a class="mono" href="/warehouse/shipments/{shipment.number}/">{shipment.number}</a> (picking)'
        in html
    )
    assert "cannot be cancelled or removed: cancel the shipment first" in html
    assert f"/lines/{line(order, 'TEE-BLK-M').pk}/cancel/" not in html
    assert "the order cannot be cancelled while they are open" in html


def test_bulk_cancel_reports_the_refusal(agent, order, manager):
    ship_to(order, manager, "pending")

    response = agent.post(
        "/orders/bulk/",
        {"orders": [order.number], "action": "cancel", "cancel_reason": "Customer withdrew"},
    )

    [message] = flashed(response)
    assert f"Could not cancel {order.number}" in message
    assert "open shipment" in message
    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN
