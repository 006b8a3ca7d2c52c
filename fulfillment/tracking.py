"""Tracking events: stored once, in any order; a shipment's status only moves forward.

What a carrier says arrives as `carriers.base.CarrierEvent` values, pushed by a webhook or
polled by the beat task. `tracking_event_record` stores each one once (the unique
`dedupe_key`, under the shipment's row lock) and moves the shipment through the transition
table only when the news is new:

- a late in_transit never overrides out_for_delivery or delivered (the table never goes back);
- `delivered` is final unless the parcel is returned to sender;
- an exception applies only when it is the newest news, and the shipment recovers from it
  only with an event newer than the exception.

Delivered goes through `services.shipment_mark_delivered` (line quantities, the delivered
email); out for delivery, exceptions and late parcels email the customer once each."""

import datetime
import hashlib
import logging
import time
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from orders.choices import EventSource, EventType, NotificationKind
from orders.services import notification_queue, order_event_add

from .carriers.base import CarrierEvent
from .choices import IN_FLIGHT_STATUSES, SHIPMENT_TRANSITIONS, CarrierAdapter, ShipmentStatus
from .models import Carrier, Shipment, TrackingEvent, UnmatchedTrackingEvent
from .services import shipment_email_payload, shipment_mark_delivered

logger = logging.getLogger(__name__)

S = ShipmentStatus
STALE_AFTER = datetime.timedelta(days=3)  # no tracking news for this long needs a look
TRACKED_STATUSES = {
    S.IN_TRANSIT,
    S.OUT_FOR_DELIVERY,
    S.DELIVERED,
    S.EXCEPTION,
    S.RETURNED_TO_SENDER,
}
SYNC_BATCH = 200  # shipments polled per run of the beat task, at most


# ---------------------------------------------------------------- plain words


def customer_words(status: str, message: str = "") -> str:
    """What a tracking status means to the customer, in plain words."""
    detail = (message or "").strip().rstrip(".")
    return {
        S.SHIPPED: "Handed to the carrier",
        S.IN_TRANSIT: "On its way",
        S.OUT_FOR_DELIVERY: "Out for delivery today",
        S.DELIVERED: "Delivered",
        S.EXCEPTION: f"Delivery problem: {detail}" if detail else "Delivery problem",
        S.RETURNED_TO_SENDER: "On its way back to us",
    }.get(status, detail or "Tracking update")


# ---------------------------------------------------------------- recording


@dataclass(frozen=True)
class Recorded:
    event: TrackingEvent
    created: bool  # False: the same event was stored before
    applied: bool  # True: it moved the shipment's status


def dedupe_key(event: CarrierEvent) -> str:
    """The carrier's event id when it has one, else a hash of what the event says."""
    if event.event_id:
        basis = f"id|{event.event_id}"
    else:
        when = event.occurred_at.astimezone(datetime.UTC).isoformat()
        basis = f"ev|{event.status}|{event.carrier_status}|{when}|{event.message.strip()}"
    return hashlib.sha256(basis.encode()).hexdigest()


def _applies(*, current: str, new: str, occurred_at, newest_applied) -> bool:
    if not new or new not in SHIPMENT_TRANSITIONS.get(current, set()):
        return False
    if new == S.RETURNED_TO_SENDER:
        return True
    if new == S.EXCEPTION:  # only the newest news puts a parcel in exception
        return newest_applied is None or occurred_at >= newest_applied
    if current == S.EXCEPTION:  # recovery needs news newer than the exception
        return newest_applied is None or occurred_at > newest_applied
    return True


@transaction.atomic
def tracking_event_record(
    *, shipment: Shipment, event: CarrierEvent, source: str = EventSource.SYSTEM
) -> Recorded:
    """Store one carrier event once and move the shipment forward if the news is new."""
    s = (
        Shipment.objects.select_for_update(of=("self",))
        .select_related("order", "carrier")
        .get(pk=shipment.pk)
    )
    key = dedupe_key(event)
    existing = TrackingEvent.objects.filter(shipment=s, dedupe_key=key).first()
    if existing is not None:
        return Recorded(existing, created=False, applied=False)

    status = event.status if event.status in TRACKED_STATUSES else ""
    newest_applied = s.tracking_events.filter(applied=True).aggregate(m=Max("occurred_at"))["m"]
    applies = _applies(
        current=s.status, new=status, occurred_at=event.occurred_at, newest_applied=newest_applied
    )
    try:
        with transaction.atomic():  # the unique constraint is the last word on "once"
            row = TrackingEvent.objects.create(
                shipment=s,
                status=status,
                carrier_status=event.carrier_status[:40],
                occurred_at=event.occurred_at,
                location=event.location[:200],
                message=event.message[:500],
                raw=event.raw or {},
                dedupe_key=key,
                applied=applies,
            )
    except IntegrityError:
        return Recorded(
            TrackingEvent.objects.get(shipment=s, dedupe_key=key), created=False, applied=False
        )

    if s.last_event_at is None or event.occurred_at > s.last_event_at:
        s.last_event_at = event.occurred_at
        Shipment.objects.filter(pk=s.pk).update(last_event_at=event.occurred_at)
    if applies:
        _apply(s, row, source=source)
    return Recorded(row, created=True, applied=applies)


