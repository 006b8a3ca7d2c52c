"""Delivery feedback: the request after delivery and the customer's rating.

FEEDBACK_REQUEST_DAYS after an order is delivered (every parcel), the customer is emailed
once a link to rate the delivery (1-5 and a comment) on the status page. A rating is stored
once per order; a second submission leaves the first in place."""

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from core.errors import DomainError, ValidationFailed
from orders.choices import EventSource, EventType, FulfillmentStatus, NotificationKind
from orders.models import Notification, Order
from orders.services import notification_queue, order_event_add

from .choices import ShipmentStatus
from .models import DeliveryFeedback, Shipment

# Orders delivered longer ago than this (past the request day) are not asked any more:
# turning the feature on must not email every customer of the last years.
REQUEST_WINDOW = datetime.timedelta(days=14)
COMMENT_MAX = 2000


def feedback_requests_due(*, now=None, days: int | None = None, limit: int = 500) -> int:
    """Queue the feedback request of every order delivered `days` ago or more (within the
    window), with no rating and no request yet. Safe to run any number of times."""
    now = now or timezone.now()
    days = settings.FEEDBACK_REQUEST_DAYS if days is None else days
    latest = now - datetime.timedelta(days=days)
    delivered_at = (
        Shipment.objects.filter(order=OuterRef("pk"), status=ShipmentStatus.DELIVERED)
        .order_by()
        .values("order")
        .annotate(m=Max("delivered_at"))
        .values("m")
    )
    asked = Notification.objects.filter(
        order=OuterRef("pk"), kind=NotificationKind.FEEDBACK_REQUEST
    )
    orders = (
        Order.objects.filter(fulfillment_status=FulfillmentStatus.DELIVERED, feedback__isnull=True)
        .annotate(last_delivered=delivered_at)
        .filter(last_delivered__lte=latest, last_delivered__gt=latest - REQUEST_WINDOW)
        .filter(~Exists(asked))
        .order_by("last_delivered", "id")[:limit]
    )
    queued = 0
    for order in orders:
        with transaction.atomic():
            if notification_queue(
                order=order,
                kind=NotificationKind.FEEDBACK_REQUEST,
                key="",
                payload={"delivered_at": order.last_delivered.isoformat()},
            ):
                queued += 1
    return queued


def feedback_can_rate(*, order: Order) -> bool:
    """Rating opens once something of the order was delivered."""
    return order.shipments.filter(status=ShipmentStatus.DELIVERED).exists()


def feedback_submit(*, order: Order, rating, comment: str = "") -> tuple[DeliveryFeedback, bool]:
    """Store the customer's rating once. Returns (feedback, created): a second submission
    returns the stored one unchanged."""
    errors: dict[str, list[str]] = {}
    try:
        value = int(rating)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 5:
        errors["rating"] = ["Choose a rating from 1 (poor) to 5 (excellent)."]
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        errors["comment"] = [
            f"Keep the comment under {COMMENT_MAX} characters (it has {len(comment)})."
        ]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        existing = DeliveryFeedback.objects.filter(order=locked).first()
        if existing is not None:
            return existing, False
        if not feedback_can_rate(order=locked):
            raise DomainError("You can rate the delivery once your order has arrived.")
        try:
            with transaction.atomic():
                feedback = DeliveryFeedback.objects.create(
                    order=locked, rating=value, comment=comment
                )
        except IntegrityError:
            return DeliveryFeedback.objects.get(order=locked), False
        order_event_add(
            order=locked,
            type=EventType.FEEDBACK,
            actor=None,
            source=EventSource.CUSTOMER,
            message=f"Customer rated the delivery {value}/5"
            + (f": “{comment}”" if comment else "."),
            payload={"rating": value},
        )
    return feedback, True
