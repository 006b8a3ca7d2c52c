"""Customer emails: every kind renders an HTML and a plain-text twin from the rows the real
services write, with the order number in the subject and the status link in both bodies."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from fulfillment.carriers.base import CarrierEvent
from fulfillment.feedback import feedback_requests_due
from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_mark_delivered,
    shipment_ship,
    shipments_create,
)
from fulfillment.tracking import tracking_event_record
from inventory.services import stock_receive
from invoicing.services import payment_record
from orders.choices import EventSource, NotificationKind
from orders.emails import render_notification
from orders.models import Notification
from orders.services import (
    LineInput,
    order_cancel,
    order_line_cancel,
    order_place,
    stock_receipt_record,
)
from returns.services import return_receive, return_refund, return_request_create
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

TIMES = "\u00d7"  # the multiplication sign of "2 x Tee"


def ship(order, user, carrier, *, deliver=False):
    shipments = shipments_create(order=order, actor=user)
    for s in shipments:
        shipment_confirm_picked(shipment=s, actor=user)
        shipment_confirm_packed(shipment=s, actor=user)
        shipment_ship(shipment=s, carrier=carrier, tracking_number=f"TRK{s.number}", actor=user)
        if deliver:
            shipment_mark_delivered(shipment=s, actor=user)
    return shipments


def carrier_news(shipment, *steps):
    """The carrier's events for a shipment, an hour apart, through the tracking service."""
    start = timezone.now()
    for i, (status, message) in enumerate(steps):
        tracking_event_record(
            shipment=shipment,
            event=CarrierEvent(
                tracking_number=shipment.tracking_number,
                status=status,
                carrier_status=status,
                occurred_at=start + datetime.timedelta(hours=i),
                event_id=f"{shipment.number}-{i}",
                message=message,
            ),
        )


@pytest.fixture
def lifecycle(placed_order, manager, carrier):
    """One order through every stage that emails the customer, plus a cancelled one."""
    order = placed_order
    # The parcel is delayed, then out for delivery, then delivered; days later the customer
    # is asked for feedback: "delayed", "out for delivery", "delivered", "feedback request".
    (shipment,) = ship(order, manager, carrier)
    carrier_news(
        shipment,
        ("exception", "Delayed at the hub: bad weather"),
        ("out_for_delivery", "With the driver"),
        ("delivered", "Handed to the recipient"),
    )
    feedback_requests_due(
        now=timezone.now() + datetime.timedelta(days=settings.FEEDBACK_REQUEST_DAYS + 1)
    )
    payment_record(order=order, amount=order.total, method="card", actor=manager)
    line = order.lines.get()
    rma = return_request_create(
        order=order, quantities={line.pk: 1}, reason="size", actor=None, source=EventSource.CUSTOMER
    )
    return_receive(return_request=rma, actor=manager)
    return_refund(return_request=rma, actor=manager)

    cancelled = order_place(
        channel=order.channel,
        email="ada@example.com",
        name="Ada O'Brien",
        address={**_address(order)},
        lines=[LineInput(line.product, 1)],
        actor=manager,
    )
    payment_record(order=cancelled, amount=cancelled.total, method="card", actor=manager)
    order_cancel(order=cancelled, reason="The colour is sold out", actor=manager)

    # A backordered line filled by a receipt, then partly cancelled: "backorder filled", "changed".
    warehouse = line.product.stock_levels.first().warehouse
    lamp = ProductFactory(sku="LAMP-1", name="Camping lamp", allow_backorder=True)
    stock_receive(product=lamp, warehouse=warehouse, quantity=1, actor=manager)
    changed = order_place(
        channel=order.channel,
        email="ada@example.com",
        name="Ada",
        address=_address(order),
        lines=[LineInput(lamp, 3)],
        actor=manager,
    )
    stock_receipt_record(
        product=lamp, warehouse=warehouse, quantity=1, actor=manager, reference="PO-7"
    )
    order_line_cancel(
        order=changed, line=changed.lines.get(), quantity=1, reason="Only needs two", actor=manager
    )
    order.refresh_from_db()
    return {"order": order, "cancelled": cancelled, "changed": changed, "rma": rma}


def _address(order):
    return {
        "name": order.ship_name,
        "line1": order.ship_line1,
        "city": order.ship_city,
        "postal_code": order.ship_postal_code,
        "country": order.ship_country,
    }


def _render(notification):
    message = render_notification(notification)
    (html, mimetype) = message.alternatives[0]
    assert mimetype == "text/html"
    return message, html


def _notification(lifecycle, kind):
    if kind == NotificationKind.ORDER_CANCELLED:
        order = lifecycle["cancelled"]
    elif kind in (NotificationKind.ORDER_CHANGED, NotificationKind.BACKORDER_FILLED):
        order = lifecycle["changed"]
    else:
        order = lifecycle["order"]
    return Notification.objects.get(order=order, kind=kind)


@pytest.mark.parametrize("kind", NotificationKind.values)
def test_every_kind_renders_html_and_text_with_number_and_status_link(lifecycle, kind):
    notification = _notification(lifecycle, kind)
    order = notification.order

    message, html = _render(notification)

    assert order.number in message.subject
    assert message.to == ["ada@example.com"]
    for body in (message.body, html):
        assert order.status_url() in body
        assert order.number in body
        assert settings.MERCHANT_NAME in body
    assert "max-width:600px" in html
    assert (
        html.count(f'href="{order.status_url()}" target="_blank" style="display:inline-block') == 1
    )  # one button
    assert "<" not in message.body  # the text twin is plain text
    assert "&#x27;" not in message.body
    assert "&amp;" not in message.body


