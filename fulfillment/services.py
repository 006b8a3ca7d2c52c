"""Shipments: create from reserved lines, pick, pack, ship (stock leaves through the ledger),
deliver. Each step locks the shipment, checks the transition table and writes the timeline."""

from collections import defaultdict

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core import roles
from core.errors import DomainError, InvalidTransition, ValidationFailed
from core.sequences import sequence_next
from inventory.models import Warehouse
from inventory.selectors import reservations_by_ref
from inventory.services import stock_ship
from invoicing.services import invoice_issue
from orders.choices import EventSource, EventType, NotificationKind, OrderStatus
from orders.models import Order, OrderLine, line_demand_ref
from orders.services import (
    notification_queue,
    order_event_add,
    order_lines_allocated,
    order_lines_delivered,
    order_lines_shipped,
)

from .choices import OPEN_STATUSES, SHIPMENT_TRANSITIONS, PickListStatus, ShipmentStatus
from .models import Carrier, PickList, Shipment, ShipmentLine

_BECOME = {ShipmentStatus.PICKING: "picked"}


def pick_list_settle(*, pick_list_id: int | None) -> None:
    """A pick list is completed once none of its shipments is still waiting to be picked
    (picked, packed, shipped or cancelled all count as done), however each got there."""
    if pick_list_id is None:
        return
    waiting = Shipment.objects.filter(
        pick_list_id=pick_list_id,
        picked_at__isnull=True,
        status__in=(ShipmentStatus.PENDING, ShipmentStatus.PICKING),
    )
    if not waiting.exists():
        now = timezone.now()
        PickList.objects.filter(pk=pick_list_id, status=PickListStatus.OPEN).update(
            status=PickListStatus.COMPLETED, completed_at=now, updated_at=now
        )


def _lock(shipment: Shipment, new_status: str) -> Shipment:
    locked = (
        Shipment.objects.select_for_update(of=("self",))
        .select_related("order", "warehouse", "carrier")
        .get(pk=shipment.pk)
    )
    if new_status not in SHIPMENT_TRANSITIONS[locked.status]:
        raise InvalidTransition(
            f"Shipment {locked.number} is {locked.get_status_display().lower()}; "
            f"it cannot become {_BECOME.get(new_status, ShipmentStatus(new_status).label.lower())}."
        )
    return locked


def shippable_quantities(*, order: Order) -> dict[int, dict[int, int]]:
    """Per warehouse, per order line: reserved units not yet in an open shipment."""
    lines = list(order.lines.all())
    refs = {line_demand_ref(order.number, ln.line_no): ln for ln in lines}
    in_shipments = defaultdict(int)
    for row in (
        ShipmentLine.objects.filter(order_line__order=order, shipment__status__in=OPEN_STATUSES)
        .values("order_line_id", "shipment__warehouse_id")
        .annotate(q=Sum("quantity"))
    ):
        in_shipments[(row["order_line_id"], row["shipment__warehouse_id"])] = row["q"]
    result: dict[int, dict[int, int]] = defaultdict(dict)
    for ref, reservations in reservations_by_ref(refs=list(refs)).items():
        ln = refs[ref]
        for r in reservations:
            free = r.quantity - in_shipments[(ln.pk, r.warehouse_id)]
            if free > 0:
                result[r.warehouse_id][ln.pk] = free
    return dict(result)


