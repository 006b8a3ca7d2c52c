"""The counter screen: scan, take payment, print the receipt."""

from decimal import Decimal

import pytest

from fulfillment.models import Shipment
from inventory.models import StockLevel
from inventory.services import stock_receive
from invoicing.models import Invoice, Payment
from orders.choices import OrderStatus
from orders.models import Order
from tests.factories import ChannelFactory, ProductFactory

pytestmark = pytest.mark.django_db

COUNTER = "/orders/counter/"


@pytest.fixture
def store(warehouses):
    ham = warehouses[0]
    ham.line1, ham.city, ham.postal_code, ham.country = "Am Sandtorkai 40", "Hamburg", "20457", "DE"
    ham.save()
    return ham


@pytest.fixture
def counter_channel(db):
    return ChannelFactory(slug="counter", name="Counter", kind="counter")


@pytest.fixture
def mug(db, warehouses, manager):
    product = ProductFactory(
        sku="MUG-1",
        name="Enamel mug",
        price=Decimal("9.50"),
        tax_rate=Decimal("0.1900"),
        barcode="4000000000017",
    )
    stock_receive(product=product, warehouse=warehouses[0], quantity=5, actor=manager)
    return product


@pytest.fixture
def agent(client, service_agent, store, counter_channel, stocked_product, mug):
    client.force_login(service_agent)
    return client


def sale(**extra) -> dict:
    data = {
        "lines-0-sku": "TEE-BLK-M",
        "lines-0-quantity": "2",
        "lines-1-sku": "MUG-1",
        "lines-1-quantity": "1",
        "payment_method": "card",
        "warehouse": "HAM",
        "scan": "",
        "email": "",
        "name": "",
        "cash_received": "",
        "payment_reference": "",
    }
    data.update(extra)
    return data


def test_counter_page_starts_with_the_scan_field(agent):
    response = agent.get(COUNTER)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="scan"' in html
    assert "autofocus" in html
    assert "Scan the first item" in html
    assert '<option value="HAM" selected>' in html
    assert 'name="take_payment"' in html


def test_warehouse_role_cannot_sell(client, warehouse_user, store, counter_channel):
    client.force_login(warehouse_user)
    assert client.get(COUNTER).status_code == 403
    assert client.post(COUNTER, sale(take_payment="1")).status_code == 403
    assert not Order.objects.exists()


def test_scanning_adds_a_line_and_scanning_again_adds_one_more(agent):
    html = agent.post(
        COUNTER, {"scan": "4000000000017", "payment_method": "card", "warehouse": "HAM"}
    ).content.decode()
    assert 'name="lines-0-sku" value="MUG-1"' in html
    assert 'name="lines-0-quantity" value="1"' in html
    assert "5 on the shelves in HAM" in html
    data = {
        "scan": "mug-1",
        "lines-0-sku": "MUG-1",
        "lines-0-quantity": "1",
        "payment_method": "card",
        "warehouse": "HAM",
    }
    html = agent.post(COUNTER, data).content.decode()
    assert 'name="lines-0-quantity" value="2"' in html
    assert 'name="lines-1-sku"' not in html
    assert 'name="scan" id="id_scan" value=""' in html  # ready for the next scan
    assert "€19.00" in html  # 2 x 9.50 net
    assert "€22.61" in html  # with 19 % VAT
    assert not Order.objects.exists()


