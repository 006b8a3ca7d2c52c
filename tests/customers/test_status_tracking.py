"""The status page after shipping: every parcel with its items, carrier link, tracking
timeline in plain words, expected date; the rating once something arrived."""

import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from fulfillment.carriers.base import CarrierEvent
from fulfillment.feedback import feedback_submit
from fulfillment.models import Shipment
from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_ship,
    shipments_create,
)
from fulfillment.tracking import tracking_event_record
from inventory.services import stock_receive
from orders.services import LineInput, order_place
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


def ship_all(order, user, carrier):
    result = []
    for i, s in enumerate(shipments_create(order=order, actor=user)):
        shipment_confirm_picked(shipment=s, actor=user)
        shipment_confirm_packed(shipment=s, actor=user)
        shipment_ship(shipment=s, carrier=carrier, tracking_number=f"00340434{i:06d}", actor=user)
        result.append(Shipment.objects.get(pk=s.pk))
    return result


def event(status, when, message, location="", carrier_status=""):
    return CarrierEvent(
        tracking_number="",
        status=status,
        carrier_status=carrier_status or status or "info",
        occurred_at=when,
        event_id="",
        location=location,
        message=message,
    )


def page(client, order) -> str:
    response = client.get(reverse("status:page", args=[order.status_token]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def in_transit(placed_order, manager, carrier):
    (s,) = ship_all(placed_order, manager, carrier)
    s.expected_delivery_date = timezone.localdate() + datetime.timedelta(days=2)
    s.save(update_fields=["expected_delivery_date"])
    now = timezone.now()
    tracking_event_record(
        shipment=s,
        event=event(
            "",
            now - datetime.timedelta(hours=20),
            "Shipment data received",
            carrier_status="pre_transit",
        ),
    )
    tracking_event_record(
        shipment=s,
        event=event(
            "in_transit",
            now - datetime.timedelta(hours=3),
            "Departed parcel centre",
            "Hannover, DE",
            "TRANSIT_DEP",
        ),
    )
    return Shipment.objects.get(pk=s.pk)


def test_a_parcel_in_transit_shows_its_journey_in_plain_words(client, in_transit):
    content = page(client, in_transit.order)

    assert "On its way" in content
    assert "Departed parcel centre" in content
    assert "Hannover, DE" in content
    assert "Shipment data received" in content
    assert "Handed to DHL Parcel" in content
    assert "in_transit" not in content
    assert "TRANSIT_DEP" not in content
    assert f"https://tracking.example.com/{in_transit.tracking_number}" in content
    assert in_transit.expected_delivery_date.strftime("%A") in content
    assert "Expected delivery" in content


def test_out_for_delivery_is_a_step_of_the_stepper(client, in_transit):
    tracking_event_record(
        shipment=in_transit, event=event("out_for_delivery", timezone.now(), "With the driver")
    )

    content = page(client, in_transit.order)

    assert '<li class="done current" aria-current="step">\n          Out for delivery' in content
    assert "Out for delivery today" in content


def test_every_shipment_is_shown_with_its_items(
    client, channel, stocked_product, manager, address, carrier, warehouses
):
    mug = ProductFactory(sku="MUG-1", name="Enamel mug", price=Decimal("9.50"))
    stock_receive(product=mug, warehouse=warehouses[1], quantity=3, actor=manager, reference="PO-2")
    order = order_place(
        channel=channel,
        email="bo@example.com",
        name="Bo",
        address=address,
        lines=[LineInput(stocked_product, 1), LineInput(mug, 2)],
        actor=manager,
    )
    first, second = ship_all(order, manager, carrier)

    content = page(client, order)

    assert "Parcel 1 of 2" in content
    assert "Parcel 2 of 2" in content
    assert first.tracking_number in content
    assert second.tracking_number in content
    assert "Enamel mug" in content


def test_a_late_parcel_says_so(client, in_transit):
    Shipment.objects.filter(pk=in_transit.pk).update(
        expected_delivery_date=timezone.localdate() - datetime.timedelta(days=2)
    )

    content = page(client, in_transit.order)

    assert "Was expected" in content
    assert "Running late" in content


def test_a_delivery_problem_is_explained(client, in_transit):
    tracking_event_record(
        shipment=in_transit, event=event("exception", timezone.now(), "Address incomplete")
    )

    content = page(client, in_transit.order)

    assert "is delayed" in content
    assert "Delivery problem: Address incomplete" in content
    assert "try again on the next working day" in content


def test_the_rating_form_appears_once_delivered_and_the_rating_after(client, in_transit):
    assert "Rate your delivery" not in page(client, in_transit.order)

    tracking_event_record(
        shipment=in_transit, event=event("delivered", timezone.now(), "Left at front door")
    )
    content = page(client, in_transit.order)
    assert "Rate your delivery" in content
    assert reverse("status:feedback", args=[in_transit.order.status_token]) in content

    feedback_submit(order=in_transit.order, rating=5, comment="Spot on")
    content = page(client, in_transit.order)
    assert "Rate your delivery" not in content
    assert "Your delivery rating" in content
    assert "Spot on" in content


def test_a_long_journey_folds_the_older_updates(client, in_transit):
    start = timezone.now() - datetime.timedelta(days=2)
    for i in range(6):
        tracking_event_record(
            shipment=in_transit, event=event("", start + datetime.timedelta(hours=i), f"Scan {i}")
        )

    content = page(client, in_transit.order)

    assert "earlier updates</summary>" in content
