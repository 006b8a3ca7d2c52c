"""The staff new-order page: one plain form post places an order; htmx helpers make it fast."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from customers.models import Address, Customer
from inventory.models import StockLevel
from inventory.services import stock_receive
from orders.models import Order, OrderEvent
from tests.factories import ChannelFactory, CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

NEW = "/orders/new/"


def order_data(**overrides) -> dict:
    data = {
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "phone": "+49 40 1234",
        "ship_name": "Ada Lovelace",
        "ship_line1": "Hafenstraße 12",
        "ship_line2": "",
        "ship_city": "Hamburg",
        "ship_region": "",
        "ship_postal_code": "20457",
        "ship_country": "de",
        "channel": "phone",
        "shipping_method": "Express",
        "shipping_total": "4.90",
        "payment_method": "card",
        "notes": "Leave at the door",
        "lines-0-sku": "TEE-BLK-M",
        "lines-0-quantity": "2",
    }
    data.update(overrides)
    return data


@pytest.fixture
def agent_client(client, service_agent, channel, stocked_product):
    client.force_login(service_agent)
    return client


def field_error(html: str, field_id: str, message: str) -> bool:
    """The message sits in the error element that belongs to this field."""
    return f'id="{field_id}-error">{message}</div>' in html


# ---------------------------------------------------------------- the page


def test_new_order_page_has_stable_field_names(agent_client):
    response = agent_client.get(NEW)
    assert response.status_code == 200
    html = response.content.decode()
    for name in [
        "email",
        "name",
        "phone",
        "ship_name",
        "ship_line1",
        "ship_line2",
        "ship_city",
        "ship_region",
        "ship_postal_code",
        "ship_country",
        "channel",
        "shipping_method",
        "shipping_total",
        "payment_method",
        "notes",
        "lines-0-sku",
        "lines-0-quantity",
        "lines-2-sku",
    ]:
        assert f'name="{name}"' in html, name
    assert '<option value="phone" selected>' in html


def test_anonymous_user_is_sent_to_login(client):
    response = client.get(NEW)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_warehouse_user_gets_a_clear_403(client, warehouse_user, channel):
    client.force_login(warehouse_user)
    response = client.get(NEW)
    assert response.status_code == 403
    assert "Your role cannot place orders" in response.content.decode()
    response = client.post(NEW, order_data())
    assert response.status_code == 403
    assert not Order.objects.exists()
    for url in [
        "/orders/new/line/?i=0",
        "/orders/new/row/?i=3",
        "/orders/new/customers/?customer_q=ad",
    ]:
        assert client.get(url).status_code == 403


def test_list_hides_new_order_button_from_warehouse(client, warehouse_user, placed_order):
    client.force_login(warehouse_user)
    html = client.get("/orders/").content.decode()
    assert 'class="btn btn-primary" href="/orders/new/"' not in html


# ---------------------------------------------------------------- success


def test_placing_an_order_reserves_stock_and_redirects_to_it(
    agent_client, stocked_product, service_agent
):
    response = agent_client.post(NEW, order_data())
    order = Order.objects.get()
    assert response.status_code == 302
    assert response.url == f"/orders/{order.number}/"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [f"Order {order.number} placed"]
    assert order.number == "NW-10001"
    assert order.channel.slug == "phone"
    assert order.customer.email == "ada@example.com"
    assert order.customer.name == "Ada Lovelace"
    assert (order.ship_city, order.ship_country, order.ship_postal_code) == (
        "Hamburg",
        "DE",
        "20457",
    )
    assert order.shipping_total == Decimal("4.90")
    assert order.total == Decimal("50.00") + Decimal("9.50") + Decimal("4.90")
    assert (order.shipping_method, order.payment_method, order.notes) == (
        "Express",
        "card",
        "Leave at the door",
    )
    assert order.created_by == service_agent
    line = order.lines.get()
    assert (line.sku, line.quantity, line.quantity_reserved) == ("TEE-BLK-M", 2, 2)
    assert StockLevel.objects.get(product=stocked_product).reserved == 2
    assert OrderEvent.objects.filter(order=order, type="placed", actor=service_agent).exists()

    page = agent_client.get(response.url)
    assert f"Order {order.number} placed" in page.content.decode()


def test_sku_field_takes_a_barcode_or_any_case_sku(agent_client):
    agent_client.post(
        NEW,
        order_data(
            **{
                "lines-0-sku": "4006381333931",
                "lines-0-quantity": "1",
                "lines-1-sku": "tee-blk-m",
                "lines-1-quantity": "1",
            }
        ),
    )
    order = Order.objects.get()
    assert [(ln.line_no, ln.sku, ln.quantity) for ln in order.lines.all()] == [
        (1, "TEE-BLK-M", 1),
        (2, "TEE-BLK-M", 1),
    ]


def test_blank_rows_are_skipped(agent_client):
    data = order_data(
        **{
            "lines-0-sku": "",
            "lines-0-quantity": "1",
            "lines-1-sku": "  ",
            "lines-1-quantity": "",
            "lines-4-sku": "TEE-BLK-M",
            "lines-4-quantity": "3",
        }
    )
    response = agent_client.post(NEW, data)
    assert response.status_code == 302
    assert [(ln.line_no, ln.quantity) for ln in Order.objects.get().lines.all()] == [(1, 3)]


def test_existing_customer_by_email_needs_no_name(agent_client):
    customer = CustomerFactory(email="grace@example.com", name="Grace Hopper")
    response = agent_client.post(NEW, order_data(email="GRACE@example.com", name=""))
    assert response.status_code == 302
    assert Order.objects.get().customer == customer
    assert Customer.objects.count() == 1


def test_picked_customer_is_used(agent_client):
    customer = CustomerFactory(email="grace@example.com", name="Grace Hopper")
    response = agent_client.post(
        NEW, order_data(customer=str(customer.pk), email="grace@example.com", name="")
    )
    assert response.status_code == 302
    assert Order.objects.get().customer == customer


def test_inactive_channel_is_refused(agent_client):
    ChannelFactory(slug="old", name="Old shop", kind="web", active=False)
    response = agent_client.post(NEW, order_data(channel="old"))
    assert response.status_code == 200
    assert field_error(
        response.content.decode(), "id_channel", "Choose one of the active sales channels."
    )
    assert not Order.objects.exists()


# ---------------------------------------------------------------- bad input: nothing saved, nothing lost


def assert_nothing_saved(stocked_product):
    assert not Order.objects.exists()
    assert StockLevel.objects.get(product=stocked_product).reserved == 0


def test_unknown_sku_is_marked_on_its_line(agent_client, stocked_product):
    response = agent_client.post(
        NEW, order_data(**{"lines-1-sku": "NOPE-123", "lines-1-quantity": "1"})
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert field_error(html, "lines-1-sku", "No product with SKU or barcode “NOPE-123”.")
    assert "The order was not placed." in html
    assert 'value="NOPE-123"' in html
    assert 'value="TEE-BLK-M"' in html
    assert 'value="Hafenstraße 12"' in html
    assert 'value="Leave at the door"' not in html
    assert "Leave at the door</textarea>" in html
    assert_nothing_saved(stocked_product)


@pytest.mark.parametrize("quantity", ["0", "-2"])
def test_zero_or_negative_quantity_is_marked_on_its_line(agent_client, stocked_product, quantity):
    response = agent_client.post(NEW, order_data(**{"lines-0-quantity": quantity}))
    assert response.status_code == 200
    html = response.content.decode()
    assert field_error(html, "lines-0-quantity", "Quantity must be at least 1.")
    assert f'value="{quantity}"' in html
    assert_nothing_saved(stocked_product)


def test_quantity_that_is_not_a_number_is_marked(agent_client, stocked_product):
    response = agent_client.post(NEW, order_data(**{"lines-0-quantity": "two"}))
    assert field_error(
        response.content.decode(), "lines-0-quantity", "Enter a whole number of at least 1."
    )
    assert_nothing_saved(stocked_product)


def test_more_than_available_is_marked_on_its_line(agent_client, stocked_product):
    data = order_data(
        **{
            "lines-0-sku": "TEE-BLK-M",
            "lines-0-quantity": "1",
            "lines-1-sku": "TEE-BLK-M",
            "lines-1-quantity": "11",
        }
    )
    response = agent_client.post(NEW, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert field_error(html, "lines-1-quantity", "Only 10 of TEE-BLK-M available; 11 requested.")
    assert 'id="lines-0-quantity-error"' not in html
    assert_nothing_saved(stocked_product)


def test_shortage_is_reported_on_the_right_row_when_rows_have_gaps(agent_client, stocked_product):
    data = order_data(**{"lines-0-sku": "", "lines-3-sku": "TEE-BLK-M", "lines-3-quantity": "50"})
    html = agent_client.post(NEW, data).content.decode()
    assert field_error(html, "lines-3-quantity", "Only 10 of TEE-BLK-M available; 50 requested.")
    assert_nothing_saved(stocked_product)


def test_missing_address_is_marked_next_to_each_field(agent_client, stocked_product):
    response = agent_client.post(
        NEW, order_data(ship_line1="", ship_city="", ship_postal_code="", ship_country="")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert field_error(html, "id_ship_line1", "Enter the street address.")
    assert field_error(html, "id_ship_city", "Enter the city.")
    assert field_error(html, "id_ship_postal_code", "Enter the postal code.")
    assert field_error(html, "id_ship_country", "Choose the country.")
    assert 'value="Ada Lovelace"' in html
    assert_nothing_saved(stocked_product)


def test_country_must_be_two_letters(agent_client, stocked_product):
    html = agent_client.post(NEW, order_data(ship_country="Germany")).content.decode()
    assert field_error(html, "id_ship_country", "Use the two-letter country code, e.g. DE or US.")
    assert_nothing_saved(stocked_product)


def test_new_customer_needs_email_and_name(agent_client, stocked_product):
    html = agent_client.post(NEW, order_data(email="", name="")).content.decode()
    assert field_error(html, "id_email", "Enter the customer&#x27;s email address.")
    html = agent_client.post(NEW, order_data(email="new@example.com", name="")).content.decode()
    assert field_error(html, "id_name", "Enter the customer&#x27;s name (new customer).")
    html = agent_client.post(NEW, order_data(email="not-an-email")).content.decode()
    assert field_error(html, "id_email", "Enter a valid email address, e.g. name@example.com.")
    assert_nothing_saved(stocked_product)
    assert not Customer.objects.exists()


def test_an_order_needs_a_line(agent_client, stocked_product):
    html = agent_client.post(NEW, order_data(**{"lines-0-sku": ""})).content.decode()
    assert "Add at least one line: a SKU or barcode and a quantity." in html
    assert_nothing_saved(stocked_product)


def test_negative_shipping_is_refused(agent_client, stocked_product):
    html = agent_client.post(NEW, order_data(shipping_total="-1")).content.decode()
    assert field_error(html, "id_shipping_total", "Shipping cannot be negative.")
    assert_nothing_saved(stocked_product)


def test_every_problem_is_shown_at_once(agent_client, stocked_product):
    data = order_data(
        ship_city="", **{"lines-0-sku": "NOPE", "lines-1-sku": "TEE-BLK-M", "lines-1-quantity": "0"}
    )
    html = agent_client.post(NEW, data).content.decode()
    assert field_error(html, "id_ship_city", "Enter the city.")
    assert field_error(html, "lines-0-sku", "No product with SKU or barcode “NOPE”.")
    assert field_error(html, "lines-1-quantity", "Quantity must be at least 1.")
    assert_nothing_saved(stocked_product)


def test_add_line_without_javascript_keeps_everything(agent_client, stocked_product):
    data = order_data(
        add_line="1",
        **{"lines-1-sku": "", "lines-1-quantity": "1", "lines-2-sku": "", "lines-2-quantity": "1"},
    )
    response = agent_client.post(NEW, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="lines-3-sku"' in html
    assert 'value="TEE-BLK-M"' in html
    assert 'value="Hafenstraße 12"' in html
    assert "field-error" not in html
    assert "The order was not placed" not in html
    assert_nothing_saved(stocked_product)


# ---------------------------------------------------------------- htmx helpers


def test_line_fragment_shows_availability_per_warehouse(
    agent_client, stocked_product, warehouses, manager
):
    stock_receive(product=stocked_product, warehouse=warehouses[1], quantity=2, actor=manager)
    response = agent_client.get(
        "/orders/new/line/",
        {"i": 0, "lines-0-sku": "TEE-BLK-M", "lines-0-quantity": "2"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "12 available (HAM 10 · BER 2)" in html
    assert "Organic tee, black, M" in html
    assert "is-short" not in html
    assert 'id="order-summary" hx-swap-oob="true"' in html


def test_line_fragment_turns_red_when_quantity_exceeds_availability(agent_client, stocked_product):
    html = agent_client.get(
        "/orders/new/line/",
        {"i": 0, "lines-0-sku": "4006381333931", "lines-0-quantity": "11"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "avail-short is-short" in html
    assert "11 wanted" in html


def test_line_fragment_suggests_products_by_name(agent_client, stocked_product):
    ProductFactory(sku="TEE-WHT-M", name="Organic tee, white, M")
    html = agent_client.get(
        "/orders/new/line/",
        {"i": 1, "lines-1-sku": "organic", "lines-1-quantity": "1"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "did you mean" in html
    assert "TEE-BLK-M" in html
    assert "TEE-WHT-M" in html
    picked = agent_client.get(
        "/orders/new/line/",
        {"i": 1, "pick": "TEE-WHT-M", "lines-1-sku": "organic"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert 'id="line-1"' in picked
    assert 'value="TEE-WHT-M"' in picked
    assert "autofocus" in picked


def test_new_row_fragment_brings_the_next_index(agent_client):
    html = agent_client.get("/orders/new/row/", {"i": 3}, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="lines-3-sku"' in html
    assert 'name="lines-3-quantity"' in html
    assert '"i": 4' in html
    assert 'hx-swap-oob="true"' in html
    assert agent_client.get("/orders/new/row/", {"i": 50}).status_code == 404


def test_customer_search_and_pick_fill_contact_and_address(agent_client):
    customer = CustomerFactory(name="Grace Hopper", email="grace@example.com", phone="+1 555")
    Address.objects.create(
        customer=customer,
        name="Grace Hopper",
        line1="Navy Yard 1",
        city="Arlington",
        postal_code="22201",
        country="US",
        is_default=True,
    )
    html = agent_client.get(
        "/orders/new/customers/", {"customer_q": "grac"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Grace Hopper" in html
    assert "grace@example.com" in html
    assert "Navy Yard 1" in html
    html = agent_client.get(
        "/orders/new/customer/", {"customer": customer.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'id="customer-card"' in html
    for value in [
        "grace@example.com",
        "Grace Hopper",
        "+1 555",
        "Navy Yard 1",
        "Arlington",
        "22201",
        "US",
    ]:
        assert f'value="{value}"' in html, value
    none = agent_client.get(
        "/orders/new/customers/", {"customer_q": "zz"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "No customer matches" in none


def test_new_order_can_start_from_a_customer(agent_client):
    customer = CustomerFactory(name="Grace Hopper", email="grace@example.com")
    html = agent_client.get(NEW, {"customer": customer.pk}).content.decode()
    assert 'value="grace@example.com"' in html
    assert "Existing customer" in html
