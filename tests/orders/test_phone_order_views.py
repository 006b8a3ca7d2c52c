"""The phone order page, issue B: customer history, availability with expected receipts and
backorders, substitutes, price overrides by role, shipping methods with their charge."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Address
from inventory.models import ExpectedReceipt
from inventory.services import stock_receive
from orders.choices import OrderStatus
from orders.models import Order
from orders.services import LineInput, order_place
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

NEW = "/orders/new/"
LINE = "/orders/new/line/"


def order_data(**overrides) -> dict:
    data = {
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "phone": "",
        "ship_name": "Ada Lovelace",
        "ship_line1": "Hafenstraße 12",
        "ship_line2": "",
        "ship_city": "Hamburg",
        "ship_region": "",
        "ship_postal_code": "20457",
        "ship_country": "DE",
        "channel": "phone",
        "shipping_method": "Standard",
        "shipping_total": "4.90",
        "payment_method": "card",
        "notes": "",
        "lines-0-sku": "TEE-BLK-M",
        "lines-0-quantity": "2",
    }
    data.update(overrides)
    return data


@pytest.fixture
def agent(client, service_agent, channel, stocked_product):
    client.force_login(service_agent)
    return client


@pytest.fixture
def boss(client, manager, channel, stocked_product):
    client.force_login(manager)
    return client


def fragment(client, **params) -> str:
    response = client.get(LINE, params, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


# ---------------------------------------------------------------- the customer


def test_picked_customer_shows_last_three_orders_and_address_book(
    agent, manager, channel, stocked_product
):
    customer = CustomerFactory(name="Grace Hopper", email="grace@example.com")
    home = {
        "name": "Grace Hopper",
        "line1": "Navy Yard 1",
        "city": "Arlington",
        "postal_code": "22201",
        "country": "US",
    }
    work = {**home, "line1": "Pentagon 2"}
    numbers = []
    for i, addr in enumerate([home, work, home, home]):
        o = order_place(
            channel=channel,
            customer=customer,
            email=customer.email,
            address=addr,
            actor=manager,
            lines=[LineInput(product=stocked_product, quantity=1 + i)],
            shipping_method="Express",
            shipping_total=Decimal("9.90"),
            payment_method="invoice",
        )
        numbers.append(o.number)
    html = agent.get(
        "/orders/new/customer/", {"customer": customer.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Last orders" in html
    for number in numbers[1:]:
        assert number in html
    assert numbers[0] not in html  # three, newest first
    assert "All 4 orders" in html
    assert "Navy Yard 1, Arlington" in html
    assert "Pentagon 2, Arlington" in html
    # Shipping and payment come along from the last order, out of band.
    assert 'id="order-details" hx-swap-oob="true"' in html
    assert '<option value="Express" selected>' in html
    assert '<option value="invoice" selected>' in html
    assert 'value="9.90"' in html


def test_new_customer_card_says_it_is_their_first_order(agent):
    customer = CustomerFactory(name="Grace Hopper")
    html = agent.get(NEW, {"customer": customer.pk}).content.decode()
    assert "No orders yet" in html


# ---------------------------------------------------------------- availability


def test_availability_shows_the_next_expected_receipt(agent, stocked_product, warehouses):
    ExpectedReceipt.objects.create(
        product=stocked_product,
        warehouse=warehouses[0],
        quantity=40,
        expected_on=timezone.localdate() + datetime.timedelta(days=5),
    )
    html = fragment(agent, i=0, **{"lines-0-sku": "TEE-BLK-M", "lines-0-quantity": "2"})
    due = (timezone.localdate() + datetime.timedelta(days=5)).strftime("%-d %b")
    assert "10 available (HAM 10)" in html
    assert f"next 40 due {due}" in html


def test_backorderable_product_says_what_will_be_backordered_and_when(agent, warehouses, manager):
    product = ProductFactory(sku="DOWN-M", name="Down jacket", allow_backorder=True)
    stock_receive(product=product, warehouse=warehouses[0], quantity=3, actor=manager)
    day = timezone.localdate() + datetime.timedelta(days=4)
    ExpectedReceipt.objects.create(
        product=product, warehouse=warehouses[0], quantity=10, expected_on=day
    )
    html = fragment(agent, i=0, **{"lines-0-sku": "DOWN-M", "lines-0-quantity": "5"})
    assert f"3 available, 2 will be backordered (expected {day:%-d %b})" in html
    assert "avail-backorder is-backorder" in html  # amber, not red
    assert "is-short" not in html
    html = fragment(agent, i=0, **{"lines-0-sku": "DOWN-M", "lines-0-quantity": "20"})
    assert "17 will be backordered (no delivery expected yet)" in html


def test_expected_date_counts_backorders_already_waiting(agent, warehouses, manager, channel):
    product = ProductFactory(sku="DOWN-M", name="Down jacket", allow_backorder=True)
    first = timezone.localdate() + datetime.timedelta(days=3)
    later = timezone.localdate() + datetime.timedelta(days=9)
    ExpectedReceipt.objects.create(
        product=product, warehouse=warehouses[0], quantity=4, expected_on=first
    )
    ExpectedReceipt.objects.create(
        product=product, warehouse=warehouses[0], quantity=10, expected_on=later
    )
    order_place(
        channel=channel,
        email="x@example.com",
        name="X",
        actor=manager,
        address={"name": "X", "line1": "A 1", "city": "B", "postal_code": "1", "country": "DE"},
        lines=[LineInput(product=product, quantity=3)],
    )  # 3 already wait for the first receipt
    html = fragment(agent, i=0, **{"lines-0-sku": "DOWN-M", "lines-0-quantity": "2"})
    assert f"None in stock: 2 will be backordered (expected {later:%-d %b})" in html


def test_short_line_offers_substitutes_with_their_availability(
    agent, stocked_product, warehouses, manager
):
    white = ProductFactory(sku="TEE-WHT-M", name="Organic tee, white, M")
    grey = ProductFactory(sku="TEE-GRY-M", name="Organic tee, grey, M")
    stock_receive(product=white, warehouse=warehouses[1], quantity=20, actor=manager)
    stocked_product.substitutes.set([white, grey])
    html = fragment(agent, i=0, **{"lines-0-sku": "TEE-BLK-M", "lines-0-quantity": "12"})
    assert "avail-short is-short" in html
    assert "Substitutes:" in html
    assert 'value="0:TEE-WHT-M"' in html
    assert "20 avail." in html
    assert 'value="0:TEE-GRY-M"' in html
    assert "0 avail." in html
    # Enough stock: no substitutes offered.
    assert "Substitutes:" not in fragment(
        agent, i=0, **{"lines-0-sku": "TEE-BLK-M", "lines-0-quantity": "2"}
    )


def test_one_click_replaces_the_line_with_a_substitute(agent, stocked_product, warehouses, manager):
    white = ProductFactory(sku="TEE-WHT-M", name="Organic tee, white, M")
    stock_receive(product=white, warehouse=warehouses[1], quantity=20, actor=manager)
    stocked_product.substitutes.set([white])
    html = fragment(
        agent, i=1, pick="TEE-WHT-M", **{"lines-1-sku": "TEE-BLK-M", "lines-1-quantity": "12"}
    )
    assert 'id="line-1"' in html
    assert 'value="TEE-WHT-M"' in html
    assert 'value="12"' in html  # the quantity stays
    assert "20 available" in html
    # Without JavaScript the same button posts the form.
    response = agent.post(NEW, order_data(substitute="0:TEE-WHT-M", **{"lines-0-quantity": "12"}))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="lines-0-sku" value="TEE-WHT-M"' in page
    assert not Order.objects.exists()


def test_placing_a_short_line_names_its_substitutes_next_to_the_line(
    agent, stocked_product, warehouses, manager
):
    white = ProductFactory(sku="TEE-WHT-M")
    stock_receive(product=white, warehouse=warehouses[1], quantity=5, actor=manager)
    stocked_product.substitutes.set([white])
    html = agent.post(NEW, order_data(**{"lines-0-quantity": "11"})).content.decode()
    assert (
        'id="lines-0-quantity-error">Only 10 of TEE-BLK-M available; 11 requested. Substitutes: TEE-WHT-M (5 available).'
        in html
    )
    assert not Order.objects.exists()


def test_backordered_order_is_placed_with_the_rest_waiting(agent, warehouses, manager):
    product = ProductFactory(sku="DOWN-M", name="Down jacket", allow_backorder=True)
    stock_receive(product=product, warehouse=warehouses[0], quantity=1, actor=manager)
    response = agent.post(NEW, order_data(**{"lines-0-sku": "DOWN-M", "lines-0-quantity": "3"}))
    assert response.status_code == 302
    line = Order.objects.get().lines.get()
    assert (line.quantity_reserved, line.quantity_backordered) == (1, 2)


# ---------------------------------------------------------------- prices


def test_price_fields_only_for_roles_allowed_to_change_prices(
    agent, boss, service_agent, manager, client
):
    client.force_login(service_agent)
    html = client.get(NEW).content.decode()
    assert 'name="lines-0-unit_price"' not in html
    assert 'name="lines-0-discount"' not in html
    client.force_login(manager)
    html = client.get(NEW).content.decode()
    assert 'name="lines-0-unit_price"' in html
    assert 'name="lines-0-discount"' in html


def test_manager_sets_a_unit_price(boss, stocked_product):
    response = boss.post(NEW, order_data(**{"lines-0-unit_price": "19,90"}))
    assert response.status_code == 302
    line = Order.objects.get().lines.get()
    assert (line.unit_price, line.list_price) == (Decimal("19.90"), Decimal("25.00"))


def test_manager_gives_a_discount_that_computes_the_unit_price(boss):
    response = boss.post(NEW, order_data(**{"lines-0-discount": "10"}))
    assert response.status_code == 302
    order = Order.objects.get()
    line = order.lines.get()
    assert (line.unit_price, line.list_price) == (Decimal("22.50"), Decimal("25.00"))
    assert order.subtotal == Decimal("45.00")


def test_discount_preview_shows_the_new_line_total(boss):
    html = fragment(
        boss, i=0, **{"lines-0-sku": "TEE-BLK-M", "lines-0-quantity": "2", "lines-0-discount": "10"}
    )
    assert "Price set by hand: €22.50 instead of €25.00 (10 % off)" in html
    assert "€45.00" in html


def test_customer_service_price_is_refused_next_to_the_line(agent, stocked_product):
    response = agent.post(NEW, order_data(**{"lines-0-unit_price": "1.00"}))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="lines-0-price-error">Only a Manager may change prices or give discounts.' in html
    assert not Order.objects.exists()
    response = agent.post(NEW, order_data(**{"lines-0-discount": "50"}))
    assert "Only a Manager may change prices" in response.content.decode()
    assert not Order.objects.exists()


def test_catalogue_price_typed_by_customer_service_is_no_override(agent):
    assert agent.post(NEW, order_data(**{"lines-0-unit_price": "25.00"})).status_code == 302
    assert Order.objects.get().lines.get().list_price is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("unit_price", "abc", "Enter the unit price as a number, e.g. 19.90."),
        ("unit_price", "-1", "A price cannot be negative."),
        ("discount", "120", "A discount is between 0 and 100 %."),
        ("discount", "ten", "Enter the discount as a percentage, e.g. 10."),
    ],
)
def test_bad_price_or_discount_is_marked_on_its_line(boss, field, value, message):
    html = boss.post(NEW, order_data(**{f"lines-0-{field}": value})).content.decode()
    assert f'id="lines-0-price-error">{message}' in html
    assert not Order.objects.exists()


# ---------------------------------------------------------------- shipping and payment


def test_shipping_method_is_a_select_of_the_merchants_methods(agent):
    html = agent.get(NEW).content.decode()
    assert '<select name="shipping_method"' in html
    for value in ["Standard", "Express", "Pickup"]:
        assert f'<option value="{value}"' in html
    assert '<option value="Standard" selected>' in html
    assert 'value="4.90"' in html  # the standard charge, filled in
    assert '"Express": "9.90"' in html  # the page knows each method's charge


def test_empty_shipping_cost_takes_the_methods_charge(agent):
    assert (
        agent.post(NEW, order_data(shipping_method="express", shipping_total="")).status_code == 302
    )
    order = Order.objects.get()
    assert (order.shipping_method, order.shipping_total) == ("Express", Decimal("9.90"))


def test_unknown_shipping_method_is_refused(agent):
    html = agent.post(NEW, order_data(shipping_method="Teleport")).content.decode()
    assert 'id="id_shipping_method-error"' in html
    assert not Order.objects.exists()


def test_pay_first_order_is_placed_on_hold_and_says_so(agent, settings):
    settings.PAY_BEFORE_SHIPPING_METHODS = ["bank_transfer"]
    response = agent.post(NEW, order_data(payment_method="bank_transfer"), follow=True)
    order = Order.objects.get()
    assert order.status == OrderStatus.ON_HOLD
    html = response.content.decode()
    assert "placed and put on hold" in html
    assert "Payment required before shipping" in html  # the hold code on the order page


def test_picked_customer_address_lands_in_the_book_once(agent, channel):
    customer = CustomerFactory(email="grace@example.com", name="Grace Hopper")
    Address.objects.create(
        customer=customer,
        name="Grace Hopper",
        line1="Hafenstraße 12",
        city="Hamburg",
        postal_code="20457",
        country="DE",
    )
    data = order_data(
        customer=str(customer.pk),
        email="grace@example.com",
        name="Grace Hopper",
        ship_name="Grace Hopper",
    )
    assert agent.post(NEW, data).status_code == 302
    assert customer.addresses.count() == 1
