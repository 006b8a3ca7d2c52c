"""The warehouse screens over HTTP: the queue, creating shipments, and a shipment's steps."""

import itertools
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from fulfillment.models import Shipment
from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_ship,
    shipments_create,
)
from inventory.models import StockLevel
from inventory.services import stock_receive
from orders.services import LineInput, order_hold, order_place
from tests.factories import CarrierFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


CUSTOMERS = itertools.count(1)  # one customer per order: repeats would be held as duplicates


def _order(channel, product, actor, address, quantity=2):
    return order_place(
        channel=channel,
        email=f"customer{next(CUSTOMERS)}@example.com",
        name="Ada Lovelace",
        address=address,
        lines=[LineInput(product=product, quantity=quantity)],
        actor=actor,
        shipping_total=Decimal("4.90"),
    )


def _shipment(order, actor, *, to="pending", carrier=None) -> Shipment:
    shipment = shipments_create(order=order, actor=actor)[0]
    if to in ("picking", "packed", "shipped"):
        shipment = shipment_confirm_picked(shipment=shipment, actor=actor)
    if to in ("packed", "shipped"):
        shipment = shipment_confirm_packed(shipment=shipment, actor=actor)
    if to == "shipped":
        shipment = shipment_ship(
            shipment=shipment, carrier=carrier, tracking_number="JJD000111", actor=actor
        )
    return Shipment.objects.get(pk=shipment.pk)


# ---------------------------------------------------------------- access


