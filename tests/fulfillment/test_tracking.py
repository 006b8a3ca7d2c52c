"""Tracking events: stored once, safe in any order (never backwards), the customer told once."""

import datetime
import itertools
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from fulfillment.carriers.base import CarrierEvent
from fulfillment.models import Shipment, TrackingEvent
from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_mark_delivered,
    shipment_ship,
    shipments_create,
)
from fulfillment.tracking import shipments_late_notify, tracking_event_record
from inventory.models import StockLevel
from orders.choices import EventType, NotificationKind
from orders.models import Notification, OrderEvent
from orders.services import LineInput, order_place

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 11, 20, 8, 0, tzinfo=datetime.UTC)
CUSTOMERS = itertools.count(1)


def at(hours: float) -> datetime.datetime:
    return T0 + datetime.timedelta(hours=hours)


def ev(status, hours, message="", *, carrier_status=None, event_id="", location="Hamburg, DE"):
    return CarrierEvent(
        tracking_number="JJD0001",
        status=status,
        carrier_status=carrier_status or status or "info",
        occurred_at=at(hours),
        event_id=event_id,
        location=location,
        message=message,
    )


def shipped(order, user, carrier, tracking="JJD0001") -> Shipment:
    s = shipments_create(order=order, actor=user)[0]
    shipment_confirm_picked(shipment=s, actor=user)
    shipment_confirm_packed(shipment=s, actor=user)
    shipment_ship(shipment=s, carrier=carrier, tracking_number=tracking, actor=user)
    return Shipment.objects.get(pk=s.pk)


@pytest.fixture
def shipment(placed_order, manager, carrier):
    return shipped(placed_order, manager, carrier)


def record(shipment, event):
    return tracking_event_record(shipment=shipment, event=event)


def status_of(shipment) -> str:
    return Shipment.objects.values_list("status", flat=True).get(pk=shipment.pk)


def kinds(order) -> list[str]:
    return list(Notification.objects.filter(order=order).values_list("kind", flat=True))


# ---------------------------------------------------------------- once


def test_the_same_event_twice_is_stored_once(shipment):
    first = record(shipment, ev("in_transit", 1, "Departed facility"))
    second = record(shipment, ev("in_transit", 1, "Departed facility"))

    assert first.created is True
    assert first.applied is True
    assert second.created is False
    assert second.event.pk == first.event.pk
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 1
    assert OrderEvent.objects.filter(order=shipment.order, type=EventType.TRACKING).count() == 1


def test_the_carrier_event_id_identifies_an_event_even_when_its_text_changes(shipment):
    record(shipment, ev("in_transit", 1, "Departed facility", event_id="evt-1"))
    again = record(
        shipment, ev("in_transit", 1, "Departed the facility (corrected)", event_id="evt-1")
    )

    assert again.created is False
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 1


def test_informational_events_are_kept_without_moving_the_shipment(shipment):
    result = record(
        shipment, ev("", 1, "Shipment information received", carrier_status="pre_transit")
    )

    assert result.created is True
    assert result.applied is False
    assert status_of(shipment) == "shipped"
    assert Shipment.objects.get(pk=shipment.pk).last_event_at == at(1)


@pytest.mark.django_db(transaction=True)
def test_the_same_event_from_two_workers_at_once_is_stored_once(placed_order, manager, carrier):
    s = shipped(placed_order, manager, carrier)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def deliver_event():
        try:
            barrier.wait()
            results.append(record(s, ev("out_for_delivery", 5, "With the driver")))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver_event) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert TrackingEvent.objects.filter(shipment=s).count() == 1
    assert status_of(s) == "out_for_delivery"
    assert (
        Notification.objects.filter(
            order=s.order, kind=NotificationKind.ORDER_OUT_FOR_DELIVERY
        ).count()
        == 1
    )


# ---------------------------------------------------------------- never backwards


JOURNEY = [
    ev("in_transit", 1, "Departed facility"),
    ev("exception", 20, "Address incomplete"),
    ev("in_transit", 30, "Back in the network"),
    ev("out_for_delivery", 44, "With the driver"),
    ev("delivered", 46, "Left at front door"),
]


@pytest.mark.parametrize(
    ("events", "final"),
    [
        (JOURNEY, "delivered"),
        (JOURNEY[:4], "out_for_delivery"),  # the exception is older than the recovery
        ([JOURNEY[0], JOURNEY[3], ev("exception", 50, "Nobody home")], "exception"),
    ],
    ids=["ends-delivered", "ends-out-for-delivery", "ends-in-exception"],
)
def test_events_in_every_order_end_in_the_same_status(shipment, events, final):
    for order in itertools.permutations(events):
        with transaction.atomic():
            for e in order:
                record(shipment, e)
            assert status_of(shipment) == final, [e.status for e in order]
            transaction.set_rollback(True)