def test_confirmation_lists_lines_totals_and_address(lifecycle):
    message, html = _render(_notification(lifecycle, NotificationKind.ORDER_CONFIRMATION))

    for body in (message.body, html):
        assert "Organic tee, black, M" in body
        assert "€64.40" in body
        assert "Hafenstraße 12" in body
        assert "View your order" in body


def test_shipped_email_gives_carrier_tracking_number_link_and_parcel_items(lifecycle):
    order = lifecycle["order"]
    shipment = order.shipments.get()
    message, html = _render(_notification(lifecycle, NotificationKind.ORDER_SHIPPED))

    for body in (message.body, html):
        assert "DHL Parcel" in body
        assert shipment.tracking_number in body
        assert f"https://tracking.example.com/{shipment.tracking_number}" in body
        assert "Organic tee, black, M" in body
    assert f"2 {TIMES} Organic tee, black, M" in message.body
    assert f"{TIMES} 2</td>" in html
    assert "on its way" in message.subject


def test_delivered_email_invites_returns_and_says_when_only_part_arrived(
    lifecycle, channel, stocked_product, manager, address, carrier, warehouses
):
    message, html = _render(_notification(lifecycle, NotificationKind.ORDER_DELIVERED))
    assert "Your order has arrived" in html
    assert "within 30 days" in message.body
    assert "within 30 days" in html

    mug = ProductFactory(sku="MUG-1", name="Enamel mug", price=Decimal("9.50"))
    stock_receive(product=mug, warehouse=warehouses[1], quantity=3, actor=manager, reference="PO-2")
    order = order_place(
        channel=channel,
        email="bo@example.com",
        name="Bo",
        address=address,
        lines=[LineInput(stocked_product, 1), LineInput(mug, 1)],
        actor=manager,
    )
    first, _second = shipments_create(order=order, actor=manager)
    shipment_confirm_picked(shipment=first, actor=manager)
    shipment_confirm_packed(shipment=first, actor=manager)
    shipment_ship(shipment=first, carrier=carrier, tracking_number="TRK-1", actor=manager)
    shipment_mark_delivered(shipment=first, actor=manager)

    message, html = _render(
        Notification.objects.get(order=order, kind=NotificationKind.ORDER_DELIVERED)
    )
    for body in (message.body, html):
        assert "Part of your order has arrived" in body
        assert "Organic tee, black, M" in body
        assert "Enamel mug" not in body  # still in the warehouse


def test_cancelled_email_gives_the_reason_and_promises_the_refund_when_paid(lifecycle):
    message, html = _render(_notification(lifecycle, NotificationKind.ORDER_CANCELLED))

    for body in (message.body, html):
        assert "The colour is sold out" in body
        assert "A refund follows" in body


def test_cancelled_unpaid_order_says_nothing_was_charged(placed_order, manager):
    order_cancel(order=placed_order, reason="Ordered twice", actor=manager)
    message, html = _render(
        Notification.objects.get(order=placed_order, kind=NotificationKind.ORDER_CANCELLED)
    )

    assert "You haven't been charged" in message.body
    assert "A refund follows" not in html


def test_return_requested_email_says_what_to_do_next(lifecycle, settings):
    rma = lifecycle["rma"]
    message, html = _render(_notification(lifecycle, NotificationKind.RETURN_REQUESTED))

    assert rma.number in message.subject
    assert f"Write {rma.number} clearly on the outside of the parcel." in message.body
    assert f"{rma.number}</strong> clearly on the outside of the parcel." in html
    for body in (message.body, html):
        assert "Pack the items" in body
        assert "1 item " in body


def test_return_requested_email_shows_the_merchant_address_when_given(lifecycle):
    notification = _notification(lifecycle, NotificationKind.RETURN_REQUESTED)

    context = {
        "order": notification.order,
        "lines": list(notification.order.lines.all()),
        "status_url": notification.order.status_url(),
        "merchant_name": settings.MERCHANT_NAME,
        "site_url": settings.SITE_URL,
        "payload": notification.payload,
        "kind": notification.kind,
        "merchant_address": "Northwind Returns\nHafenstraße 12\n20457 Hamburg",
    }
    text = render_to_string("emails/return_requested.txt", context)
    html = render_to_string("emails/return_requested.html", context)

    assert "Send it to:\nNorthwind Returns\nHafenstraße 12\n20457 Hamburg" in text
    assert "Northwind Returns<br>Hafenstraße 12<br>20457 Hamburg" in html


def test_return_received_and_refund_emails(lifecycle):
    rma = lifecycle["rma"]
    order = lifecycle["order"]
    note = order.credit_notes.get()

    message, html = _render(_notification(lifecycle, NotificationKind.RETURN_RECEIVED))
    assert rma.number in message.subject
    assert "refund" in message.body
    assert "refund" in html

    message, html = _render(_notification(lifecycle, NotificationKind.REFUND_ISSUED))
    for body in (message.body, html):
        assert f"€{note.total}" in body
        assert note.number in body


def test_text_twin_is_not_html_escaped(placed_order):
    placed_order.customer.name = "Zoë O'Brien & Co"
    placed_order.customer.save()
    placed_order.ship_name = "Zoë O'Brien & Co"
    placed_order.save()

    message, html = _render(
        Notification.objects.get(order=placed_order, kind=NotificationKind.ORDER_CONFIRMATION)
    )

    assert "Zoë O'Brien & Co" in message.body
    assert "Zoë O&#x27;Brien &amp; Co" in html
