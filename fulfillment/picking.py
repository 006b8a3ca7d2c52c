"""Pick lists: batches of ready shipments in one warehouse, sorted by bin; pick confirmation and short picks.

A pick list takes many ready orders of one warehouse at once (set-based: a fixed number of
statements whatever the batch size), creates their shipments there (one per warehouse, as
`shipments_create` does), gives each a tote (T1, T2...) and moves it to `picking`. The picker
then confirms each shipment line, or reports a short pick: the missing units leave the
shipment, the stock is corrected with an adjustment that says why, and the units are
re-reserved in another warehouse, or backordered. A shipment whose lines are all confirmed
is picked (to pack); a list whose shipments are all picked is completed.

Lock order (no deadlocks): orders (creation, SKIP LOCKED) -> shipments; confirmation:
pick list -> shipment -> its lines -> the order -> its lines -> stock (inventory's order).
"""

from collections import defaultdict

from django.db import connection, transaction
from django.db.models import CharField, F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from core import roles
from core.errors import DomainError, ValidationFailed
from core.models import Sequence
from core.sequences import sequence_next
from inventory.models import Reservation, StockLevel, Warehouse
from inventory.services import reservations_allocate, stock_adjust, stock_reallocate
from orders.choices import EventSource, EventType
from orders.models import Order, OrderEvent, OrderLine, line_demand_ref
from orders.services import order_event_add, order_lines_allocated, order_recompute

from .choices import PickListStatus, ShipmentStatus
from .models import Carrier, PickList, Shipment, ShipmentLine
from .selectors import PICK_PRIORITIES, orders_pickable

MAX_ORDERS = 1000
DEFAULT_LIMIT = 50


def pick_filters_clean(data: dict | None) -> dict:
    """Normalise the filters of a pick list; raise ValidationFailed naming the field."""
    data = data or {}
    errors: dict[str, list[str]] = {}
    carrier = str(data.get("carrier") or "").strip()
    if carrier and not Carrier.objects.filter(code=carrier).exists():
        errors["carrier"] = [f"There is no carrier {carrier!r}: choose one from the list."]
    method = str(data.get("shipping_method") or "").strip()
    priority = str(data.get("priority") or "promised").strip()
    if priority not in PICK_PRIORITIES:
        errors["priority"] = [
            "Choose how to rank the orders: " + ", ".join(PICK_PRIORITIES.values()).lower() + "."
        ]
    single = data.get("single_line")
    single = single in (True, "1", "on", "true", "yes")
    if errors:
        raise ValidationFailed(errors)
    return {
        "carrier": carrier,
        "shipping_method": method,
        "single_line": single,
        "priority": priority,
    }


def _limit_clean(limit) -> int:
    try:
        value = int(limit)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= MAX_ORDERS:
        raise ValidationFailed({"limit": [f"Take from 1 to {MAX_ORDERS} orders in one pick list."]})
    return value


def _take_numbers(name: str, count: int) -> int:
    """Reserve ``count`` consecutive numbers of a gapless series in one statement; returns
    the first. Same table and locking as core.sequences.sequence_next."""
    if count <= 0:
        return 0
    table = connection.ops.quote_name(Sequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_value = last_value + %s WHERE name = %s RETURNING last_value",  # noqa: S608
            [count, name],
        )
        row = cursor.fetchone()
    if row is None:  # a new series: sequence_next creates it; then take the rest
        first = sequence_next(name=name)
        if count > 1:
            _take_numbers(name, count - 1)
        return first
    return row[0] - count + 1


