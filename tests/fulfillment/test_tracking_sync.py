"""The beat task that polls carriers which do not push: batches, intervals, isolated errors."""

import datetime
import itertools
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from fulfillment import carriers
from fulfillment.carriers.base import CarrierError, CarrierEvent
from fulfillment.models import Shipment, TrackingEvent
from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_mark_delivered,
    shipment_ship,
    shipments_create,
)
from fulfillment.tasks import tracking_sync_due as tracking_sync_task
from fulfillment.tracking import tracking_sync_due
from orders.services import LineInput, order_place
from tests.factories import CarrierFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
CUSTOMERS = itertools.count(1)


class FakeCarrier:
    """Answers `track` with one in-transit event; remembers who asked; fails on request."""

    pushes_events = False
    min_interval_seconds = 0

    def __init__(self, fail_for=()):
        self.asked: list[str] = []
        self.fail_for = set(fail_for)

    def track(self, tracking_number, *, shipped_at):
        self.asked.append(tracking_number)
        if tracking_number in self.fail_for:
            raise CarrierError("carrier timed out")
        return [
            CarrierEvent(
                tracking_number=tracking_number,
                status="in_transit",
                carrier_status="TRANSIT",
                occurred_at=shipped_at + datetime.timedelta(hours=3),
                event_id=f"{tracking_number}-1",
                location="Hannover, DE",
                message="Sorted at hub",
            )
        ]


class Pusher:
    pushes_events = True

    def track(self, tracking_number, *, shipped_at):  # pragma: no cover - must never be called
        raise AssertionError("a carrier that pushes is never polled")


@pytest.fixture
def fake(monkeypatch):
    client = FakeCarrier()

    def client_for(carrier):
        if carrier.adapter == "manual":
            raise CarrierError("manual carriers have no client")
        return Pusher() if carrier.adapter == "easypost" else client

    monkeypatch.setattr(carriers, "client_for", client_for, raising=False)
    return client


@pytest.fixture
def polled(db):
    return CarrierFactory(
        code="sim", name="Simulated Parcel", adapter="simulated", poll_interval_minutes=60
    )


def make_shipments(n, *, channel, product, actor, address, carrier, prefix="SIM"):
    result = []
    for i in range(n):
        order = order_place(
            channel=channel,
            email=f"s{next(CUSTOMERS)}@example.com",
            name="Ada",
            address=address,
            lines=[LineInput(product, 1)],
            actor=actor,
            shipping_total=Decimal("0"),
        )
        s = shipments_create(order=order, actor=actor)[0]
        shipment_confirm_picked(shipment=s, actor=actor)
        shipment_confirm_packed(shipment=s, actor=actor)
        shipment_ship(shipment=s, carrier=carrier, tracking_number=f"{prefix}{i:03d}", actor=actor)
        result.append(Shipment.objects.get(pk=s.pk))
    return result


@pytest.fixture
def three(channel, stocked_product, manager, address, polled):
    return make_shipments(
        3, channel=channel, product=stocked_product, actor=manager, address=address, carrier=polled
    )


def test_polls_due_shipments_in_batches_oldest_sync_first(fake, three):
    a, b, c = three
    Shipment.objects.filter(pk=a.pk).update(last_synced_at=NOW - datetime.timedelta(hours=5))
    Shipment.objects.filter(pk=b.pk).update(last_synced_at=NOW - datetime.timedelta(hours=2))
    # c was never synced: it goes first.

    first = tracking_sync_due(limit=2, now=NOW)

    assert fake.asked == [c.tracking_number, a.tracking_number]
    assert (first.polled, first.events, first.failed) == (2, 2, 0)
    second = tracking_sync_due(limit=2, now=NOW)
    assert fake.asked[2:] == [b.tracking_number]
    assert second.polled == 1
    assert tracking_sync_due(limit=2, now=NOW).polled == 0  # everything fresh now
    for s in three:
        s.refresh_from_db()
        assert s.last_synced_at == NOW
        assert s.status == "in_transit"
        assert s.tracking_events.count() == 1


