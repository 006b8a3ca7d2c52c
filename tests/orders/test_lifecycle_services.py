from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction

from core.errors import DomainError, NotAllowed, ValidationFailed
from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_mark_delivered,
    shipment_ship,
    shipments_create,
)
from inventory.models import StockLevel
from inventory.selectors import stock_discrepancies
from inventory.services import stock_receive
from invoicing.models import Invoice
from invoicing.services import invoice_issue, payment_record
from orders.models import Notification, OrderEvent
from orders.services import (
    LineInput,
    notification_send,
    order_cancel,
    order_hold,
    order_place,
    order_release,
)
from orders.tasks import send_notification
from returns.services import return_receive, return_refund, return_request_create
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def ship_all(order, user, carrier):
    shipments = shipments_create(order=order, actor=user)
    for s in shipments:
        shipment_confirm_picked(shipment=s, actor=user)
        shipment_confirm_packed(shipment=s, actor=user)
        shipment_ship(shipment=s, carrier=carrier, tracking_number=f"TRK{s.number}", actor=user)
    return shipments


def test_placement_numbers_orders_and_writes_the_timeline(
    placed_order, channel, stocked_product, manager, address
):
    second = order_place(
        channel=channel,
        email="bob@example.com",
        name="Bob",
        address=address,
        lines=[LineInput(stocked_product, 1)],
        actor=manager,
    )
    assert placed_order.number == "NW-10001"
    assert second.number == "NW-10002"
    assert placed_order.total == Decimal("50.00") + Decimal("9.50") + Decimal("4.90")
    types = list(placed_order.events.values_list("type", flat=True))
    assert types[:2] == ["placed", "reserved"]
    assert placed_order.lines.get().quantity_reserved == 2
    assert placed_order.customer.addresses.count() == 1