@transaction.atomic
def pick_list_create(*, warehouse: Warehouse, filters: dict | None, limit: int, actor) -> PickList:
    """Take up to ``limit`` ready orders of ``warehouse`` (filtered and ranked by
    ``filters``), create their shipments there (or take their pending shipments not on a
    list yet), give each a tote and start picking. Orders another pick list is taking at the
    same moment are skipped (SKIP LOCKED), never taken twice."""
    roles.check_role(actor, roles.FULFIL)
    f = pick_filters_clean(filters)
    limit = _limit_clean(limit)
    if not warehouse.active:
        raise DomainError(
            f"{warehouse.code} is not active; pick lists are made in active warehouses."
        )
    user = actor if getattr(actor, "pk", None) else None

    orders = list(
        orders_pickable(warehouse=warehouse, filters=f)
        .select_for_update(of=("self",), skip_locked=True)
        .only("pk", "number")[:limit]
    )
    if not orders:
        raise DomainError(f"No order is ready to pick in {warehouse.code} with these filters.")
    order_ids = [o.pk for o in orders]

    # Pending shipments made one by one ("Create shipment") go on the list as they are.
    pending: dict[int, list[Shipment]] = defaultdict(list)
    for s in (
        Shipment.objects.select_for_update()
        .filter(
            order_id__in=order_ids,
            warehouse=warehouse,
            status=ShipmentStatus.PENDING,
            pick_list__isnull=True,
        )
        .order_by("pk")
    ):
        pending[s.order_id].append(s)

    # The others get a shipment of what is reserved for them here (no open shipment here
    # yet, so every reserved unit here is waiting for one).
    fresh = [o for o in orders if o.pk not in pending]
    held = Reservation.objects.filter(
        warehouse=warehouse,
        quantity__gt=0,
        demand_ref=Concat(
            Value("order:"),
            OuterRef("order__number"),
            Value(":"),
            Cast(OuterRef("line_no"), CharField()),
        ),
    ).values("quantity")[:1]
    quantities: dict[int, dict[int, int]] = defaultdict(dict)
    numbers = {o.pk: o.number for o in fresh}
    refs: dict[int, str] = {}
    for line_id, order_id, line_no, qty in (
        OrderLine.objects.filter(order_id__in=[o.pk for o in fresh])
        .annotate(here=Subquery(held, output_field=IntegerField()))
        .filter(here__gt=0)
        .order_by("order_id", "line_no")
        .values_list("pk", "order_id", "line_no", "here")
    ):
        quantities[order_id][line_id] = qty
        refs[line_id] = line_demand_ref(numbers[order_id], line_no)
    fresh = [o for o in fresh if quantities.get(o.pk)]

    pick_list = PickList.objects.create(
        number=f"PL-{sequence_next(name='pick_list'):06d}",
        warehouse=warehouse,
        filters={**f, "limit": limit},
        created_by=user,
    )
    first = _take_numbers("shipment", len(fresh))
    totes: dict[int, str] = {}
    n = 0
    new_shipments = []
    for o in orders:
        if o.pk in pending:
            for s in pending[o.pk]:
                n += 1
                totes[s.pk] = f"T{n}"
        elif o.pk in quantities:
            n += 1
            new_shipments.append(
                Shipment(
                    number=f"SH-{first + len(new_shipments):06d}",
                    order_id=o.pk,
                    warehouse=warehouse,
                    status=ShipmentStatus.PICKING,
                    pick_list=pick_list,
                    tote=f"T{n}",
                    created_by=user,
                )
            )
    Shipment.objects.bulk_create(new_shipments)
    ShipmentLine.objects.bulk_create(
        [
            ShipmentLine(shipment=s, order_line_id=line_id, quantity=qty)
            for s in new_shipments
            for line_id, qty in quantities[s.order_id].items()
        ]
    )
    # quantity_allocated, as order_lines_allocated counts it, in one statement; the
    # check constraint (allocated <= reserved) guards it in the database.
    allocated = {
        line_id: qty for s in new_shipments for line_id, qty in quantities[s.order_id].items()
    }
    _add_allocated(allocated)
    reservations_allocate(
        warehouse_id=warehouse.pk, deltas={refs[line_id]: qty for line_id, qty in allocated.items()}
    )
    listed = [s for group in pending.values() for s in group]
    for s in listed:
        s.tote = totes[s.pk]
    if listed:
        Shipment.objects.filter(
            pk__in=[s.pk for s in listed], status=ShipmentStatus.PENDING
        ).update(
            status=ShipmentStatus.PICKING,
            pick_list=pick_list,
            updated_at=timezone.now(),
            tote=_case_by_pk({s.pk: s.tote for s in listed}),
        )

    events = []
    for s in new_shipments:
        units = sum(quantities[s.order_id].values())
        events.append(
            OrderEvent(
                order_id=s.order_id,
                type=EventType.SHIPMENT_CREATED,
                actor=user,
                source=EventSource.STAFF,
                message=f"Shipment {s.number} created in {warehouse.code} for {units} unit(s), "
                f"on pick list {pick_list.number} (tote {s.tote}).",
                payload={"shipment": s.number, "pick_list": pick_list.number, "tote": s.tote},
            )
        )
    for s in listed:
        events.append(
            OrderEvent(
                order_id=s.order_id,
                type=EventType.NOTE,
                actor=user,
                source=EventSource.STAFF,
                message=f"Shipment {s.number} put on pick list {pick_list.number} (tote {s.tote}) in {warehouse.code}.",
                payload={"shipment": s.number, "pick_list": pick_list.number, "tote": s.tote},
            )
        )
    OrderEvent.objects.bulk_create(events)
    return pick_list


