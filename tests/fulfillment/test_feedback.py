"""Delivery feedback: the request N days after delivery, the customer's form, the staff views."""

import datetime

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from fulfillment.feedback import feedback_requests_due, feedback_submit
from fulfillment.models import DeliveryFeedback, Shipment
from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_mark_delivered,
    shipment_ship,
    shipments_create,
)
from fulfillment.tasks import feedback_requests_due as feedback_task
from orders.choices import EventType, NotificationKind
from orders.emails import render_notification
from orders.models import Notification, OrderEvent

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


def ship(order, user, carrier, *, deliver=True, delivered_days_ago=4):
    s = shipments_create(order=order, actor=user)[0]
    shipment_confirm_picked(shipment=s, actor=user)
    shipment_confirm_packed(shipment=s, actor=user)
    shipment_ship(shipment=s, carrier=carrier, tracking_number="JJD0009", actor=user)
    if deliver:
        shipment_mark_delivered(shipment=s, actor=user)
        Shipment.objects.filter(pk=s.pk).update(
            delivered_at=NOW - datetime.timedelta(days=delivered_days_ago)
        )
    order.refresh_from_db()
    return Shipment.objects.get(pk=s.pk)


def requests_of(order):
    return Notification.objects.filter(order=order, kind=NotificationKind.FEEDBACK_REQUEST)


def feedback_url(order, **query):
    url = reverse("status:feedback", args=[order.status_token])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


# ---------------------------------------------------------------- the request


def test_request_goes_out_n_days_after_delivery_once(placed_order, manager, carrier, settings):
    settings.FEEDBACK_REQUEST_DAYS = 3
    ship(placed_order, manager, carrier, delivered_days_ago=2)

    assert feedback_requests_due(now=NOW) == 0
    assert feedback_requests_due(now=NOW + datetime.timedelta(days=1, minutes=1)) == 1
    assert feedback_requests_due(now=NOW + datetime.timedelta(days=2)) == 0
    assert requests_of(placed_order).count() == 1


def test_no_request_when_the_customer_already_rated_or_nothing_arrived(
    placed_order, manager, carrier
):
    ship(placed_order, manager, carrier)
    feedback_submit(order=placed_order, rating=5)

    assert feedback_requests_due(now=NOW) == 0
    assert requests_of(placed_order).count() == 0


def test_no_request_for_an_order_still_on_its_way(placed_order, manager, carrier):
    ship(placed_order, manager, carrier, deliver=False)
    assert feedback_requests_due(now=NOW + datetime.timedelta(days=10)) == 0


def test_no_request_for_old_deliveries_when_the_feature_is_turned_on(
    placed_order, manager, carrier
):
    ship(placed_order, manager, carrier, delivered_days_ago=60)
    assert feedback_requests_due(now=NOW) == 0


def test_the_beat_task_queues_the_request(placed_order, manager, carrier):
    ship(placed_order, manager, carrier)
    assert feedback_task.apply().get() == 1


def test_request_email_links_to_the_rating(placed_order, manager, carrier):
    ship(placed_order, manager, carrier)
    feedback_requests_due(now=NOW)

    message = render_notification(requests_of(placed_order).get())
    html = message.alternatives[0][0]
    assert placed_order.number in message.subject
    for body in (message.body, html):
        assert placed_order.status_url() + "feedback/" in body
        assert "Rate your delivery" in body
    assert (
        html.count(
            f'href="{placed_order.status_url()}" target="_blank" style="display:inline-block'
        )
        == 1
    )
    assert "<" not in message.body


# ---------------------------------------------------------------- the form