def test_confirmation_email_is_queued_after_commit_and_sent_once(
    channel, stocked_product, manager, address, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order = order_place(
            channel=channel,
            email="ada@example.com",
            name="Ada",
            address=address,
            lines=[LineInput(stocked_product, 1)],
            actor=manager,
        )
    # Nothing leaves before the order is committed: the email waits for the commit.
    assert any(getattr(cb, "func", None) == send_notification.delay for cb in callbacks)
    notification = Notification.objects.get(order=order, kind="order_confirmation")
    assert notification.status == "pending"

    notification_send(notification_id=notification.pk)
    notification_send(notification_id=notification.pk)  # a second delivery of the task

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert order.number in message.subject
    assert order.status_url() in message.body
    assert order.status_url() in message.alternatives[0][0]
    notification.refresh_from_db()
    assert notification.status == "sent"
    assert order.events.filter(type="email_sent").count() == 1


def test_short_stock_fails_placement_with_the_line_named_and_nothing_saved(
    channel, stocked_product, manager, address
):
    with pytest.raises(ValidationFailed) as err:
        order_place(
            channel=channel,
            email="a@example.com",
            name="A",
            address=address,
            lines=[LineInput(stocked_product, 11)],
            actor=manager,
        )
    assert err.value.errors == {
        "lines-0-quantity": ["Only 10 of TEE-BLK-M available; 11 requested."]
    }
    assert not OrderEvent.objects.exists()
    assert StockLevel.objects.get(product=stocked_product).reserved == 0


def test_missing_address_fields_are_reported_per_field(channel, stocked_product, manager, address):
    address.update(city="", postal_code="")
    with pytest.raises(ValidationFailed) as err:
        order_place(
            channel=channel,
            email="a@example.com",
            name="A",
            address=address,
            lines=[LineInput(stocked_product, 1)],
            actor=manager,
        )
    assert set(err.value.errors) == {"ship_city", "ship_postal_code"}


def test_warehouse_staff_cannot_place_orders(channel, stocked_product, warehouse_user, address):
    with pytest.raises(NotAllowed):
        order_place(
            channel=channel,
            email="a@example.com",
            name="A",
            address=address,
            lines=[LineInput(stocked_product, 1)],
            actor=warehouse_user,
        )


def test_cancel_releases_reserved_stock_and_tells_the_customer(
    placed_order, stocked_product, manager
):
    order_cancel(order=placed_order, reason="Customer changed their mind", actor=manager)
    assert placed_order.status == "cancelled"
    assert StockLevel.objects.get(product=stocked_product).reserved == 0
    assert placed_order.lines.get().quantity_reserved == 0
    assert Notification.objects.filter(order=placed_order, kind="order_cancelled").exists()
    with pytest.raises(DomainError):
        order_cancel(order=placed_order, reason="again", actor=manager)
    assert stock_discrepancies() == []


def test_hold_blocks_shipping_until_released(placed_order, manager, carrier):
    order_hold(order=placed_order, reason="Address looks wrong", actor=manager)
    with pytest.raises(DomainError):
        shipments_create(order=placed_order, actor=manager)
    order_release(order=placed_order, actor=manager)
    assert shipments_create(order=placed_order, actor=manager)


def test_full_lifecycle_through_services(placed_order, stocked_product, manager, carrier):
    order = placed_order
    shipments = ship_all(order, manager, carrier)
    order.refresh_from_db()
    assert order.fulfillment_status == "shipped"
    level = StockLevel.objects.get(product=stocked_product)
    assert (level.on_hand, level.reserved) == (8, 0)
    invoice = order.invoices.get()  # issued when the first parcel left
    assert invoice.number.startswith("INV-")

    payment_record(order=order, amount=order.total, method="card", actor=manager)
    for s in shipments:
        shipment_mark_delivered(shipment=s, actor=manager)
    order.refresh_from_db()
    assert (order.status, order.fulfillment_status, order.payment_status) == (
        "closed",
        "delivered",
        "paid",
    )

    line = order.lines.get()
    rma = return_request_create(order=order, quantities={line.pk: 1}, reason="size", actor=manager)
    return_receive(return_request=rma, actor=manager)
    assert StockLevel.objects.get(product=stocked_product).on_hand == 9
    return_refund(return_request=rma, actor=manager)
    order.refresh_from_db()
    assert order.fulfillment_status == "partially_returned"
    assert order.payment_status == "partially_refunded"
    note = order.credit_notes.get()
    assert note.total == Decimal("29.75")  # 25.00 + 19 % tax
    assert order.refunds.get().amount == note.total
    assert stock_discrepancies() == []


def test_warehouse_staff_cannot_refund(placed_order, manager, warehouse_user, carrier):
    ship_all(placed_order, manager, carrier)
    payment_record(order=placed_order, amount=placed_order.total, method="card", actor=manager)
    line = placed_order.lines.get()
    rma = return_request_create(
        order=placed_order, quantities={line.pk: 1}, reason="damaged", actor=manager
    )
    return_receive(return_request=rma, actor=warehouse_user)
    with pytest.raises(NotAllowed):
        return_refund(return_request=rma, actor=warehouse_user)
    rma.refresh_from_db()
    assert rma.status == "received"
    assert not placed_order.refunds.exists()


def test_cannot_return_more_than_shipped(placed_order, manager, carrier):
    ship_all(placed_order, manager, carrier)
    line = placed_order.lines.get()
    with pytest.raises(ValidationFailed):
        return_request_create(
            order=placed_order, quantities={line.pk: 3}, reason="size", actor=manager
        )


def test_invoice_numbers_stay_gapless_when_a_transaction_rolls_back(
    channel, manager, address, warehouses
):
    product = ProductFactory()
    stock_receive(product=product, warehouse=warehouses[0], quantity=10, actor=manager)
    orders = [
        order_place(
            channel=channel,
            email=f"c{i}@example.com",
            name="C",
            address=address,
            lines=[LineInput(product, 1)],
            actor=manager,
        )
        for i in range(3)
    ]
    first = invoice_issue(order=orders[0], actor=manager)

    def issue_then_fail():
        with transaction.atomic():
            invoice_issue(order=orders[1], actor=manager)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        issue_then_fail()
    second = invoice_issue(order=orders[2], actor=manager)
    assert int(second.number[-6:]) == int(first.number[-6:]) + 1
    assert Invoice.objects.count() == 2
