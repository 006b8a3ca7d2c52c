"""Reads about orders shared by the staff pages, the API and reports."""

import datetime

from django.db.models import Q
from django.utils import timezone

from .choices import FulfillmentStatus, OrderStatus
from .models import Order

# Units still to ship: nothing, or only part of the order, has left the warehouse.
NOT_SHIPPED = (
    FulfillmentStatus.UNFULFILLED,
    FulfillmentStatus.PARTIALLY_RESERVED,
    FulfillmentStatus.RESERVED,
    FulfillmentStatus.PARTIALLY_SHIPPED,
)
# A held order still owes the customer its ship date; a cancelled or closed one does not.
LATE_STATUSES = (OrderStatus.OPEN, OrderStatus.ON_HOLD)


def late_q(*, today: datetime.date | None = None) -> Q:
    """Open or held orders with units still to ship whose promised ship date has passed.

    One branch per status, each a plain comparison on ``promised_ship_date``: the open branch
    is answered by the partial index ``order_open_promised`` (status = 'open'), the held one
    (few rows) by the status index; PostgreSQL ORs the two bitmaps."""
    today = today or timezone.localdate()
    due = Q(promised_ship_date__lt=today, fulfillment_status__in=NOT_SHIPPED)
    return (Q(status=OrderStatus.OPEN) & due) | (Q(status=OrderStatus.ON_HOLD) & due)


def order_is_late(order: Order, *, today: datetime.date | None = None) -> bool:
    """The same rule as ``late_q`` for an order already loaded (no query)."""
    today = today or timezone.localdate()
    return bool(
        order.status in LATE_STATUSES
        and order.fulfillment_status in NOT_SHIPPED
        and order.promised_ship_date
        and order.promised_ship_date < today
    )


def days_late(order: Order, *, today: datetime.date | None = None) -> int:
    """Calendar days past the promised ship date (0 when not late)."""
    today = today or timezone.localdate()
    if not order_is_late(order, today=today):
        return 0
    return (today - order.promised_ship_date).days
