from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Concat

from inventory.models import Reservation
from orders.choices import OrderStatus
from orders.models import Order

from .choices import IN_FLIGHT_STATUSES, OPEN_STATUSES
from .models import Shipment


def orders_ready_to_pick(*, user, warehouse=None):
    """Open orders with reserved units and no open shipment yet."""
    open_shipment = Shipment.objects.filter(order=OuterRef("pk"), status__in=OPEN_STATUSES)
    qs = (
        Order.objects.visible_to(user)
        .filter(status=OrderStatus.OPEN, lines__quantity_reserved__gt=0)
        .filter(~Exists(open_shipment))
        .select_related("customer", "channel")
        .distinct()
        .order_by("placed_at", "id")
    )
    if warehouse is not None:
        held_here = Reservation.objects.filter(
            warehouse=warehouse, quantity__gt=0,
            demand_ref__startswith=Concat(Value("order:"), OuterRef("number"), Value(":")),
        )
        qs = qs.filter(Exists(held_here))
    return qs


def shipments_by_status(*, user, statuses, warehouse=None):
    qs = Shipment.objects.filter(status__in=statuses, order__in=Order.objects.visible_to(user))
    if warehouse is not None:
        qs = qs.filter(warehouse=warehouse)
    return qs.select_related("order", "warehouse", "carrier").order_by("created_at")


def shipments_in_flight(*, user, warehouse=None):
    return shipments_by_status(user=user, statuses=IN_FLIGHT_STATUSES, warehouse=warehouse)


def order_shipments(*, order):
    return order.shipments.select_related("warehouse", "carrier").prefetch_related("lines__order_line")