def _apply(s: Shipment, row: TrackingEvent, *, source: str) -> None:
    message = row.message.strip().rstrip(".")
    where = f" ({row.location})" if row.location else ""
    said = f": {message}" if message else ""
    if row.status == S.DELIVERED:
        shipment_mark_delivered(
            shipment=s,
            actor=None,
            source=EventSource.SYSTEM,
            note=f"Carrier: {message}"[:255] if message else "",
        )
        # When the carrier delivered it, not when we heard about it.
        Shipment.objects.filter(pk=s.pk).update(delivered_at=row.occurred_at)
        return
    previous = s.get_status_display().lower()
    s.status = row.status
    s.save(update_fields=["status", "updated_at"])
    if row.status == S.EXCEPTION:
        order_event_add(
            order=s.order,
            type=EventType.DELIVERY_EXCEPTION,
            actor=None,
            source=source,
            message=f"Shipment {s.number}: the carrier reports a problem{said}{where}.",
            customer_message=customer_words(S.EXCEPTION, row.message),
            payload={"shipment": s.number, "carrier_status": row.carrier_status},
        )
        notification_queue(
            order=s.order,
            kind=NotificationKind.SHIPMENT_DELAYED,
            key=f"{s.number}:exception",
            payload={**shipment_email_payload(s), "reason": "exception", "message": row.message},
        )
    elif row.status == S.RETURNED_TO_SENDER:
        order_event_add(
            order=s.order,
            type=EventType.DELIVERY_EXCEPTION,
            actor=None,
            source=source,
            message=f"Shipment {s.number} is being returned to us by the carrier{said}{where}. "
            "Contact the customer; the stock comes back in through a return.",
            customer_message="Your parcel is on its way back to us. We'll be in touch about what happens next.",
            payload={
                "shipment": s.number,
                "carrier_status": row.carrier_status,
                "returned_to_sender": True,
            },
        )
    else:
        order_event_add(
            order=s.order,
            type=EventType.TRACKING,
            actor=None,
            source=source,
            message=f"Shipment {s.number} was {previous}, now {s.get_status_display().lower()}{said}{where}.",
            customer_message=customer_words(row.status, row.message),
            payload={"shipment": s.number, "carrier_status": row.carrier_status},
        )
        if row.status == S.OUT_FOR_DELIVERY:
            notification_queue(
                order=s.order,
                kind=NotificationKind.ORDER_OUT_FOR_DELIVERY,
                key=s.number,
                payload=shipment_email_payload(s),
            )


def tracking_events_record(
    *, shipment: Shipment, events: list[CarrierEvent], source: str = EventSource.SYSTEM
) -> list[Recorded]:
    """Several events of one parcel, oldest first (any order would end the same)."""
    return [
        tracking_event_record(shipment=shipment, event=e, source=source)
        for e in sorted(events, key=lambda e: e.occurred_at)
    ]


# ---------------------------------------------------------------- unknown tracking codes


def tracking_unmatched_keep(
    *, carrier: Carrier | None, tracking_code: str, dedupe_key: str, payload: dict
) -> tuple[UnmatchedTrackingEvent, bool]:
    """Keep a carrier's news about a tracking code we do not know (yet), once."""
    try:
        with transaction.atomic():
            return UnmatchedTrackingEvent.objects.get_or_create(
                dedupe_key=dedupe_key[:64],
                defaults={
                    "carrier": carrier,
                    "tracking_code": tracking_code[:64],
                    "payload": payload,
                },
            )
    except IntegrityError:  # the same event, kept by a concurrent request
        return UnmatchedTrackingEvent.objects.get(dedupe_key=dedupe_key[:64]), False


def tracking_unmatched_claim(*, shipment: Shipment) -> int:
    """Apply the news kept for the shipment's tracking number before we knew it; call it
    once the shipment has shipped (after `shipment_ship`). Before that the news is left
    waiting, so it can still move the shipment later. Returns the number of events recorded."""
    from .carriers import easypost

    if not shipment.tracking_number or shipment.status not in IN_FLIGHT_STATUSES:
        return 0
    recorded = 0
    with transaction.atomic():
        kept = list(
            UnmatchedTrackingEvent.objects.select_for_update(skip_locked=True)
            .filter(tracking_code=shipment.tracking_number, matched_shipment__isnull=True)
            .filter(Q(carrier__isnull=True) | Q(carrier_id=shipment.carrier_id))
            .order_by("received_at", "id")
        )
        for u in kept:
            parsed = easypost.parse_event(u.payload)
            recorded += sum(
                r.created for r in tracking_events_record(shipment=shipment, events=parsed.events)
            )
            u.matched_shipment = shipment
            u.matched_at = timezone.now()
            u.save(update_fields=["matched_shipment", "matched_at"])
    return recorded


