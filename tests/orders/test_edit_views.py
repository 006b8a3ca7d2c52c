"""Edit an order before it ships, and cancel units of one line, from the staff pages."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages

from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_ship,
    shipments_create,
)
from inventory.models import StockLevel
from inventory.services import stock_receive
from orders.choices import EventType, OrderStatus
from orders.models import Notification, Order
from orders.services import LineInput, order_hold, order_place
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mug(db, warehouses, manager):
    product = ProductFactory(
        sku="MUG-1", name="Enamel mug", price=Decimal("9.50"), tax_rate=Decimal("0.1900")
    )
    stock_receive(product=product, warehouse=warehouses[0], quantity=5, actor=manager)
    return product


@pytest.fixture
def order(db, channel, stocked_product, mug, manager, address):
    return order_place(
        channel=channel,
        email="ada@example.com",
        name="Ada Lovelace",
        address=address,
        lines=[LineInput(product=stocked_product, quantity=2), LineInput(product=mug, quantity=1)],
        actor=manager,
        shipping_method="Standard",
        shipping_total=Decimal("4.90"),
        payment_method="card",
    )


@pytest.fixture
def agent(client, service_agent):
    client.force_login(service_agent)
    return client


def edit_url(order) -> str:
    return f"/orders/{order.number}/edit/"


def edit_data(order, **overrides) -> dict:
    data = {
        f"ship_{k}": getattr(order, f"ship_{k}")
        for k in ("name", "line1", "line2", "city", "region", "postal_code", "country")
    }
    data.update(
        {"shipping_method": order.shipping_method, "shipping_total": str(order.shipping_total)}
    )
    for ln in order.lines.all():
        data[f"line-{ln.pk}-quantity"] = str(ln.quantity_effective)
    data["save"] = "1"
    data.update(overrides)
    return data


def lines_by_sku(order) -> dict:
    return {ln.sku: ln for ln in order.lines.all()}


def reserved(product) -> int:
    return sum(StockLevel.objects.filter(product=product).values_list("reserved", flat=True))


# ---------------------------------------------------------------- the edit page


def test_edit_page_shows_lines_address_and_shipping(agent, order):
    response = agent.get(edit_url(order))
    html = response.content.decode()
    assert response.status_code == 200
    tee, mug = lines_by_sku(order)["TEE-BLK-M"], lines_by_sku(order)["MUG-1"]
    assert f'name="line-{tee.pk}-quantity" value="2"' in html
    assert f'name="line-{mug.pk}-quantity" value="1"' in html
    assert 'name="lines-0-sku"' in html  # add a line
    assert 'value="Hafenstraße 12"' in html
    assert '<option value="Standard" selected>' in html
    assert "No changes yet" in html
    # Customer service may not change prices: no price inputs.
    assert f'name="line-{tee.pk}-unit_price"' not in html


def test_detail_page_links_to_edit_and_offers_cancel_per_line(agent, order):
    html = agent.get(order.get_absolute_url()).content.decode()
    assert f'href="/orders/{order.number}/edit/"' in html
    for ln in order.lines.all():
        assert f'action="/orders/{order.number}/lines/{ln.pk}/cancel/"' in html
    assert "Cancel units…" in html


def test_warehouse_sees_neither_edit_nor_line_cancel(client, warehouse_user, order):
    client.force_login(warehouse_user)
    html = client.get(order.get_absolute_url()).content.decode()
    assert "/edit/" not in html
    assert "Cancel units…" not in html
    assert client.get(edit_url(order)).status_code == 403
    ln = order.lines.first()
    response = client.post(
        f"/orders/{order.number}/lines/{ln.pk}/cancel/", {"quantity": "1", "reason": "x"}
    )
    assert response.status_code == 403
    assert order.lines.first().quantity_cancelled == 0


def test_saving_changes_quantities_adds_and_removes_lines(
    agent, order, stocked_product, mug, warehouses, manager
):
    spork = ProductFactory(
        sku="SPORK", name="Spork", price=Decimal("8.00"), tax_rate=Decimal("0.1900")
    )
    stock_receive(product=spork, warehouse=warehouses[0], quantity=4, actor=manager)
    tee, cup = lines_by_sku(order)["TEE-BLK-M"], lines_by_sku(order)["MUG-1"]
    data = edit_data(
        order,
        **{
            f"line-{tee.pk}-quantity": "3",
            f"line-{cup.pk}-quantity": "0",
            "lines-0-sku": "spork",
            "lines-0-quantity": "2",
            "ship_line1": "Neuer Wall 1",
            "shipping_method": "Express",
            "shipping_total": "9.90",
        },
    )
    response = agent.post(edit_url(order), data)
    assert response.status_code == 302
    assert response.url == order.get_absolute_url()
    assert "updated" in next(str(m) for m in get_messages(response.wsgi_request))
    order.refresh_from_db()
    lines = lines_by_sku(order)
    assert lines["TEE-BLK-M"].quantity_effective == 3
    assert lines["MUG-1"].quantity_effective == 0
    assert lines["SPORK"].quantity == 2
    assert (order.ship_line1, order.shipping_method, order.shipping_total) == (
        "Neuer Wall 1",
        "Express",
        Decimal("9.90"),
    )
    assert reserved(stocked_product) == 3
    assert reserved(mug) == 0
    assert reserved(spork) == 2
    assert order.total == Decimal("75.00") + Decimal("16.00") + Decimal("17.29") + Decimal("9.90")
    assert order.events.filter(type=EventType.EDITED).exists()
    assert Notification.objects.filter(order=order, kind="order_changed").exists()


def test_preview_summarises_the_difference_before_saving(agent, order):
    tee, cup = lines_by_sku(order)["TEE-BLK-M"], lines_by_sku(order)["MUG-1"]
    data = edit_data(
        order,
        **{
            f"line-{tee.pk}-quantity": "1",
            f"line-{cup.pk}-quantity": "0",
            "shipping_method": "Express",
            "preview": "1",
        },
    )
    del data["save"]
    response = agent.post(edit_url(order), data, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="edit-changes"' in html
    assert "Organic tee, black, M: 2 → 1" in html
    assert "Enamel mug removed" in html
    assert "Shipping method: Standard → Express" in html
    assert "New total" in html
    assert f'id="edit-total-{tee.pk}" hx-swap-oob="true">€25.00' in html
    # Nothing is saved by a preview; without JavaScript it is the whole page.
    assert lines_by_sku(order)["TEE-BLK-M"].quantity_effective == 2
    full = agent.post(edit_url(order), data).content.decode()
    assert "<html" in full
    assert "Enamel mug removed" in full


def test_quantity_errors_are_shown_next_to_the_line(agent, order):
    tee = lines_by_sku(order)["TEE-BLK-M"]
    html = agent.post(
        edit_url(order), edit_data(order, **{f"line-{tee.pk}-quantity": "-1"})
    ).content.decode()
    assert (
        f'id="line-{tee.pk}-quantity-error">Quantity cannot be negative; 0 removes the line.'
        in html
    )
    html = agent.post(
        edit_url(order), edit_data(order, **{f"line-{tee.pk}-quantity": "two"})
    ).content.decode()
    assert f'id="line-{tee.pk}-quantity-error">Enter a whole number; 0 removes the line.' in html
    assert "Nothing was changed" in html
    assert lines_by_sku(order)["TEE-BLK-M"].quantity_effective == 2


def test_more_than_in_stock_is_refused_next_to_the_line(agent, order, stocked_product):
    tee = lines_by_sku(order)["TEE-BLK-M"]
    html = agent.post(
        edit_url(order), edit_data(order, **{f"line-{tee.pk}-quantity": "11"})
    ).content.decode()
    assert f'id="line-{tee.pk}-quantity-error">Only 8 of TEE-BLK-M available; 9 requested.' in html
    assert reserved(stocked_product) == 2


def test_new_line_errors_are_shown_on_the_new_row(agent, order):
    html = agent.post(
        edit_url(order), edit_data(order, **{"lines-0-sku": "NOPE", "lines-0-quantity": "1"})
    ).content.decode()
    assert 'id="lines-0-sku-error">No product with SKU or barcode “NOPE”.' in html
    html = agent.post(
        edit_url(order), edit_data(order, **{"lines-0-sku": "MUG-1", "lines-0-quantity": "9"})
    ).content.decode()
    assert 'id="lines-0-quantity-error">Only 4 of MUG-1 available; 9 requested.' in html


def test_address_errors_are_shown_next_to_their_fields(agent, order):
    html = agent.post(
        edit_url(order), edit_data(order, ship_city="", ship_country="Germany")
    ).content.decode()
    assert 'id="id_ship_city-error">Enter the city.' in html
    assert 'id="id_ship_country-error">Use the two-letter country code, e.g. DE or US.' in html
    order.refresh_from_db()
    assert order.ship_city == "Hamburg"


def test_nothing_changed_says_so(agent, order):
    html = agent.post(edit_url(order), edit_data(order)).content.decode()
    assert "Nothing to change: the order already looks like this." in html


def test_customer_service_cannot_change_a_price_in_an_edit(agent, order):
    tee = lines_by_sku(order)["TEE-BLK-M"]
    html = agent.post(
        edit_url(order), edit_data(order, **{f"line-{tee.pk}-unit_price": "1.00"})
    ).content.decode()
    assert (
        f'id="line-{tee.pk}-price-error">Only a Manager may change prices or give discounts.'
        in html
    )
    assert lines_by_sku(order)["TEE-BLK-M"].unit_price == Decimal("25.00")


def test_manager_changes_a_price_in_an_edit(client, manager, order):
    client.force_login(manager)
    tee = lines_by_sku(order)["TEE-BLK-M"]
    assert f'name="line-{tee.pk}-unit_price"' in client.get(edit_url(order)).content.decode()
    response = client.post(
        edit_url(order), edit_data(order, **{f"line-{tee.pk}-unit_price": "20.00"})
    )
    assert response.status_code == 302
    tee.refresh_from_db()
    assert (tee.unit_price, tee.list_price) == (Decimal("20.00"), Decimal("25.00"))
    html = client.get(order.get_absolute_url()).content.decode()
    assert "list <s>€25.00</s>" in html


def test_shipped_order_cannot_be_edited(agent, order, manager, carrier):
    shipment = shipments_create(order=order, actor=manager)[0]
    shipment_confirm_picked(shipment=shipment, actor=manager)
    shipment_confirm_packed(shipment=shipment, actor=manager)
    shipment_ship(shipment=shipment, carrier=carrier, tracking_number="T1", actor=manager)
    response = agent.get(edit_url(order))
    assert response.status_code == 302
    assert "can no longer be edited" in next(str(m) for m in get_messages(response.wsgi_request))
    html = agent.get(order.get_absolute_url()).content.decode()
    assert "Cancel units…" not in html


def test_held_order_can_be_edited_and_shows_its_hold(agent, order, manager):
    order_hold(order=order, reason="Address to be confirmed", actor=manager)
    html = agent.get(order.get_absolute_url()).content.decode()
    assert "On hold · Held by staff:" in html
    assert agent.get(edit_url(order)).status_code == 200


# ---------------------------------------------------------------- cancel units of a line


def test_cancel_units_of_a_line_releases_stock(agent, order, stocked_product):
    tee = lines_by_sku(order)["TEE-BLK-M"]
    url = f"/orders/{order.number}/lines/{tee.pk}/cancel/"
    page = agent.get(url)
    assert page.status_code == 200
    assert 'name="quantity"' in page.content.decode()
    response = agent.post(url, {"quantity": "1", "reason": "Customer needs only one"})
    assert response.status_code == 302
    assert "1 × TEE-BLK-M cancelled" in next(str(m) for m in get_messages(response.wsgi_request))
    tee.refresh_from_db()
    order.refresh_from_db()
    assert (tee.quantity_cancelled, tee.quantity_reserved) == (1, 1)
    assert reserved(stocked_product) == 1
    assert order.events.filter(type=EventType.LINE_CANCELLED).exists()
    html = agent.get(order.get_absolute_url()).content.decode()
    assert "1 cancelled" in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"quantity": "1", "reason": ""},
            "reason",
            "Say why the units are cancelled; the customer is told.",
        ),
        (
            {"quantity": "3", "reason": "x"},
            "quantity",
            "Only 2 of TEE-BLK-M can still be cancelled.",
        ),
        ({"quantity": "0", "reason": "x"}, "quantity", "Cancel at least one unit."),
        ({"quantity": "", "reason": "x"}, "quantity", "Enter how many units to cancel."),
    ],
)
def test_line_cancel_errors_are_shown_next_to_the_field(agent, order, data, field, message):
    tee = lines_by_sku(order)["TEE-BLK-M"]
    response = agent.post(f"/orders/{order.number}/lines/{tee.pk}/cancel/", data)
    assert response.status_code == 200
    assert f'id="id_{field}-error">{message}' in response.content.decode()
    tee.refresh_from_db()
    assert tee.quantity_cancelled == 0


def test_cancelling_everything_left_cancels_the_order(agent, order):
    tee, cup = lines_by_sku(order)["TEE-BLK-M"], lines_by_sku(order)["MUG-1"]
    agent.post(
        f"/orders/{order.number}/lines/{cup.pk}/cancel/", {"quantity": "1", "reason": "Not needed"}
    )
    response = agent.post(
        f"/orders/{order.number}/lines/{tee.pk}/cancel/", {"quantity": "2", "reason": "Not needed"}
    )
    assert "whole order is cancelled" in [str(m) for m in get_messages(response.wsgi_request)][-1]
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_line_of_another_order_is_404(agent, order, channel, stocked_product, manager, address):
    other = order_place(
        channel=channel,
        email="b@example.com",
        name="B",
        address=address,
        actor=manager,
        lines=[LineInput(product=stocked_product, quantity=1)],
    )
    ln = other.lines.get()
    assert (
        agent.post(
            f"/orders/{order.number}/lines/{ln.pk}/cancel/", {"quantity": "1", "reason": "x"}
        ).status_code
        == 404
    )
    assert Order.objects.get(pk=other.pk).lines.get().quantity_cancelled == 0
