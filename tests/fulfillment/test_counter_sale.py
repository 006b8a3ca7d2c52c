"""Counter sales: placed, handed over, invoiced and paid in one transaction, or nothing."""

from decimal import Decimal

import pytest
from django.core import mail

from core.errors import NotAllowed, ValidationFailed
from customers.models import Customer
from fulfillment.choices import ShipmentStatus
from fulfillment.counter import COUNTER_CARRIER_CODE, counter_sale, counter_warehouse
from fulfillment.models import Carrier, Shipment
from inventory.models import Reservation, StockLevel, StockMovement
from inventory.selectors import stock_discrepancies
from inventory.services import stock_receive
from invoicing.models import Invoice, Payment
from orders.choices import EventType, OrderStatus
from orders.models import Order
from orders.services import LineInput
from tests.factories import ChannelFactory, CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(warehouses):
    ham, ber = warehouses
    for wh, street, city, postal in [
        (ham, "Am Sandtorkai 40", "Hamburg", "20457"),
        (ber, "Gradestraße 90", "Berlin", "12347"),
    ]:
        wh.line1, wh.city, wh.postal_code, wh.country = street, city, postal, "DE"
        wh.save()
    return ham


@pytest.fixture
def counter_channel(db):
    return ChannelFactory(slug="counter", name="Counter", kind="counter")


@pytest.fixture
def mug(db, warehouses, manager):
    product = ProductFactory(
        sku="MUG-1", name="Enamel mug", price=Decimal("9.50"), tax_rate=Decimal("0.1900")
    )
    stock_receive(
        product=product, warehouse=warehouses[0], quantity=5, actor=manager, reference="PO-2"
    )
    return product


def level(product, warehouse):
    return StockLevel.objects.get(product=product, warehouse=warehouse)