def test_the_form_stores_a_rating_once_and_writes_the_timeline(
    client, placed_order, manager, carrier
):
    ship(placed_order, manager, carrier)

    page = client.get(feedback_url(placed_order, rating=4))
    assert page.status_code == 200
    assert b'value="4" id="rating-4" checked' in page.content

    response = client.post(
        feedback_url(placed_order), {"rating": "4", "comment": "Quick, but the box was dented."}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("status:page", args=[placed_order.status_token])
    fb = DeliveryFeedback.objects.get(order=placed_order)
    assert (fb.rating, fb.comment) == (4, "Quick, but the box was dented.")
    event = OrderEvent.objects.get(order=placed_order, type=EventType.FEEDBACK)
    assert "4/5" in event.message
    assert not event.visible_to_customer


def test_a_second_submission_shows_the_stored_rating_not_an_error(
    client, placed_order, manager, carrier
):
    ship(placed_order, manager, carrier)
    client.post(feedback_url(placed_order), {"rating": "2", "comment": "Late"})

    response = client.post(
        feedback_url(placed_order), {"rating": "5", "comment": "Changed my mind"}, follow=True
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert "You already rated this delivery" in content
    assert "2 out of 5" in content
    assert DeliveryFeedback.objects.get(order=placed_order).rating == 2
    assert OrderEvent.objects.filter(order=placed_order, type=EventType.FEEDBACK).count() == 1


@pytest.mark.parametrize("rating", ["", "0", "6", "abc", "3.5"])
def test_a_rating_outside_1_to_5_is_refused_next_to_the_field(
    client, placed_order, manager, carrier, rating
):
    ship(placed_order, manager, carrier)

    response = client.post(feedback_url(placed_order), {"rating": rating, "comment": "kept"})

    assert response.status_code == 200
    content = response.content.decode()
    assert "Choose a rating from 1 (poor) to 5 (excellent)." in content
    assert "kept</textarea>" in content  # nothing typed is lost
    assert not DeliveryFeedback.objects.exists()


def test_the_service_refuses_bad_ratings_too(placed_order, manager, carrier):
    from core.errors import ValidationFailed

    ship(placed_order, manager, carrier)
    for bad in (0, 6, None, "x"):
        with pytest.raises(ValidationFailed):
            feedback_submit(order=placed_order, rating=bad)
    assert not DeliveryFeedback.objects.exists()


def test_rating_opens_only_once_something_arrived(client, placed_order, manager, carrier):
    ship(placed_order, manager, carrier, deliver=False)

    page = client.get(feedback_url(placed_order))
    client.post(feedback_url(placed_order), {"rating": "5"})

    assert "once your order has arrived" in page.content.decode()
    assert not DeliveryFeedback.objects.exists()


def test_a_bad_token_gets_the_same_404(client):
    assert client.get("/status/not-a-real-token/feedback/").status_code == 404


def test_submissions_are_rate_limited_per_address(client, placed_order, manager, carrier, settings):
    settings.STATUS_LOOKUP_RATE = 2
    ship(placed_order, manager, carrier)
    for _ in range(2):
        client.post(feedback_url(placed_order), {"rating": "9"})

    response = client.post(feedback_url(placed_order), {"rating": "5"})

    assert response.status_code == 429
    assert not DeliveryFeedback.objects.exists()


# ---------------------------------------------------------------- staff


def test_the_rating_shows_on_the_staff_order_page(client, placed_order, manager, carrier):
    ship(placed_order, manager, carrier)
    feedback_submit(order=placed_order, rating=3, comment="Driver was rude")
    client.force_login(manager)

    content = client.get(placed_order.get_absolute_url()).content.decode()

    assert "Delivery rating" in content
    assert "3/5" in content
    assert "Driver was rude" in content


def test_the_feedback_list_filters_by_rating_and_shows_the_average(
    client, manager, channel, stocked_product, address, carrier
):
    from decimal import Decimal

    from orders.services import LineInput, order_place

    for i, (rating, comment) in enumerate([(5, "Perfect"), (4, "Fine"), (1, "Never again")]):
        order = order_place(
            channel=channel,
            email=f"fb{i}@example.com",
            name="Ada",
            address=address,
            lines=[LineInput(stocked_product, 1)],
            actor=manager,
            shipping_total=Decimal("0"),
        )
        ship(order, manager, carrier)
        feedback_submit(order=order, rating=rating, comment=comment)
    client.force_login(manager)

    everything = client.get(reverse("fulfillment:feedback_list")).content.decode()
    only_ones = client.get(reverse("fulfillment:feedback_list") + "?rating=1").content.decode()

    assert "3.3" in everything
    assert all(c in everything for c in ("Perfect", "Fine", "Never again"))
    assert "Never again" in only_ones
    assert "Perfect" not in only_ones


def test_the_feedback_list_is_for_managers_and_customer_service(
    client, warehouse_user, service_agent
):
    client.force_login(warehouse_user)
    assert client.get(reverse("fulfillment:feedback_list")).status_code == 403
    client.force_login(service_agent)
    assert client.get(reverse("fulfillment:feedback_list")).status_code == 200


def test_the_empty_feedback_list_says_what_it_is_for(client, manager):
    client.force_login(manager)
    content = client.get(reverse("fulfillment:feedback_list")).content.decode()
    assert "No ratings yet" in content