@pytest.mark.parametrize("name", ["fulfillment:queue", "fulfillment:shipment"])
def test_anonymous_user_is_sent_to_login(client, placed_order, manager, name):
    shipment = _shipment(placed_order, manager)
    args = [] if name == "fulfillment:queue" else [shipment.number]
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_post_changes_nothing(client, placed_order, manager):
    shipment = _shipment(placed_order, manager)
    response = client.post(reverse("fulfillment:pick", args=[shipment.number]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    shipment.refresh_from_db()
    assert shipment.status == "pending"


def test_unknown_shipment_is_404(client, warehouse_user):
    client.force_login(warehouse_user)
    assert client.get(reverse("fulfillment:shipment", args=["SH-999999"])).status_code == 404


# ---------------------------------------------------------------- the queue


def test_queue_shows_every_section_with_its_rows_and_counts(
    client, warehouse_user, manager, channel, stocked_product, address, carrier
):
    ready = _order(channel, stocked_product, manager, address, quantity=1)
    pending = _shipment(_order(channel, stocked_product, manager, address), manager)
    picking = _shipment(_order(channel, stocked_product, manager, address), manager, to="picking")
    packed = _shipment(_order(channel, stocked_product, manager, address), manager, to="packed")
    shipped = _shipment(
        _order(channel, stocked_product, manager, address), manager, to="shipped", carrier=carrier
    )

    client.force_login(warehouse_user)
    response = client.get(reverse("fulfillment:queue"))

    assert response.status_code == 200
    counts = {s["key"]: s["count"] for s in response.context["sections"]}
    assert counts == {
        "ready": 1,
        "to-pick": 1,
        "picking": 0,
        "to-pack": 1,
        "to-ship": 1,
        "in-transit": 1,
    }
    html = response.content.decode()
    for title in ["Ready to pick", "To pick", "Picked, to pack", "Packed, to ship", "In transit"]:
        assert title in html
    for number in [ready.number, pending.number, picking.number, packed.number, shipped.number]:
        assert number in html
    assert reverse("fulfillment:create_shipments", args=[ready.number]) in html
    assert reverse("fulfillment:deliver", args=[shipped.number]) in html
    assert "JJD000111" in html


def test_queue_empty_sections_say_what_they_are_for(client, manager, warehouse_user, warehouses):
    new_order_button = f'class="btn btn-sm" href="{reverse("orders:new")}"'
    client.force_login(manager)
    response = client.get(reverse("fulfillment:queue"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "No order is waiting" in html
    assert "Nothing is on its way right now" in html
    assert new_order_button in html
    client.force_login(warehouse_user)  # the warehouse does not place orders
    assert new_order_button not in client.get(reverse("fulfillment:queue")).content.decode()


def test_queue_filters_by_warehouse(client, warehouse_user, manager, placed_order, warehouses):
    shipment = _shipment(placed_order, manager)  # held in HAM
    client.force_login(warehouse_user)

    ham = client.get(reverse("fulfillment:queue"), {"warehouse": "HAM"})
    ber = client.get(reverse("fulfillment:queue"), {"warehouse": "BER"})

    assert ham.context["warehouse"].code == "HAM"
    assert shipment.number in ham.content.decode()
    assert ber.context["warehouse"].code == "BER"
    assert shipment.number not in ber.content.decode()
    assert "Berlin" in ber.content.decode()


def test_queue_hides_actions_from_roles_that_may_not_use_them(client, service_agent, placed_order):
    client.force_login(service_agent)
    html = client.get(reverse("fulfillment:queue")).content.decode()
    assert placed_order.number in html
    assert reverse("fulfillment:create_shipments", args=[placed_order.number]) not in html


# ---------------------------------------------------------------- create shipments


def test_create_shipment_redirects_to_it_with_a_message(client, warehouse_user, placed_order):
    client.force_login(warehouse_user)
    response = client.post(reverse("fulfillment:create_shipments", args=[placed_order.number]))

    shipment = placed_order.shipments.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("fulfillment:shipment", args=[shipment.number])
    assert shipment.status == "pending"
    assert shipment.lines.get().quantity == 2
    assert any(shipment.number in m and "HAM" in m for m in _messages(response))


def test_create_shipments_across_warehouses_goes_to_the_first(
    client, warehouse_user, manager, channel, address, warehouses
):
    mug = ProductFactory(sku="MUG-1")
    tee = ProductFactory(sku="TEE-1")
    stock_receive(product=tee, warehouse=warehouses[0], quantity=5, actor=manager)
    stock_receive(product=mug, warehouse=warehouses[1], quantity=5, actor=manager)
    order = order_place(
        channel=channel,
        email="b@example.com",
        name="Bea",
        address=address,
        lines=[LineInput(product=tee, quantity=1), LineInput(product=mug, quantity=1)],
        actor=manager,
    )
    client.force_login(warehouse_user)
    response = client.post(reverse("fulfillment:create_shipments", args=[order.number]))

    first = order.shipments.get(warehouse=warehouses[0])
    assert order.shipments.count() == 2
    assert response["Location"] == first.get_absolute_url()
    assert any("2 shipments created" in m for m in _messages(response))


def test_create_shipment_refused_goes_back_to_the_order_with_the_reason(
    client, warehouse_user, manager, placed_order
):
    order_hold(order=placed_order, reason="Address check", actor=manager)
    client.force_login(warehouse_user)
    response = client.post(reverse("fulfillment:create_shipments", args=[placed_order.number]))

    assert response.status_code == 302
    assert response["Location"] == reverse("orders:detail", args=[placed_order.number])
    assert any("only open orders ship" in m for m in _messages(response))
    assert not placed_order.shipments.exists()


def test_create_shipment_refusal_from_the_queue_returns_to_the_queue(
    client, warehouse_user, manager, placed_order
):
    _shipment(placed_order, manager)
    client.force_login(warehouse_user)
    queue = reverse("fulfillment:queue") + "?warehouse=HAM"
    response = client.post(
        reverse("fulfillment:create_shipments", args=[placed_order.number]), {"next": queue}
    )
    assert response["Location"] == queue
    assert any("Nothing reserved is waiting to ship" in m for m in _messages(response))
    assert placed_order.shipments.count() == 1


def test_customer_service_cannot_create_a_shipment(client, service_agent, placed_order):
    client.force_login(service_agent)
    response = client.post(reverse("fulfillment:create_shipments", args=[placed_order.number]))
    assert response.status_code == 302
    assert any("Only Warehouse, Manager may do this." in m for m in _messages(response))
    assert not placed_order.shipments.exists()


def test_create_shipments_needs_post(client, warehouse_user, placed_order):
    client.force_login(warehouse_user)
    assert (
        client.get(reverse("fulfillment:create_shipments", args=[placed_order.number])).status_code
        == 405
    )


def test_create_shipments_for_an_unknown_order_is_404(client, warehouse_user):
    client.force_login(warehouse_user)
    assert client.post(reverse("fulfillment:create_shipments", args=["NOPE-1"])).status_code == 404


# ---------------------------------------------------------------- one shipment, step by step


def test_shipment_page_shows_lines_address_and_the_next_step(
    client, warehouse_user, manager, placed_order
):
    shipment = _shipment(placed_order, manager)
    client.force_login(warehouse_user)
    response = client.get(shipment.get_absolute_url())
    html = response.content.decode()

    assert response.status_code == 200
    assert "TEE-BLK-M" in html
    assert "Organic tee, black, M" in html
    assert "Hafenstraße 12" in html
    assert reverse("fulfillment:pick", args=[shipment.number]) in html
    assert "Confirm picked" in html
    assert "Pick list" in html
    assert reverse("orders:detail", args=[placed_order.number]) in html
    assert f"Shipment {shipment.number} created" in html  # the shipment's own timeline


def test_walk_a_shipment_through_pick_pack_ship_deliver(
    client, warehouse_user, manager, placed_order, carrier, stocked_product, warehouses
):
    shipment = _shipment(placed_order, manager)
    client.force_login(warehouse_user)

    response = client.post(reverse("fulfillment:pick", args=[shipment.number]))
    assert response["Location"] == shipment.get_absolute_url()
    assert any("picked" in m for m in _messages(response))
    shipment.refresh_from_db()
    assert shipment.status == "picking"
    assert shipment.lines.get().quantity_picked == 2
    html = client.get(shipment.get_absolute_url()).content.decode()
    station = reverse("fulfillment:pack_shipment", args=[shipment.number])
    assert "Pack at the station" in html
    assert station in html
    # Packers scan every item at the station; the unchecked shortcut is a manager's override.
    assert "without scanning" not in html
    response = client.post(reverse("fulfillment:pack", args=[shipment.number]))
    shipment.refresh_from_db()
    assert shipment.status == "picking"
    assert any("Only a Manager" in m for m in _messages(response))

    for _ in range(2):
        client.post(station, {"action": "scan", "code": stocked_product.barcode})
    client.post(station, {"action": "parcel_add", "weight_grams": "900"})
    client.post(station, {"action": "complete"})
    shipment.refresh_from_db()
    assert shipment.status == "packed"
    assert shipment.lines.get().quantity_packed == 2
    html = client.get(shipment.get_absolute_url()).content.decode()
    assert 'name="carrier"' in html
    assert 'name="tracking_number"' in html
    assert carrier.name in html

    response = client.post(
        reverse("fulfillment:ship", args=[shipment.number]),
        {"carrier": carrier.pk, "tracking_number": " JJD0001234567 "},
    )
    assert response.status_code == 302
    shipment.refresh_from_db()
    assert (shipment.status, shipment.carrier, shipment.tracking_number) == (
        "shipped",
        carrier,
        "JJD0001234567",
    )
    level = StockLevel.objects.get(product=stocked_product, warehouse=warehouses[0])
    assert (level.on_hand, level.reserved) == (8, 0)
    assert any("shipped with DHL Parcel" in m for m in _messages(response))
    html = client.get(shipment.get_absolute_url()).content.decode()
    assert "https://tracking.example.com/JJD0001234567" in html
    assert "Mark delivered" in html

    response = client.post(
        reverse("fulfillment:deliver", args=[shipment.number]), {"note": "Left with neighbour"}
    )
    shipment.refresh_from_db()
    assert shipment.status == "delivered"
    assert shipment.delivery_note == "Left with neighbour"
    assert any("delivered" in m for m in _messages(response))
    placed_order.refresh_from_db()
    assert placed_order.fulfillment_status == "delivered"


def test_ship_without_carrier_or_tracking_shows_both_errors_next_to_the_fields(
    client, warehouse_user, manager, placed_order
):
    shipment = _shipment(placed_order, manager, to="packed")
    client.force_login(warehouse_user)
    response = client.post(
        reverse("fulfillment:ship", args=[shipment.number]),
        {"carrier": "", "tracking_number": "  "},
    )

    assert response.status_code == 200
    form = response.context["ship_form"]
    assert form.errors["carrier"] == ["Choose the carrier."]
    assert form.errors["tracking_number"] == ["Enter the tracking number printed on the label."]
    html = response.content.decode()
    assert 'id="id_carrier-error"' in html
    assert 'id="id_tracking_number-error"' in html
    shipment.refresh_from_db()
    assert shipment.status == "packed"


def test_ship_with_an_inactive_carrier_is_refused_next_to_the_field(
    client, warehouse_user, manager, placed_order
):
    retired = CarrierFactory(code="old", name="Old Post", active=False)
    shipment = _shipment(placed_order, manager, to="packed")
    client.force_login(warehouse_user)

    page = client.get(shipment.get_absolute_url()).content.decode()
    assert "Old Post" not in page
    response = client.post(
        reverse("fulfillment:ship", args=[shipment.number]),
        {"carrier": retired.pk, "tracking_number": "X1"},
    )
    assert response.status_code == 200
    assert "choose another" in response.context["ship_form"].errors["carrier"][0]
    shipment.refresh_from_db()
    assert shipment.status == "packed"


def test_ship_refused_by_the_service_keeps_the_input(
    client, warehouse_user, manager, placed_order, carrier
):
    shipment = _shipment(placed_order, manager, to="packed")
    order_hold(order=placed_order, reason="Fraud check", actor=manager)
    client.force_login(warehouse_user)
    response = client.post(
        reverse("fulfillment:ship", args=[shipment.number]),
        {"carrier": carrier.pk, "tracking_number": "JJD42"},
    )

    assert response.status_code == 200
    assert "release it before shipping" in response.content.decode()
    assert 'value="JJD42"' in response.content.decode()
    shipment.refresh_from_db()
    assert shipment.status == "packed"


def test_a_step_out_of_order_is_refused_with_a_message(
    client, warehouse_user, manager, placed_order
):
    shipment = _shipment(placed_order, manager, to="picking")
    client.force_login(warehouse_user)
    response = client.post(reverse("fulfillment:pick", args=[shipment.number]))
    assert response.status_code == 302
    assert any("cannot become picked" in m for m in _messages(response))


def test_get_on_an_action_url_renders_the_shipment_page(
    client, warehouse_user, manager, placed_order
):
    shipment = _shipment(placed_order, manager)
    client.force_login(warehouse_user)
    for name in [
        "fulfillment:pick",
        "fulfillment:pack",
        "fulfillment:ship",
        "fulfillment:deliver",
        "fulfillment:cancel",
    ]:
        response = client.get(reverse(name, args=[shipment.number]))
        assert response.status_code == 200
        assert response.templates[0].name == "fulfillment/shipment.html"
    shipment.refresh_from_db()
    assert shipment.status == "pending"


def test_cancel_needs_a_reason_and_keeps_the_units_reserved(
    client, warehouse_user, manager, placed_order, stocked_product, warehouses
):
    shipment = _shipment(placed_order, manager, to="picking")
    client.force_login(warehouse_user)

    response = client.post(reverse("fulfillment:cancel", args=[shipment.number]), {"reason": ""})
    assert response.status_code == 200
    assert response.context["cancel_form"].errors["reason"] == [
        "Say why the shipment is cancelled."
    ]
    assert response.context["open_cancel"] is True
    shipment.refresh_from_db()
    assert shipment.status == "picking"

    response = client.post(
        reverse("fulfillment:cancel", args=[shipment.number]), {"reason": "Damaged on the shelf"}
    )
    assert response["Location"] == shipment.get_absolute_url()
    shipment.refresh_from_db()
    assert shipment.status == "cancelled"
    assert StockLevel.objects.get(product=stocked_product, warehouse=warehouses[0]).reserved == 2
    assert any("stay reserved" in m for m in _messages(response))
    html = client.get(shipment.get_absolute_url()).content.decode()
    assert "This shipment was cancelled" in html
    assert reverse("fulfillment:cancel", args=[shipment.number]) not in html


def test_shipped_parcels_cannot_be_cancelled(
    client, warehouse_user, manager, placed_order, carrier
):
    shipment = _shipment(placed_order, manager, to="shipped", carrier=carrier)
    client.force_login(warehouse_user)
    html = client.get(shipment.get_absolute_url()).content.decode()
    assert reverse("fulfillment:cancel", args=[shipment.number]) not in html
    response = client.post(
        reverse("fulfillment:cancel", args=[shipment.number]), {"reason": "Oops"}
    )
    assert response["Location"] == shipment.get_absolute_url()
    assert any("cannot become cancelled" in m for m in _messages(response))
    shipment.refresh_from_db()
    assert shipment.status == "shipped"


def test_mark_delivered_from_the_queue_returns_to_the_queue(
    client, warehouse_user, manager, placed_order, carrier
):
    shipment = _shipment(placed_order, manager, to="shipped", carrier=carrier)
    client.force_login(warehouse_user)
    queue = reverse("fulfillment:queue") + "?warehouse=HAM"
    response = client.post(reverse("fulfillment:deliver", args=[shipment.number]), {"next": queue})
    assert response["Location"] == queue
    shipment.refresh_from_db()
    assert shipment.status == "delivered"


def test_a_next_url_to_another_site_is_ignored(client, warehouse_user, manager, placed_order):
    shipment = _shipment(placed_order, manager)
    client.force_login(warehouse_user)
    response = client.post(
        reverse("fulfillment:pick", args=[shipment.number]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == shipment.get_absolute_url()


def test_customer_service_sees_the_shipment_but_not_the_warehouse_steps(
    client, service_agent, manager, placed_order
):
    shipment = _shipment(placed_order, manager)
    client.force_login(service_agent)
    response = client.get(shipment.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert reverse("fulfillment:pick", args=[shipment.number]) not in html
    assert "Waiting for the warehouse" in html

    response = client.post(reverse("fulfillment:pick", args=[shipment.number]))
    assert any("Only Warehouse, Manager may do this." in m for m in _messages(response))
    shipment.refresh_from_db()
    assert shipment.status == "pending"


def test_customer_service_may_mark_a_parcel_delivered(
    client, service_agent, manager, placed_order, carrier
):
    shipment = _shipment(placed_order, manager, to="shipped", carrier=carrier)
    client.force_login(service_agent)
    assert "Mark delivered" in client.get(shipment.get_absolute_url()).content.decode()
    client.post(reverse("fulfillment:deliver", args=[shipment.number]), {"note": ""})
    shipment.refresh_from_db()
    assert shipment.status == "delivered"


def test_a_manager_may_confirm_packed_without_scanning_and_the_timeline_says_so(
    client, manager, placed_order
):
    shipment = _shipment(placed_order, manager, to="picking")
    client.force_login(manager)
    html = client.get(shipment.get_absolute_url()).content.decode()
    assert "Confirm packed without scanning" in html
    response = client.post(reverse("fulfillment:pack", args=[shipment.number]))
    assert response.status_code == 302
    shipment.refresh_from_db()
    assert shipment.status == "packed"
    assert placed_order.events.filter(message__contains="without scanning", actor=manager).exists()