def test_counter_sale_closes_the_order_delivered_and_paid(
    store, counter_channel, stocked_product, mug, service_agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        order = counter_sale(
            channel=counter_channel,
            actor=service_agent,
            payment_method="card",
            lines=[
                LineInput(product=stocked_product, quantity=2),
                LineInput(product=mug, quantity=1),
            ],
        )
    assert (order.status, order.fulfillment_status, order.payment_status) == (
        OrderStatus.CLOSED,
        "delivered",
        "paid",
    )
    # Stock left the store at once; nothing stays reserved.
    assert level(stocked_product, store).on_hand == 8
    assert level(stocked_product, store).reserved == 0
    assert level(mug, store).on_hand == 4
    assert stock_discrepancies() == []
    ships = StockMovement.objects.filter(reference__startswith="SH-", kind="shipment")
    assert {m.actor for m in ships} == {service_agent}
    # One shipment, handed over, from the store, by the counter carrier.
    shipment = Shipment.objects.get(order=order)
    assert shipment.status == ShipmentStatus.DELIVERED
    assert shipment.warehouse == store
    assert shipment.carrier.code == COUNTER_CARRIER_CODE
    assert shipment.carrier.name == "Handed over"
    assert not Carrier.objects.get(code=COUNTER_CARRIER_CODE).active  # not offered by the ship form
    # Invoiced and paid in full.
    invoice = Invoice.objects.get(order=order)
    assert invoice.total == order.total == Decimal("70.81")
    payment = Payment.objects.get(order=order)
    assert payment.amount == order.total
    assert payment.method == "card"
    assert payment.recorded_by == service_agent
    # A walk-in customer for this sale alone, the order ships "to" the store.
    assert order.customer.name == "Counter customer"
    assert order.email.startswith("counter+")
    assert order.email.endswith("@example.com")
    assert order.ship_city == "Hamburg"
    assert order.ship_line1 == "Am Sandtorkai 40"
    types = list(order.events.values_list("type", flat=True))
    for t in [
        EventType.PLACED,
        EventType.SHIPPED,
        EventType.DELIVERED,
        EventType.INVOICE_ISSUED,
        EventType.PAYMENT_RECORDED,
        EventType.CLOSED,
    ]:
        assert t in types
    # Only the confirmation (the receipt) is queued for the customer.
    assert list(order.notifications.values_list("kind", flat=True)) == ["order_confirmation"]


def test_two_walk_in_sales_of_the_same_thing_are_not_duplicates(
    store, counter_channel, mug, service_agent
):
    a = counter_sale(
        channel=counter_channel,
        actor=service_agent,
        payment_method="cash",
        lines=[LineInput(product=mug, quantity=1)],
    )
    b = counter_sale(
        channel=counter_channel,
        actor=service_agent,
        payment_method="cash",
        lines=[LineInput(product=mug, quantity=1)],
    )
    assert a.customer != b.customer
    assert a.status == b.status == OrderStatus.CLOSED
    assert not b.events.filter(type=EventType.HELD).exists()


def test_known_customer_keeps_their_history(store, counter_channel, mug, service_agent):
    customer = CustomerFactory(email="grace@example.com", name="Grace Hopper")
    order = counter_sale(
        channel=counter_channel,
        actor=service_agent,
        payment_method="card",
        lines=[LineInput(product=mug, quantity=1)],
        customer=customer,
    )
    assert order.customer == customer
    assert order.ship_name == "Grace Hopper"
    by_email = counter_sale(
        channel=counter_channel,
        actor=service_agent,
        payment_method="card",
        lines=[LineInput(product=mug, quantity=2)],
        email="GRACE@example.com",
    )
    assert by_email.customer == customer
    new = counter_sale(
        channel=counter_channel,
        actor=service_agent,
        payment_method="card",
        lines=[LineInput(product=mug, quantity=1)],
        email="alan@example.com",
        name="Alan Turing",
    )
    assert new.customer.name == "Alan Turing"
    assert Customer.objects.filter(email="alan@example.com").exists()


def test_cash_received_records_the_change(store, counter_channel, mug, service_agent):
    order = counter_sale(
        channel=counter_channel,
        actor=service_agent,
        payment_method="cash",
        lines=[LineInput(product=mug, quantity=1)],
        cash_received=Decimal("20"),
    )
    payment = Payment.objects.get(order=order)
    assert order.total == Decimal("11.31")
    assert payment.reference == "Cash received 20.00 EUR, change 8.69 EUR"


def test_cash_below_the_total_changes_nothing(store, counter_channel, mug, service_agent):
    with pytest.raises(ValidationFailed) as exc:
        counter_sale(
            channel=counter_channel,
            actor=service_agent,
            payment_method="cash",
            lines=[LineInput(product=mug, quantity=1)],
            cash_received=Decimal("10"),
        )
    assert exc.value.errors == {"cash_received": ["Less than the total of 11.31 EUR."]}
    assert not Order.objects.exists()
    assert level(mug, store).on_hand == 5
    assert level(mug, store).reserved == 0


def test_stock_comes_from_the_store_even_when_another_warehouse_ranks_first(
    warehouses, store, counter_channel, mug, service_agent, manager
):
    ham, ber = warehouses
    stock_receive(product=mug, warehouse=ber, quantity=3, actor=manager, reference="PO-3")
    order = counter_sale(
        channel=counter_channel,
        actor=service_agent,
        payment_method="card",
        lines=[LineInput(product=mug, quantity=2)],
        warehouse=ber,
    )
    assert level(mug, ber).on_hand == 1
    assert level(mug, ham).on_hand == 5
    assert level(mug, ham).reserved == 0
    assert Shipment.objects.get(order=order).warehouse == ber
    assert order.ship_city == "Berlin"
    assert not Reservation.objects.filter(quantity__gt=0).exists()
    assert stock_discrepancies() == []


def test_a_counter_sale_reserves_once_per_line_in_the_store_and_nowhere_else(
    warehouses, store, counter_channel, mug, stocked_product, service_agent, manager
):
    ham, ber = warehouses
    stock_receive(product=mug, warehouse=ber, quantity=3, actor=manager, reference="PO-3")
    stock_receive(
        product=stocked_product, warehouse=ber, quantity=4, actor=manager, reference="PO-3"
    )
    # HAM ranks first and holds both; the customer stands in the Berlin store.
    order = counter_sale(
        channel=counter_channel,
        actor=service_agent,
        payment_method="card",
        lines=[LineInput(product=mug, quantity=2), LineInput(product=stocked_product, quantity=1)],
        warehouse=ber,
    )
    ledger = list(
        StockMovement.objects.filter(reference=order.number)
        .order_by("id")
        .values_list("kind", "product__sku", "warehouse__code", "on_hand_delta", "reserved_delta")
    )
    assert ledger == [
        ("reservation", "MUG-1", "BER", 0, 2),
        ("reservation", "TEE-BLK-M", "BER", 0, 1),
    ]  # one row per line, in the store: no reservation elsewhere, no release, no move
    shipped = StockMovement.objects.filter(kind="shipment").values_list(
        "product__sku", "warehouse__code", "on_hand_delta", "reserved_delta"
    )
    assert sorted(shipped) == [("MUG-1", "BER", -2, -2), ("TEE-BLK-M", "BER", -1, -1)]
    assert set(Reservation.objects.values_list("warehouse__code", flat=True)) == {"BER"}
    assert Reservation.objects.count() == 2  # one per line, used up by the hand-over
    assert not StockMovement.objects.filter(warehouse=ham).exclude(kind="receipt").exists()
    reserved = order.events.filter(type=EventType.RESERVED).values_list("message", flat=True)
    assert list(reserved) == [
        "Reserved in BER (Berlin), where the goods are taken from."
    ]  # one reservation entry on the timeline
    assert order.lines.get(sku="MUG-1").quantity_reserved == 0  # handed over
    assert stock_discrepancies() == []


def test_short_shelves_fail_naming_the_line(
    store, counter_channel, mug, stocked_product, service_agent
):
    with pytest.raises(ValidationFailed) as exc:
        counter_sale(
            channel=counter_channel,
            actor=service_agent,
            payment_method="card",
            lines=[
                LineInput(product=stocked_product, quantity=1),
                LineInput(product=mug, quantity=9),
            ],
        )
    assert exc.value.errors == {
        "lines-1-quantity": ["Only 5 of MUG-1 on the shelves in HAM; 9 wanted."]
    }
    assert not Order.objects.exists()


def test_backorderable_products_are_not_backordered_at_the_counter(
    store, counter_channel, service_agent
):
    product = ProductFactory(sku="PRE-1", allow_backorder=True)
    with pytest.raises(ValidationFailed) as exc:
        counter_sale(
            channel=counter_channel,
            actor=service_agent,
            payment_method="card",
            lines=[LineInput(product=product, quantity=1)],
        )
    assert exc.value.errors == {"lines-0-quantity": ["No PRE-1 on the shelves in HAM."]}


def test_payment_method_must_be_card_or_cash(store, counter_channel, mug, service_agent):
    with pytest.raises(ValidationFailed) as exc:
        counter_sale(
            channel=counter_channel,
            actor=service_agent,
            payment_method="invoice",
            lines=[LineInput(product=mug, quantity=1)],
        )
    assert "payment_method" in exc.value.errors


def test_store_without_an_address_is_refused(warehouses, counter_channel, mug, service_agent):
    with pytest.raises(ValidationFailed) as exc:
        counter_sale(
            channel=counter_channel,
            actor=service_agent,
            payment_method="card",
            lines=[LineInput(product=mug, quantity=1)],
            warehouse=warehouses[0],
        )
    assert "no complete address" in exc.value.errors["warehouse"][0]


def test_warehouse_and_finance_roles_cannot_sell_at_the_counter(
    store, counter_channel, mug, warehouse_user
):
    with pytest.raises(NotAllowed):
        counter_sale(
            channel=counter_channel,
            actor=warehouse_user,
            payment_method="card",
            lines=[LineInput(product=mug, quantity=1)],
        )
    assert not Order.objects.exists()


def test_sale_above_the_review_threshold_needs_a_manager(
    store, counter_channel, mug, service_agent, manager, settings
):
    settings.HOLD_ORDERS_ABOVE = Decimal("20.00")
    with pytest.raises(NotAllowed, match="need a manager"):
        counter_sale(
            channel=counter_channel,
            actor=service_agent,
            payment_method="card",
            lines=[LineInput(product=mug, quantity=2)],
        )
    assert not Order.objects.exists()
    order = counter_sale(
        channel=counter_channel,
        actor=manager,
        payment_method="card",
        lines=[LineInput(product=mug, quantity=2)],
    )
    assert order.status == OrderStatus.CLOSED
    assert order.events.filter(type=EventType.RELEASED).exists()


def test_counter_warehouse_setting_picks_the_store(warehouses, settings):
    settings.COUNTER_WAREHOUSE = "ber"
    assert counter_warehouse() == warehouses[1]
    settings.COUNTER_WAREHOUSE = ""
    assert counter_warehouse() == warehouses[0]


def test_customer_receipt_email_is_sent(
    store, counter_channel, mug, service_agent, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = counter_sale(
            channel=counter_channel,
            actor=service_agent,
            payment_method="card",
            lines=[LineInput(product=mug, quantity=1)],
            email="kim@example.com",
            name="Kim",
        )
    assert [m.to for m in mail.outbox] == [["kim@example.com"]]
    assert order.number in mail.outbox[0].subject
