"""The attention list: parcels with a delivery problem, returned, late, or silent for 3 days."""

import datetime
import itertools
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import Shipment
from fulfillment.selectors import shipments_attention_counts, shipments_needing_attention
from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_mark_delivered,
    shipment_ship,
    shipments_create,
)
from orders.services import LineInput, order_place

pytestmark = pytest.mark.django_db

CUSTOMERS = itertools.count(1)
NOW = timezone.now()
DAY = datetime.timedelta(days=1)


@pytest.fixture
def make(channel, stocked_product, manager, address, carrier):
    def make_one(**fields) -> Shipment:
        order = order_place(
            channel=channel,
            email=f"a{next(CUSTOMERS)}@example.com",
            name="Ada",
            address=address,
            lines=[LineInput(stocked_product, 1)],
            actor=manager,
            shipping_total=Decimal("0"),
        )
        s = shipments_create(order=order, actor=manager)[0]
        shipment_confirm_picked(shipment=s, actor=manager)
        shipment_confirm_packed(shipment=s, actor=manager)
        shipment_ship(shipment=s, carrier=carrier, tracking_number=f"JJD{s.pk:05d}", actor=manager)
        if fields.pop("delivered", False):
            shipment_mark_delivered(shipment=s, actor=manager)
        Shipment.objects.filter(pk=s.pk).update(**fields)
        return Shipment.objects.get(pk=s.pk)

    return make_one


def test_the_list_holds_problem_late_silent_and_returned_parcels(make, manager):
    fresh = make(last_event_at=NOW - DAY)
    silent = make(shipped_at=NOW - 4 * DAY, last_event_at=None)
    quiet = make(shipped_at=NOW - 6 * DAY, last_event_at=NOW - 4 * DAY)
    problem = make(status="exception", last_event_at=NOW - DAY)
    late = make(expected_delivery_date=timezone.localdate() - DAY, last_event_at=NOW)
    returned = make(status="returned_to_sender", last_event_at=NOW)
    delivered = make(
        delivered=True,
        shipped_at=NOW - 9 * DAY,
        expected_delivery_date=timezone.localdate() - 5 * DAY,
    )

    listed = set(shipments_needing_attention(user=manager))

    assert listed == {silent, quiet, problem, late, returned}
    assert fresh not in listed
    assert delivered not in listed
    counts = shipments_attention_counts(user=manager)
    assert counts == {"total": 5, "exception": 1, "returned": 1, "late": 1, "stale": 2}


def test_the_page_filters_by_reason_and_explains_each_row(client, make, manager):
    make(status="exception", last_event_at=NOW - DAY)
    silent = make(shipped_at=NOW - 4 * DAY, last_event_at=None)
    client.force_login(manager)

    everything = client.get(reverse("fulfillment:attention")).content.decode()
    stale = client.get(reverse("fulfillment:attention") + "?reason=stale").content.decode()

    assert "Delivery problem" in everything
    assert "No news for 3 days" in everything
    assert "shipped, no scan yet" in everything
    assert silent.number in stale
    assert stale.count('data-status="exception"') == 0


def test_an_empty_list_says_what_it_is_for(client, manager):
    client.force_login(manager)
    content = client.get(reverse("fulfillment:attention")).content.decode()
    assert "All parcels are on track" in content


def test_the_dashboard_shows_the_counts(client, make, manager):
    make(status="exception", last_event_at=NOW)
    client.force_login(manager)

    home = client.get(reverse("dashboard:home")).content.decode()
    tile = client.get(
        reverse("fulfillment:attention") + "?fragment=counts", HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "Parcels to check" in home
    assert "?fragment=counts" in home
    assert "<strong>1</strong> delivery problem" in tile
    assert "<html" not in tile


def test_only_staff_see_the_list(client):
    response = client.get(reverse("fulfillment:attention"))
    assert response.status_code == 302