@transaction.atomic
def shipments_create(*, order: Order, actor) -> list[Shipment]:
    """One shipment per warehouse holding reserved, unshipped units of the order."""
    roles.check_role(actor, roles.FULFIL)
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != OrderStatus.OPEN:
        raise DomainError(
            f"Order {order.number} is {order.get_status_display().lower()}; only open orders ship."
        )
    plan = shippable_quantities(order=order)
    if not plan:
        raise DomainError("Nothing reserved is waiting to ship on this order.")
    shipments = []
    warehouses = Warehouse.objects.in_bulk(list(plan))
    for wh_id in sorted(plan, key=lambda w: (warehouses[w].priority, warehouses[w].code)):
        quantities = plan[wh_id]
        seq = sequence_next(name="shipment")
        shipment = Shipment.objects.create(
            number=f"SH-{seq:06d}",
            order=order,
            warehouse=warehouses[wh_id],
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        ShipmentLine.objects.bulk_create(
            [
                ShipmentLine(shipment=shipment, order_line_id=line_id, quantity=q)
                for line_id, q in quantities.items()
            ]
        )
        order_lines_allocated(order=order, deltas=quantities, warehouse_id=wh_id)
        order_event_add(
            order=order,
            type=EventType.SHIPMENT_CREATED,
            actor=actor,
            message=f"Shipment {shipment.number} created in {shipment.warehouse.code} "
            f"for {sum(quantities.values())} unit(s).",
            payload={"shipment": shipment.number},
        )
        shipments.append(shipment)
    return shipments


@transaction.atomic
def shipment_confirm_picked(*, shipment: Shipment, actor) -> Shipment:
    roles.check_role(actor, roles.FULFIL)
    s = _lock(shipment, ShipmentStatus.PICKING)
    for line in s.lines.all():
        ShipmentLine.objects.filter(pk=line.pk).update(quantity_picked=line.quantity)
    s.status = ShipmentStatus.PICKING
    s.picked_at = timezone.now()
    s.save(update_fields=["status", "picked_at", "updated_at"])
    order_event_add(
        order=s.order,
        type=EventType.PICKED,
        actor=actor,
        message=f"Shipment {s.number}: every line picked in {s.warehouse.code}.",
        payload={"shipment": s.number},
    )
    return s


@transaction.atomic
def shipment_confirm_packed(*, shipment: Shipment, actor) -> Shipment:
    roles.check_role(actor, roles.FULFIL)
    s = _lock(shipment, ShipmentStatus.PACKED)
    for line in s.lines.all():
        ShipmentLine.objects.filter(pk=line.pk).update(quantity_packed=line.quantity_picked)
    s.status = ShipmentStatus.PACKED
    s.packed_at = timezone.now()
    s.save(update_fields=["status", "packed_at", "updated_at"])
    order_event_add(
        order=s.order,
        type=EventType.PACKED,
        actor=actor,
        message=f"Shipment {s.number} packed.",
        customer_message="Your order is packed.",
        payload={"shipment": s.number},
    )
    return s


@transaction.atomic
def shipment_pack_unchecked(*, shipment: Shipment, actor) -> Shipment:
    """A manager confirms a shipment packed without scanning its items (the scanner is down,
    an oversized item has no barcode). The packing station is the checked way; this override
    says so on the timeline."""
    roles.check_role(
        actor,
        roles.PACK_WITHOUT_SCAN,
        "Pack at the packing station: every item is scanned there. Only a Manager may "
        "confirm a shipment packed without scanning.",
    )
    s = shipment_confirm_packed(shipment=shipment, actor=actor)
    if s.picked_at is None:  # packed straight off a pick list: it is picked too
        Shipment.objects.filter(pk=s.pk).update(picked_at=s.packed_at)
        s.picked_at = s.packed_at
    pick_list_settle(pick_list_id=s.pick_list_id)
    order_event_add(
        order=s.order,
        type=EventType.NOTE,
        actor=actor,
        message=f"Shipment {s.number} confirmed packed without scanning its items.",
        payload={"shipment": s.number, "unchecked": True},
    )
    return s


def shipment_email_payload(s: Shipment, *, lines: list[ShipmentLine] | None = None) -> dict:
    """What the customer's emails about a parcel show: carrier, tracking, expected date, items."""
    if lines is None:
        lines = [sl for sl in s.lines.select_related("order_line") if sl.quantity]
    return {
        "shipment": s.number,
        "carrier": s.carrier.name if s.carrier else "",
        "tracking_number": s.tracking_number,
        "tracking_url": s.tracking_url,
        "expected_delivery_date": s.expected_delivery_date.isoformat()
        if s.expected_delivery_date
        else "",
        "items": [
            {"sku": sl.order_line.sku, "name": sl.order_line.name, "quantity": sl.quantity}
            for sl in lines
        ],
    }


@transaction.atomic
def shipment_ship(
    *, shipment: Shipment, carrier: Carrier | None, tracking_number: str, actor
) -> Shipment:
    """Hand the parcel to the carrier: stock leaves on_hand and reserved through the ledger,
    the order's lines count it shipped, the invoice is issued and the customer is told."""
    roles.check_role(actor, roles.FULFIL)
    errors: dict[str, list[str]] = {}
    if carrier is None:
        errors["carrier"] = ["Choose the carrier."]
    if not (tracking_number or "").strip():
        errors["tracking_number"] = ["Enter the tracking number printed on the label."]
    if errors:
        raise ValidationFailed(errors)
    s = _lock(shipment, ShipmentStatus.SHIPPED)
    order = Order.objects.select_for_update().get(pk=s.order_id)
    if order.status not in (OrderStatus.OPEN,):
        raise DomainError(
            f"Order {order.number} is {order.get_status_display().lower()}; release it before shipping."
        )
    # A line whose units were all short-picked stays on the shipment with nothing in it.
    lines = [
        sl for sl in s.lines.select_related("order_line").order_by("order_line_id") if sl.quantity
    ]
    if not lines:
        raise DomainError(f"Shipment {s.number} holds nothing to ship.")
    quantities = {}
    for sl in lines:
        stock_ship(
            demand_ref=line_demand_ref(order.number, sl.order_line.line_no),
            warehouse_id=s.warehouse_id,
            quantity=sl.quantity,
            actor=actor,
            reference=s.number,
        )
        quantities[sl.order_line_id] = sl.quantity
    order_lines_shipped(order=order, quantities=quantities)
    s.status = ShipmentStatus.SHIPPED
    s.carrier = carrier
    s.tracking_number = tracking_number.strip()
    s.shipped_at = timezone.now()
    s.save(update_fields=["status", "carrier", "tracking_number", "shipped_at", "updated_at"])
    order_event_add(
        order=order,
        type=EventType.SHIPPED,
        actor=actor,
        message=f"Shipment {s.number} shipped with {carrier.name}, tracking {s.tracking_number}.",
        customer_message=f"On its way with {carrier.name} (tracking {s.tracking_number}).",
        payload={
            "shipment": s.number,
            "carrier": carrier.code,
            "tracking_number": s.tracking_number,
        },
    )
    notification_queue(
        order=order,
        kind=NotificationKind.ORDER_SHIPPED,
        key=s.number,
        payload=shipment_email_payload(s, lines=lines),
    )
    if not order.invoices.exists():
        invoice_issue(order=order, actor=actor, source=EventSource.SYSTEM)
    return s


@transaction.atomic
def shipment_mark_delivered(
    *, shipment: Shipment, actor, note: str = "", source: str = EventSource.STAFF
) -> Shipment:
    if source == EventSource.STAFF:
        roles.check_role(actor, roles.MARK_DELIVERED)
    s = _lock(shipment, ShipmentStatus.DELIVERED)
    s.status = ShipmentStatus.DELIVERED
    s.delivered_at = timezone.now()
    s.delivery_note = note.strip()
    s.save(update_fields=["status", "delivered_at", "delivery_note", "updated_at"])
    # The event first: recounting the lines may close the order, which comes after.
    order_event_add(
        order=s.order,
        type=EventType.DELIVERED,
        actor=actor,
        source=source,
        message=f"Shipment {s.number} delivered."
        + (f" Note: {s.delivery_note}" if s.delivery_note else ""),
        customer_message="Delivered.",
        payload={"shipment": s.number},
    )
    # A line whose units were all short-picked stays on the shipment with nothing in it.
    order_lines_delivered(
        order=s.order,
        quantities={sl.order_line_id: sl.quantity for sl in s.lines.all() if sl.quantity},
    )
    notification_queue(
        order=s.order,
        kind=NotificationKind.ORDER_DELIVERED,
        key=s.number,
        payload={"shipment": s.number},
    )
    return s


@transaction.atomic
def shipment_cancel(*, shipment: Shipment, actor, reason: str) -> Shipment:
    """Undo a shipment that has not left: its units stay reserved for the order."""
    roles.check_role(actor, roles.FULFIL)
    if not reason.strip():
        raise DomainError("Say why the shipment is cancelled.", field="reason")
    s = _lock(shipment, ShipmentStatus.CANCELLED)
    s.status = ShipmentStatus.CANCELLED
    s.save(update_fields=["status", "updated_at"])
    order_lines_allocated(
        order=s.order,
        deltas={sl.order_line_id: -sl.quantity for sl in s.lines.all() if sl.quantity},
        warehouse_id=s.warehouse_id,
    )
    pick_list_settle(pick_list_id=s.pick_list_id)
    order_event_add(
        order=s.order,
        type=EventType.NOTE,
        actor=actor,
        message=f"Shipment {s.number} cancelled: {reason.strip()}. Its units stay reserved.",
        payload={"shipment": s.number},
    )
    return s


def order_line_warehouse(*, order_line: OrderLine) -> int | None:
    """The warehouse a line shipped from (the first shipped shipment holding it)."""
    sl = (
        ShipmentLine.objects.filter(order_line=order_line, shipment__shipped_at__isnull=False)
        .select_related("shipment")
        .order_by("shipment__shipped_at")
        .first()
    )
    return sl.shipment.warehouse_id if sl else None