def test_htmx_scan_returns_the_form_only(agent):
    response = agent.post(
        COUNTER,
        {"scan": "MUG-1", "payment_method": "card", "warehouse": "HAM"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith(
        '<form method="post" action="/orders/counter/" id="counter-form"'
    )


def test_unknown_scan_is_marked_at_the_scan_field(agent):
    html = agent.post(
        COUNTER, {"scan": "XYZ-404", "payment_method": "card", "warehouse": "HAM"}
    ).content.decode()
    assert 'id="id_scan-error" role="alert">No product with SKU, barcode or name “XYZ-404”.' in html
    assert 'value="XYZ-404"' in html  # kept, to correct it


def test_name_search_offers_products_to_add(agent):
    html = agent.post(
        COUNTER, {"scan": "enamel", "payment_method": "card", "warehouse": "HAM"}
    ).content.decode()
    assert "add one of these" in html
    assert 'name="add" value="MUG-1"' in html
    html = agent.post(
        COUNTER, {"add": "MUG-1", "scan": "enamel", "payment_method": "card", "warehouse": "HAM"}
    ).content.decode()
    assert 'name="lines-0-sku" value="MUG-1"' in html


def test_remove_a_line(agent):
    html = agent.post(COUNTER, sale(remove_line="0")).content.decode()
    assert 'name="lines-0-sku" value="MUG-1"' in html
    assert "TEE-BLK-M" not in html


def test_take_payment_hands_over_invoices_and_records_payment(
    agent, stocked_product, mug, store, service_agent
):
    response = agent.post(COUNTER, sale(take_payment="1", payment_reference="T-4711"))
    order = Order.objects.get()
    assert response.status_code == 302
    assert response.url == f"/orders/{order.number}/receipt/"
    assert (order.status, order.fulfillment_status, order.payment_status) == (
        OrderStatus.CLOSED,
        "delivered",
        "paid",
    )
    assert order.channel.slug == "counter"
    assert StockLevel.objects.get(product=stocked_product, warehouse=store).on_hand == 8
    assert StockLevel.objects.get(product=mug, warehouse=store).on_hand == 4
    assert Shipment.objects.get(order=order).carrier.name == "Handed over"
    invoice = Invoice.objects.get(order=order)
    payment = Payment.objects.get(order=order)
    assert (payment.amount, payment.method, payment.reference) == (order.total, "card", "T-4711")
    assert order.created_by == service_agent

    receipt = agent.get(response.url)
    html = receipt.content.decode()
    assert receipt.status_code == 200
    assert order.number in html
    assert f'href="/invoices/{invoice.number}.pdf"' in html
    assert "2 × €25.00" in html
    assert "€50.00" in html
    assert "1 × €9.50" in html
    assert "VAT 19 % on €59.50" in html
    assert "Paid · Card" in html
    assert "@page { size: 80mm 200mm;" in html  # prints on an 80 mm till roll
    assert order.status_url() in html
    assert 'href="/orders/counter/" autofocus' in html  # Enter starts the next sale


def test_take_payment_with_htmx_redirects_the_browser(agent):
    response = agent.post(COUNTER, sale(take_payment="1"), HTTP_HX_REQUEST="true")
    order = Order.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/orders/{order.number}/receipt/"


def test_cash_change_is_on_the_receipt(agent):
    response = agent.post(
        COUNTER, sale(take_payment="1", payment_method="cash", cash_received="100")
    )
    order = Order.objects.get()
    html = agent.get(response.url).content.decode()
    change = Decimal("100.00") - order.total
    assert f"Cash received 100.00 EUR, change {change} EUR" in html


def test_cash_below_the_total_is_marked_at_the_field(agent):
    html = agent.post(
        COUNTER, sale(take_payment="1", payment_method="cash", cash_received="10")
    ).content.decode()
    assert 'id="id_cash_received-error">Less than the total of 70.81 EUR.' in html
    assert "No payment taken" in html
    assert not Order.objects.exists()


def test_more_than_on_the_shelves_is_marked_on_the_line(agent):
    html = agent.post(COUNTER, sale(take_payment="1", **{"lines-1-quantity": "6"})).content.decode()
    assert 'id="lines-1-quantity-error">Only 5 of MUG-1 on the shelves in HAM; 6 wanted.' in html
    assert not Order.objects.exists()


def test_empty_sale_cannot_be_paid(agent):
    html = agent.post(
        COUNTER, {"take_payment": "1", "payment_method": "card", "warehouse": "HAM"}
    ).content.decode()
    assert "Scan or type at least one product." in html
    assert not Order.objects.exists()


def test_bad_customer_email_is_marked(agent):
    html = agent.post(COUNTER, sale(take_payment="1", email="not-an-email")).content.decode()
    assert (
        'id="id_email-error">Enter a valid email address, or leave it empty for a walk-in customer.'
        in html
    )
    assert not Order.objects.exists()


def test_named_customer_gets_the_sale(agent):
    agent.post(COUNTER, sale(take_payment="1", email="kim@example.com", name="Kim Park"))
    order = Order.objects.get()
    assert (order.customer.email, order.customer.name) == ("kim@example.com", "Kim Park")


def test_without_a_counter_channel_the_page_says_what_to_do(agent, counter_channel):
    counter_channel.active = False
    counter_channel.save()
    html = agent.get(COUNTER).content.decode()
    assert "No counter channel" in html
    html = agent.post(COUNTER, sale(take_payment="1")).content.decode()
    assert "No active counter channel" in html
    assert not Order.objects.exists()


def test_counter_order_page_links_to_its_receipt(agent):
    agent.post(COUNTER, sale(take_payment="1"))
    order = Order.objects.get()
    html = agent.get(order.get_absolute_url()).content.decode()
    assert f'href="/orders/{order.number}/receipt/"' in html
