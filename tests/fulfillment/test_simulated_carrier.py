"""The simulated carrier: tracking numbers with a check digit, and a parcel's life that is
the same every time it is asked for, and never goes backwards."""

import datetime
import itertools
from collections import Counter

import pytest
from django.utils import timezone

from fulfillment.carriers import client_for, sells_labels
from fulfillment.carriers.base import CarrierError, LabelRequest, ParcelSpec
from fulfillment.carriers.simulated import (
    SimulatedCarrier,
    check_digit,
    is_valid_tracking_number,
    tracking_number_new,
)
from fulfillment.choices import STATUS_RANK
from fulfillment.models import Carrier

SHIPPED = datetime.datetime(
    2026, 11, 23, 11, 30, tzinfo=timezone.get_current_timezone()
)  # a Monday morning
NUMBERS = [tracking_number_new(d) for d in (1, 2, 3, 5) for _ in range(100)]


def test_tracking_numbers_are_sim_plus_12_digits_with_a_check_digit():
    number = tracking_number_new(2)
    assert number.startswith("SIM2")
    assert len(number) == 15
    assert number[3:].isdigit()
    assert is_valid_tracking_number(number)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not is_valid_tracking_number(wrong)
    assert check_digit("7992739871") == "3"  # the textbook Luhn example
    assert len(set(NUMBERS)) == len(NUMBERS)


def test_events_are_the_same_every_time():
    client = SimulatedCarrier()
    for number in NUMBERS[:50]:
        assert client.timeline(number, shipped_at=SHIPPED) == client.timeline(
            number, shipped_at=SHIPPED
        )


@pytest.mark.parametrize("shipped_at", [SHIPPED, SHIPPED.replace(hour=19), SHIPPED.replace(day=28)])
def test_events_never_go_backwards(shipped_at):
    for number in NUMBERS:
        events = SimulatedCarrier().timeline(number, shipped_at=shipped_at)
        times = [e.occurred_at for e in events]
        assert times == sorted(times), number
        assert len(set(times)) == len(times), number
        ranks = [STATUS_RANK[e.status] for e in events if e.status]
        assert ranks == sorted(ranks), number
        assert events[0].occurred_at > shipped_at
        assert len({e.event_id for e in events}) == len(events)
        assert events[-1].status in ("delivered", "returned_to_sender")


def test_a_normal_parcel_is_picked_up_sorted_and_delivered_on_the_expected_day():
    client = SimulatedCarrier()
    number = next(
        n
        for n in NUMBERS
        if n.startswith("SIM2")
        and not any(e.status == "exception" for e in client.timeline(n, shipped_at=SHIPPED))
    )
    events = client.timeline(number, shipped_at=SHIPPED)
    words = [e.carrier_status for e in events]
    assert words[:3] == ["pre_transit", "in_transit", "in_transit"]
    assert words[-2:] == ["out_for_delivery", "delivered"]
    out, delivered = (timezone.localtime(e.occurred_at) for e in events[-2:])
    assert out.date() == delivered.date() == datetime.date(2026, 11, 25)  # Monday + 2 working days
    assert out.hour < 10
    assert 12 <= delivered.hour < 18
    assert all(e.location for e in events)
    assert "hub" in events[2].message


def test_a_small_share_meets_a_problem_and_most_recover():
    client = SimulatedCarrier()
    endings = Counter()
    problems = 0
    for number in NUMBERS:
        events = client.timeline(number, shipped_at=SHIPPED)
        if any(e.status == "exception" for e in events):
            problems += 1
            endings[events[-1].status] += 1
    assert 0 < problems < len(NUMBERS) * 0.15
    assert endings["delivered"] > endings["returned_to_sender"]


def test_track_returns_only_what_has_happened_by_now():
    client = SimulatedCarrier()
    number = NUMBERS[0]
    just_shipped = timezone.now() - datetime.timedelta(minutes=5)
    assert [e.carrier_status for e in client.track(number, shipped_at=just_shipped)] == [
        "pre_transit"
    ]
    long_ago = timezone.now() - datetime.timedelta(days=30)
    assert client.track(number, shipped_at=long_ago) == client.timeline(number, shipped_at=long_ago)


def test_weekend_shipments_are_picked_up_on_monday():
    saturday = datetime.datetime(2026, 11, 28, 10, 0, tzinfo=timezone.get_current_timezone())
    events = SimulatedCarrier().timeline(NUMBERS[0], shipped_at=saturday)
    assert timezone.localtime(events[1].occurred_at).date() == datetime.date(2026, 11, 30)


def test_buy_label_returns_a_number_and_a_pdf():
    request = LabelRequest(
        shipment_number="SH-1",
        order_number="NW-1",
        service_code="express",
        ship_from={
            "name": "Shop",
            "line1": "A 1",
            "city": "Hamburg",
            "postal_code": "20457",
            "country": "DE",
        },
        ship_to={
            "name": "B",
            "line1": "B 2",
            "line2": "",
            "city": "Berlin",
            "region": "",
            "postal_code": "10115",
            "country": "DE",
        },
        parcels=[ParcelSpec(weight_grams=900)],
    )
    label = SimulatedCarrier().buy_label(request)
    assert label.tracking_number.startswith("SIM1")  # express at home: next working day
    assert label.pdf.startswith(b"%PDF")
    with pytest.raises(CarrierError, match=r"up to 31\.5 kg"):
        SimulatedCarrier().buy_label(
            LabelRequest(**{**request.__dict__, "parcels": [ParcelSpec(weight_grams=40_000)]})
        )
    assert SimulatedCarrier.pushes_events is False
    with pytest.raises(CarrierError, match="not a tracking number of the simulated carrier"):
        SimulatedCarrier().track("JJD0001", shipped_at=SHIPPED)


@pytest.mark.django_db
def test_client_for_picks_the_adapter():
    sim = Carrier.objects.create(code="sim", name="Sim", adapter="simulated")
    manual = Carrier.objects.create(code="van", name="Own van", adapter="manual")
    assert isinstance(client_for(sim), SimulatedCarrier)
    assert sells_labels(sim)
    assert not sells_labels(manual)
    with pytest.raises(CarrierError, match="Own van is a manual carrier"):
        client_for(manual)


def test_a_long_trip_is_scanned_every_working_day_so_it_never_looks_forgotten():
    """The attention list flags parcels without news for 3 days: a five-day trip must not."""
    client = SimulatedCarrier()
    friday = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=timezone.get_current_timezone())
    for number in [n for n in NUMBERS if n.startswith("SIM5")][:30]:
        events = client.timeline(number, shipped_at=friday)
        # Up to a problem, if any: a parcel in exception is on the attention list anyway.
        problem = next((i for i, e in enumerate(events) if e.status == "exception"), len(events))
        moving = events[: problem + 1]
        gaps = [b.occurred_at - a.occurred_at for a, b in itertools.pairwise(moving)]
        assert max(gaps) < datetime.timedelta(days=3), number  # a weekend is the longest silence