def test_a_late_in_transit_never_overrides_out_for_delivery(shipment):
    record(shipment, ev("out_for_delivery", 10))
    late = record(shipment, ev("in_transit", 2, "Arrived at hub"))

    assert late.created is True
    assert late.applied is False
    assert status_of(shipment) == "out_for_delivery"
    assert Shipment.objects.get(pk=shipment.pk).last_event_at == at(10)


def test_delivered_is_final(shipment):
    record(shipment, ev("delivered", 10, "Left at front door"))
    for later in (ev("in_transit", 12), ev("out_for_delivery", 13), ev("exception", 14, "Damaged")):
        assert record(shipment, later).applied is False

    assert status_of(shipment) == "delivered"


def test_returned_to_sender_after_delivered_is_allowed_and_needs_attention(shipment, warehouses):
    on_hand = StockLevel.objects.get(warehouse=warehouses[0]).on_hand
    record(shipment, ev("delivered", 10))

    result = record(
        shipment,
        ev("returned_to_sender", 30, "Refused by recipient", carrier_status="return_to_sender"),
    )

    assert result.applied is True
    assert status_of(shipment) == "returned_to_sender"
    event = OrderEvent.objects.filter(order=shipment.order, type=EventType.DELIVERY_EXCEPTION).get()
    assert "returned to us" in event.message
    assert event.visible_to_customer
    assert (
        StockLevel.objects.get(warehouse=warehouses[0]).on_hand == on_hand
    )  # restocked by a return, later


def test_an_exception_recovers_only_with_newer_news(shipment):
    record(shipment, ev("exception", 10, "Address incomplete"))

    assert record(shipment, ev("in_transit", 9, "Sorted")).applied is False
    assert status_of(shipment) == "exception"
    assert record(shipment, ev("in_transit", 11, "Address corrected")).applied is True
    assert status_of(shipment) == "in_transit"


# ---------------------------------------------------------------- delivered through the service


def test_delivered_event_delivers_the_lines_and_emails_once(shipment):
    record(shipment, ev("in_transit", 1))
    record(shipment, ev("delivered", 26, "Left at front door"))
    record(shipment, ev("delivered", 26, "Left at front door"))

    s = Shipment.objects.get(pk=shipment.pk)
    order = s.order
    order.refresh_from_db()
    assert s.status == "delivered"
    assert s.delivered_at == at(26)  # when the carrier delivered, not when we heard
    assert order.fulfillment_status == "delivered"
    assert all(ln.quantity_delivered == ln.quantity for ln in order.lines.all())
    assert kinds(order).count(NotificationKind.ORDER_DELIVERED) == 1
    assert (
        OrderEvent.objects.filter(order=order, type=EventType.DELIVERED, source="system").count()
        == 1
    )


def test_staff_can_still_mark_delivered_by_hand_and_late_carrier_news_changes_nothing(
    shipment, manager
):
    shipment_mark_delivered(shipment=shipment, actor=manager, note="Customer phoned: it arrived")
    result = record(shipment, ev("delivered", 30))

    assert result.applied is False
    assert Shipment.objects.get(pk=shipment.pk).delivery_note == "Customer phoned: it arrived"


# ---------------------------------------------------------------- the customer is told, once


def test_customer_timeline_uses_plain_words(shipment):
    record(shipment, ev("in_transit", 1, "Departed facility", carrier_status="in_transit"))
    record(shipment, ev("out_for_delivery", 20, "With the driver"))
    record(shipment, ev("exception", 22, "Address incomplete", carrier_status="failure"))

    words = list(
        OrderEvent.objects.filter(
            order=shipment.order, type__in=[EventType.TRACKING, EventType.DELIVERY_EXCEPTION]
        )
        .order_by("id")
        .values_list("customer_message", flat=True)
    )
    assert words == ["On its way", "Out for delivery today", "Delivery problem: Address incomplete"]
    assert not any("in_transit" in w or "failure" in w for w in words)