def _add_allocated(deltas: dict[int, int]) -> None:
    if not deltas:
        return
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(OrderLine._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS ol SET quantity_allocated = ol.quantity_allocated + v.q "  # noqa: S608
                "FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::integer[]) AS q) AS v WHERE ol.id = v.id",
                [list(deltas), list(deltas.values())],
            )
        return
    from django.db.models import Case, When

    OrderLine.objects.filter(pk__in=list(deltas)).update(
        quantity_allocated=F("quantity_allocated")
        + Case(
            *[When(pk=pk, then=Value(q)) for pk, q in deltas.items()], output_field=IntegerField()
        )
    )


def _case_by_pk(values: dict[int, str]):
    from django.db.models import Case, When

    return Case(*[When(pk=pk, then=Value(v)) for pk, v in values.items()], output_field=CharField())


# ---------------------------------------------------------------- confirming lines


def _lock_for_picking(
    pick_list: PickList, line_ids: list[int]
) -> tuple[PickList, list[ShipmentLine]]:
    pl = PickList.objects.select_for_update().select_related("warehouse").get(pk=pick_list.pk)
    if pl.status != PickListStatus.OPEN:
        raise DomainError(
            f"Pick list {pl.number} is {pl.get_status_display().lower()}; nothing more to confirm."
        )
    shipment_ids = sorted(
        set(
            ShipmentLine.objects.filter(pk__in=line_ids, shipment__pick_list=pl).values_list(
                "shipment_id", flat=True
            )
        )
    )
    shipments = {
        s.pk: s
        for s in Shipment.objects.select_for_update().filter(pk__in=shipment_ids).order_by("pk")
    }
    lines = list(
        ShipmentLine.objects.select_for_update(of=("self",))
        .filter(pk__in=line_ids, shipment_id__in=shipment_ids)
        .select_related("order_line")
        .order_by("pk")
    )
    if len(lines) != len(set(line_ids)):
        raise DomainError(f"A line is not on pick list {pl.number}.")
    for ln in lines:
        ln.shipment = shipments[ln.shipment_id]
        s = ln.shipment
        if s.status != ShipmentStatus.PICKING or s.picked_at is not None:
            state = (
                "picked"
                if s.picked_at and s.status == ShipmentStatus.PICKING
                else s.get_status_display().lower()
            )
            raise DomainError(
                f"Shipment {s.number} (tote {s.tote}) is {state}; its lines cannot be confirmed now."
            )
        if ln.pick_confirmed:
            raise DomainError(
                f"{ln.order_line.sku} for tote {s.tote} is already confirmed "
                f"({ln.quantity_picked} picked{f', {ln.quantity_short} short' if ln.quantity_short else ''})."
            )
    return pl, lines


def _finish(pl: PickList, shipments: list[Shipment], actor) -> None:
    """Shipments whose lines are all confirmed are picked (or, when nothing was found,
    cancelled); the list completes when every shipment on it is done."""
    from .services import pick_list_settle, shipment_cancel

    now = timezone.now()
    for s in shipments:
        lines = list(s.lines.all())
        if not all(ln.pick_confirmed for ln in lines):
            continue
        units = sum(ln.quantity for ln in lines)
        if units == 0:
            shipment_cancel(
                shipment=s,
                actor=actor,
                reason=f"nothing of it was on the shelves of {s.warehouse.code} (pick list {pl.number})",
            )
            continue
        Shipment.objects.filter(pk=s.pk).update(picked_at=now, updated_at=now)
        s.picked_at = now
        short = sum(ln.quantity_short for ln in lines)
        order_event_add(
            order=s.order,
            type=EventType.PICKED,
            actor=actor,
            message=f"Shipment {s.number} picked into tote {s.tote} in {pl.warehouse.code}: {units} unit(s)"
            + (f", {short} short" if short else "")
            + f" (pick list {pl.number}).",
            payload={"shipment": s.number, "pick_list": pl.number, "tote": s.tote},
        )
    pick_list_settle(pick_list_id=pl.pk)
    pl.refresh_from_db(fields=["status", "completed_at", "updated_at"])