def tracking_unmatched_sweep(*, limit: int = 200) -> int:
    """Kept news whose tracking number now belongs to a shipment that has left: apply it.
    Closes the gap of an event kept while its shipment's hand-over was committing (after
    that hand-over's own claim ran). Returns the number of events recorded."""
    codes = list(
        UnmatchedTrackingEvent.objects.filter(matched_shipment__isnull=True)
        .values_list("tracking_code", flat=True)
        .distinct()[:limit]
    )
    recorded = 0
    for s in Shipment.objects.filter(tracking_number__in=codes, status__in=IN_FLIGHT_STATUSES):
        recorded += tracking_unmatched_claim(shipment=s)
    return recorded


# ---------------------------------------------------------------- late parcels


def shipments_late_notify(*, today: datetime.date | None = None, limit: int = 500) -> int:
    """Parcels past their expected delivery date and not delivered: tell the customer once
    (what happens next) and put a line on the staff timeline. Returns how many were told."""
    today = today or timezone.localdate()
    told = 0
    late = (
        Shipment.objects.filter(status__in=IN_FLIGHT_STATUSES, expected_delivery_date__lt=today)
        .select_related("order", "carrier")
        .order_by("expected_delivery_date", "id")[:limit]
    )
    for s in late:
        with transaction.atomic():
            n = notification_queue(
                order=s.order,
                kind=NotificationKind.SHIPMENT_DELAYED,
                key=f"{s.number}:late",
                payload={**shipment_email_payload(s), "reason": "late"},
            )
            if n is not None:
                order_event_add(
                    order=s.order,
                    type=EventType.TRACKING,
                    actor=None,
                    source=EventSource.SYSTEM,
                    message=f"Shipment {s.number} is past its expected delivery date "
                    f"({s.expected_delivery_date:%d %b %Y}); the customer was emailed.",
                    payload={"shipment": s.number, "late": True},
                )
                told += 1
    return told


# ---------------------------------------------------------------- polling


def _polled_carriers() -> list[Carrier]:
    from .carriers import client_for

    polled = []
    for carrier in (
        Carrier.objects.filter(active=True).exclude(adapter=CarrierAdapter.MANUAL).order_by("pk")
    ):
        try:
            if not getattr(client_for(carrier), "pushes_events", False):
                polled.append(carrier)
        except Exception:  # a carrier without a client is not polled
            logger.debug("No tracking client for carrier %s", carrier.code, exc_info=True)
    return polled


def _claim_due(*, limit: int, now) -> list[int]:
    """Shipments to poll now, oldest sync first; marked synced in the claiming transaction
    so a second worker running at the same moment skips them (SKIP LOCKED)."""
    carriers = _polled_carriers()
    if not carriers:
        return []
    due = Q()
    for c in carriers:
        due |= Q(carrier=c) & (
            Q(last_synced_at__isnull=True)
            | Q(last_synced_at__lte=now - datetime.timedelta(minutes=c.poll_interval_minutes))
        )
    with transaction.atomic():
        ids = list(
            Shipment.objects.select_for_update(skip_locked=True)
            .filter(due, status__in=IN_FLIGHT_STATUSES)
            .exclude(tracking_number="")
            .order_by(F("last_synced_at").asc(nulls_first=True), "shipped_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        Shipment.objects.filter(pk__in=ids).update(last_synced_at=now)
    return ids


@dataclass
class SyncReport:
    polled: int = 0
    events: int = 0
    failed: int = 0


def tracking_sync_shipment(*, shipment: Shipment, client=None) -> int:
    """Ask the carrier about one parcel and record what it says. Returns new events."""
    from .carriers import client_for

    client = client or client_for(shipment.carrier)
    events = client.track(shipment.tracking_number, shipped_at=shipment.shipped_at)
    recorded = tracking_events_record(shipment=shipment, events=list(events))
    return sum(r.created for r in recorded)


def tracking_sync_due(*, limit: int = SYNC_BATCH, now=None, sleep=time.sleep) -> SyncReport:
    """Poll the carriers that do not push, for open shipments whose last sync is older than
    the carrier's interval: at most `limit` per run, spaced by the client's
    `min_interval_seconds`; one parcel's error never stops the others."""
    from .carriers import client_for

    now = now or timezone.now()
    report = SyncReport()
    clients = {}
    for pk in _claim_due(limit=limit, now=now):
        shipment = Shipment.objects.select_related("carrier").get(pk=pk)
        client = clients.get(shipment.carrier_id)
        if client is None:
            client = clients[shipment.carrier_id] = client_for(shipment.carrier)
        spacing = float(getattr(client, "min_interval_seconds", 0) or 0)
        if report.polled and spacing:
            sleep(spacing)
        report.polled += 1
        try:
            report.events += tracking_sync_shipment(shipment=shipment, client=client)
        except Exception:
            report.failed += 1
            logger.exception(
                "Tracking sync of shipment %s (%s) failed",
                shipment.number,
                shipment.tracking_number,
            )
    return report