def test_out_for_delivery_and_exception_emails_are_sent_once_each(shipment):
    record(shipment, ev("out_for_delivery", 20, "With the driver"))
    record(shipment, ev("exception", 22, "Nobody home"))
    record(shipment, ev("out_for_delivery", 44, "Second attempt"))
    record(shipment, ev("exception", 46, "Nobody home again"))

    sent = kinds(shipment.order)
    assert sent.count(NotificationKind.ORDER_OUT_FOR_DELIVERY) == 1
    assert sent.count(NotificationKind.SHIPMENT_DELAYED) == 1
    delayed = Notification.objects.get(order=shipment.order, kind=NotificationKind.SHIPMENT_DELAYED)
    assert delayed.payload["reason"] == "exception"
    assert delayed.payload["message"] == "Nobody home"


def test_emails_go_after_commit(shipment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        record(shipment, ev("out_for_delivery", 20))
    assert len(callbacks) == 1


def test_a_parcel_past_its_expected_date_gets_one_delay_email(shipment):
    Shipment.objects.filter(pk=shipment.pk).update(
        expected_delivery_date=datetime.date(2026, 11, 25)
    )

    assert shipments_late_notify(today=datetime.date(2026, 11, 25)) == 0  # due today: not late yet
    assert shipments_late_notify(today=datetime.date(2026, 11, 27)) == 1
    assert shipments_late_notify(today=datetime.date(2026, 11, 28)) == 0

    n = Notification.objects.get(order=shipment.order, kind=NotificationKind.SHIPMENT_DELAYED)
    assert n.payload["reason"] == "late"
    assert n.payload["expected_delivery_date"] == "2026-11-25"
    assert OrderEvent.objects.filter(order=shipment.order, payload__late=True).count() == 1


def test_delivered_parcels_are_never_late(shipment):
    Shipment.objects.filter(pk=shipment.pk).update(
        expected_delivery_date=datetime.date(2026, 11, 25)
    )
    record(shipment, ev("delivered", 10))

    assert shipments_late_notify(today=datetime.date(2026, 11, 30)) == 0


def test_out_for_delivery_email_renders_with_carrier_and_items(shipment):
    from orders.emails import render_notification

    record(shipment, ev("out_for_delivery", 20))
    message = render_notification(
        Notification.objects.get(order=shipment.order, kind=NotificationKind.ORDER_OUT_FOR_DELIVERY)
    )
    html = message.alternatives[0][0]
    assert "out for delivery" in message.subject
    for body in (message.body, html):
        assert "should arrive today" in body
        assert "JJD0001" in body
        assert "Organic tee, black, M" in body


def test_delayed_email_says_what_happens_next(shipment):
    from orders.emails import render_notification

    record(shipment, ev("exception", 22, "Address incomplete"))
    message = render_notification(
        Notification.objects.get(order=shipment.order, kind=NotificationKind.SHIPMENT_DELAYED)
    )
    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert "What happens next" in body
        assert "Address incomplete" in body
        assert shipment.order.status_url() in body


def test_shipped_email_shows_the_expected_delivery_date_when_known(placed_order, manager, carrier):
    from orders.emails import render_notification

    s = shipped(placed_order, manager, carrier)
    n = Notification.objects.get(order=placed_order, kind=NotificationKind.ORDER_SHIPPED)
    n.payload = {**n.payload, "expected_delivery_date": "2026-12-02"}
    message = render_notification(n)
    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert "Wednesday 2 December" in body
        assert s.tracking_number in body


def test_several_orders_do_not_share_events(channel, stocked_product, manager, address, carrier):
    orders = [
        order_place(
            channel=channel,
            email=f"c{next(CUSTOMERS)}@example.com",
            name="Ada",
            address=address,
            lines=[LineInput(stocked_product, 1)],
            actor=manager,
            shipping_total=Decimal("0"),
        )
        for _ in range(2)
    ]
    a, b = (shipped(o, manager, carrier, tracking=f"T{i}") for i, o in enumerate(orders))
    record(a, ev("out_for_delivery", 5))

    assert status_of(a) == "out_for_delivery"
    assert status_of(b) == "shipped"
    assert timezone.now() > at(5)


def test_the_staff_partial_lists_every_event_and_marks_news_that_changed_nothing(shipment):
    from django.template.loader import render_to_string

    record(shipment, ev("out_for_delivery", 10, "With the driver"))
    record(shipment, ev("in_transit", 2, "Arrived at hub", carrier_status="ARR"))

    html = render_to_string("fulfillment/_tracking_events.html", {"shipment": shipment})

    assert "With the driver" in html
    assert "Arrived at hub" in html
    assert html.count("no change") == 1
    assert "2 events" in html