def test_the_carrier_interval_is_respected(fake, three, polled):
    a, b, c = three
    Shipment.objects.filter(pk=a.pk).update(last_synced_at=NOW - datetime.timedelta(minutes=30))
    Shipment.objects.filter(pk=b.pk).update(last_synced_at=NOW - datetime.timedelta(minutes=61))
    Shipment.objects.filter(pk=c.pk).update(last_synced_at=NOW - datetime.timedelta(minutes=59))

    tracking_sync_due(now=NOW)
    assert fake.asked == [b.tracking_number]

    polled.poll_interval_minutes = 20
    polled.save()
    tracking_sync_due(now=NOW)
    assert sorted(fake.asked[1:]) == sorted([a.tracking_number, c.tracking_number])


def test_one_failing_shipment_does_not_stop_the_batch(fake, three):
    a, b, c = three
    fake.fail_for = {b.tracking_number}

    report = tracking_sync_due(now=NOW)

    assert (report.polled, report.events, report.failed) == (3, 2, 1)
    assert TrackingEvent.objects.filter(shipment__in=[a, c]).count() == 2
    assert TrackingEvent.objects.filter(shipment=b).count() == 0
    b.refresh_from_db()
    assert b.last_synced_at == NOW  # tried again after the interval, not in a tight loop


def test_only_open_shipments_of_polled_carriers_are_asked(
    fake, channel, stocked_product, manager, address, polled
):
    pushed = CarrierFactory(code="ep", name="EasyPost", adapter="easypost")
    manual = CarrierFactory(code="van", name="Own van", adapter="manual")
    open_, delivered = make_shipments(
        2, channel=channel, product=stocked_product, actor=manager, address=address, carrier=polled
    )
    shipment_mark_delivered(shipment=delivered, actor=manager)
    make_shipments(
        1,
        channel=channel,
        product=stocked_product,
        actor=manager,
        address=address,
        carrier=pushed,
        prefix="EP",
    )
    make_shipments(
        1,
        channel=channel,
        product=stocked_product,
        actor=manager,
        address=address,
        carrier=manual,
        prefix="VAN",
    )

    report = tracking_sync_due(now=NOW)

    assert fake.asked == [open_.tracking_number]
    assert report.polled == 1


def test_calls_are_spaced_by_the_carrier_client(fake, three):
    fake.min_interval_seconds = 0.5
    pauses = []

    tracking_sync_due(now=NOW, sleep=pauses.append)

    assert pauses == [0.5, 0.5]  # between calls, not before the first


def test_running_twice_records_nothing_new(fake, three):
    tracking_sync_due(now=NOW)
    report = tracking_sync_due(now=NOW + datetime.timedelta(hours=2))

    assert report.polled == 3
    assert report.events == 0
    assert TrackingEvent.objects.count() == 3


def test_the_celery_task_and_the_command_run_one_batch(fake, three, capsys):
    assert tracking_sync_task.apply().get() == {"polled": 3, "events": 3, "failed": 0}

    Shipment.objects.update(last_synced_at=None)
    call_command("sync_tracking", "--limit", "1", "--no-late")
    assert "Polled 1 shipment(s): 0 new event(s), 0 failed." in capsys.readouterr().out


def test_beat_runs_the_tracking_tasks():
    from config.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {
        "fulfillment.tasks.tracking_sync_due",
        "fulfillment.tasks.shipments_late_notify",
        "fulfillment.tasks.feedback_requests_due",
    } <= tasks


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_never_poll_the_same_shipment(
    monkeypatch, channel, stocked_product, manager, address
):
    import threading

    from django.db import connection

    carrier = CarrierFactory(
        code="sim2", name="Simulated", adapter="simulated", poll_interval_minutes=60
    )
    shipments = make_shipments(
        6, channel=channel, product=stocked_product, actor=manager, address=address, carrier=carrier
    )
    client = FakeCarrier()
    lock = threading.Lock()
    original = client.track

    def slow_track(tracking_number, *, shipped_at):
        with lock:
            return original(tracking_number, shipped_at=shipped_at)

    client.track = slow_track
    monkeypatch.setattr(carriers, "client_for", lambda c: client, raising=False)
    barrier = threading.Barrier(2)
    reports = []

    def worker():
        try:
            barrier.wait()
            reports.append(tracking_sync_due(now=NOW))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(client.asked) == sorted(s.tracking_number for s in shipments)  # each exactly once
    assert sum(r.polled for r in reports) == 6