@transaction.atomic
def pick_lines_confirm(*, pick_list: PickList, line_ids: list[int], actor) -> PickList:
    """The picker put every unit of these lines in their totes."""
    roles.check_role(actor, roles.FULFIL)
    if not line_ids:
        raise DomainError("Choose the line you picked.")
    pl, lines = _lock_for_picking(pick_list, line_ids)
    for ln in lines:
        ShipmentLine.objects.filter(pk=ln.pk).update(
            quantity_picked=ln.quantity, pick_confirmed=True
        )
    shipments = {ln.shipment_id: ln.shipment for ln in lines}
    _finish(pl, [s for _, s in sorted(shipments.items())], actor)
    return pl


@transaction.atomic
def pick_line_short(*, pick_list: PickList, line_id: int, found: int, actor) -> dict:
    """The shelf held only ``found`` of the line's units. The missing units leave this
    shipment; the stock of this warehouse is corrected (an adjustment that says why); the
    units are re-reserved in another warehouse that has them (they ship later, in their own
    shipment), or backordered; the order's timeline says what happened.
    Returns {"missing", "moved": [(code, units)], "backordered"}."""
    roles.check_role(actor, roles.FULFIL)
    try:
        found = int(found)
    except (TypeError, ValueError):
        raise DomainError("Enter how many units you found: 0 or more.", field="found") from None
    pl, (line,) = _lock_for_picking(pick_list, [line_id])
    s = line.shipment
    if not 0 <= found < line.quantity:
        raise DomainError(
            f"Enter how many you found: from 0 to {line.quantity - 1}. If all {line.quantity} were there, "
            "confirm the line instead.",
            field="found",
        )
    missing = line.quantity - found
    ol = line.order_line
    order = Order.objects.select_for_update().get(pk=s.order_id)
    bin_location = (
        StockLevel.objects.filter(product_id=ol.product_id, warehouse=pl.warehouse)
        .values_list("bin_location", flat=True)
        .first()
    ) or "no bin"
    why = (
        f"Short pick {s.number} ({pl.number}, bin {bin_location}): found {found} of {line.quantity}"
    )

    ShipmentLine.objects.filter(pk=line.pk).update(
        quantity=F("quantity") - missing,
        quantity_short=F("quantity_short") + missing,
        quantity_picked=found,
        pick_confirmed=True,
    )
    order_lines_allocated(order=order, deltas={ol.pk: -missing}, warehouse_id=pl.warehouse_id)
    result = stock_reallocate(
        demand_ref=line_demand_ref(order.number, ol.line_no),
        from_warehouse=pl.warehouse,
        quantity=missing,
        actor=actor,
        reference=s.number,
        reason=why,
    )
    stock_adjust(
        product=ol.product,
        warehouse=pl.warehouse,
        delta=-missing,
        actor=actor,
        reference=pl.number,
        reason=f"{why}; the shelf held no more" if found else f"{why}; the shelf is empty",
    )
    backordered = result["backordered"]
    if backordered:
        OrderLine.objects.filter(pk=ol.pk).update(
            quantity_reserved=F("quantity_reserved") - backordered,
            quantity_backordered=F("quantity_backordered") + backordered,
        )
    moved = [(wh.code, units) for wh, units in result["moved"]]
    outcome = []
    if moved:
        outcome.append(
            "re-reserved in "
            + ", ".join(f"{code} ({units})" for code, units in moved)
            + ", to ship in its own shipment"
        )
    if backordered:
        outcome.append(f"{backordered} backordered until new stock arrives")
    customer = []
    if moved:
        customer.append(
            f"{sum(u for _, u in moved)} × {ol.name} will ship separately from another warehouse."
        )
    if backordered:
        customer.append(
            f"{backordered} × {ol.name} is out of stock right now; we send it as soon as it arrives."
        )
    order_event_add(
        order=order,
        type=EventType.SHORT_PICKED,
        actor=actor,
        message=f"{why} × {ol.sku}, tote {s.tote}: {missing} missing; " + "; ".join(outcome) + ".",
        customer_message=" ".join(customer),
        payload={
            "shipment": s.number,
            "pick_list": pl.number,
            "sku": ol.sku,
            "found": found,
            "missing": missing,
            "moved": dict(moved),
            "backordered": backordered,
            "bin": bin_location,
        },
    )
    order_recompute(order=order, actor=actor)
    _finish(pl, [s], actor)
    return {"missing": missing, "moved": moved, "backordered": backordered}
