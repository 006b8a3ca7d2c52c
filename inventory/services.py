"""Every write to stock. Each function is one transaction, locks stock rows in primary-key
order, changes counters with F() and writes one StockMovement per change of a level."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Case, F, IntegerField, Value, When

from core import roles
from core.errors import DomainError, OutOfStock

from .choices import MovementKind
from .models import Backorder, Product, Reservation, StockLevel, StockMovement, Warehouse


@dataclass(frozen=True)
class Demand:
    """What one unit of demand (an order line) asks for."""

    ref: str
    product_id: int
    quantity: int
    label: str = ""
    allow_backorder: bool = False


@dataclass
class ReservationPlan:
    allocations: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    backordered: dict[str, int] = field(default_factory=dict)
    explanation: str = ""


def _lock_levels(*, product_ids, warehouse_ids=None) -> list[StockLevel]:
    qs = StockLevel.objects.filter(product_id__in=product_ids)
    if warehouse_ids is not None:
        qs = qs.filter(warehouse_id__in=warehouse_ids)
    # Evaluated here, so the lock is taken now; primary-key order keeps concurrent
    # reservations from deadlocking each other.
    return list(qs.select_for_update().order_by("pk"))


def _move(*, level_id, product_id, warehouse_id, kind, on_hand=0, reserved=0, actor, reference, reason=""):
    StockLevel.objects.filter(pk=level_id).update(
        on_hand=F("on_hand") + on_hand, reserved=F("reserved") + reserved
    )
    return StockMovement(
        product_id=product_id,
        warehouse_id=warehouse_id,
        kind=kind,
        on_hand_delta=on_hand,
        reserved_delta=reserved,
        actor=actor if getattr(actor, "pk", None) else None,
        reference=reference,
        reason=reason,
    )


def _plan(demands: list[Demand], warehouses: list[Warehouse], available: dict) -> ReservationPlan:
    need: dict[int, int] = defaultdict(int)
    for d in demands:
        need[d.product_id] += d.quantity

    plan = ReservationPlan()
    # 1. Ship complete from the highest-priority warehouse that can (nothing backordered).
    for wh in warehouses:
        if all(available.get((pid, wh.pk), 0) >= qty for pid, qty in need.items()):
            plan.allocations = {d.ref: [(wh.pk, d.quantity)] for d in demands}
            plan.explanation = f"Ships complete from {wh.code} ({wh.name})."
            return plan

    # 2. Otherwise split: warehouses that cover the most of the order go first, so the
    # order touches as few warehouses as possible; priority breaks ties.
    def coverage(wh):
        return sum(min(available.get((pid, wh.pk), 0), qty) for pid, qty in need.items())

    ordered = sorted(warehouses, key=lambda wh: (-coverage(wh), wh.priority, wh.code))
    left = dict(available)
    shortages = []
    used: list[str] = []
    for d in demands:
        remaining = d.quantity
        chunks = []
        for wh in ordered:
            if remaining == 0:
                break
            take = min(remaining, left.get((d.product_id, wh.pk), 0))
            if take > 0:
                chunks.append((wh.pk, take))
                left[(d.product_id, wh.pk)] -= take
                remaining -= take
                if wh.code not in used:
                    used.append(wh.code)
        if remaining and d.allow_backorder:
            plan.backordered[d.ref] = remaining
        elif remaining:
            total = sum(available.get((d.product_id, wh.pk), 0) for wh in warehouses)
            shortages.append(
                {"ref": d.ref, "product_id": d.product_id, "sku": d.label, "requested": d.quantity, "available": total}
            )
        plan.allocations[d.ref] = chunks
    if shortages:
        parts = [f"{s['sku'] or s['product_id']}: {s['requested']} requested, {s['available']} available" for s in shortages]
        raise OutOfStock("Not enough stock. " + "; ".join(parts) + ".", shortages=shortages)
    if not used:
        plan.explanation = "Nothing in stock yet: everything is backordered."
    elif len(used) == 1:
        plan.explanation = f"Reserved in {used[0]}; the rest is backordered."
    else:
        plan.explanation = f"No single warehouse holds the whole order; split across {', '.join(used)}."
    if plan.backordered:
        labels = {d.ref: d.label or str(d.product_id) for d in demands}
        waiting = ", ".join(f"{q} × {labels[ref]}" for ref, q in plan.backordered.items())
        plan.explanation += f" Backordered: {waiting}."
    return plan


def stock_reserve(*, demands: list[Demand], actor, reference: str, fresh: bool = False) -> ReservationPlan:
    """Reserve every demand or nothing. Raises OutOfStock naming each short line.

    A fixed number of statements whatever the number of demands: one locking read of the
    levels (with their warehouses), one update of all levels, one write of the reservations,
    one of the ledger rows, one of the backorders. ``fresh`` says no demand has reservations
    yet (a new order), which saves reading them."""
    for d in demands:
        if d.quantity <= 0:
            raise DomainError("Quantity must be at least 1.", field="quantity")
    if not transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return stock_reserve(demands=demands, actor=actor, reference=reference, fresh=fresh)
    # Inside the caller's transaction, without a savepoint of our own (it would cost two
    # statements): a refusal is raised before anything is written, and a failed write
    # aborts the caller's transaction as a whole.
    product_ids = sorted({d.product_id for d in demands})
    levels = list(
        StockLevel.objects.filter(product_id__in=product_ids, warehouse__active=True)
        .select_related("warehouse")
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    by_key = {(lv.product_id, lv.warehouse_id): lv for lv in levels}
    warehouses = sorted({lv.warehouse_id: lv.warehouse for lv in levels}.values(),
                        key=lambda w: (w.priority, w.code))
    available = {key: max(lv.on_hand - lv.reserved, 0) for key, lv in by_key.items()}
    plan = _plan(demands, warehouses, available)

    added: dict[int, int] = defaultdict(int)  # level pk -> units
    wanted: dict[tuple[str, int], int] = defaultdict(int)  # (ref, warehouse) -> units
    movements = []
    for d in demands:
        for wh_id, qty in plan.allocations[d.ref]:
            level = by_key[(d.product_id, wh_id)]
            added[level.pk] += qty
            wanted[(d.ref, wh_id)] += qty
            movements.append(StockMovement(
                product_id=d.product_id, warehouse_id=wh_id, kind=MovementKind.RESERVATION,
                reserved_delta=qty, actor=actor if getattr(actor, "pk", None) else None, reference=reference,
            ))
    if added:
        StockLevel.objects.filter(pk__in=list(added)).update(
            reserved=F("reserved") + Case(*[When(pk=pk, then=Value(q)) for pk, q in added.items()],
                                          output_field=IntegerField())
        )
        product_of = {d.ref: d.product_id for d in demands}
        held = {} if fresh else {
            (r.demand_ref, r.warehouse_id): r.quantity
            for r in Reservation.objects.filter(demand_ref__in=[d.ref for d in demands])
        }
        Reservation.objects.bulk_create(
            [Reservation(demand_ref=ref, product_id=product_of[ref], warehouse_id=wh_id,
                         quantity=held.get((ref, wh_id), 0) + qty)
             for (ref, wh_id), qty in wanted.items()],
            update_conflicts=True, unique_fields=["demand_ref", "warehouse"], update_fields=["quantity", "updated_at"],
        )
        StockMovement.objects.bulk_create(movements)
    waiting = [d for d in demands if plan.backordered.get(d.ref)]
    if waiting:
        existing = {} if fresh else dict(
            Backorder.objects.filter(demand_ref__in=[d.ref for d in waiting]).values_list("demand_ref", "quantity")
        )
        Backorder.objects.bulk_create(
            [Backorder(demand_ref=d.ref, product_id=d.product_id,
                       quantity=existing.get(d.ref, 0) + plan.backordered[d.ref]) for d in waiting],
            update_conflicts=True, unique_fields=["demand_ref"], update_fields=["quantity", "updated_at"],
        )
    return plan


@transaction.atomic
def backorder_cancel(*, demand_ref: str, quantity: int | None = None) -> int:
    """Stop waiting for ``quantity`` units (None: all). Returns how many stopped waiting."""
    b = Backorder.objects.select_for_update().filter(demand_ref=demand_ref).first()
    if b is None or b.quantity == 0:
        return 0
    take = b.quantity if quantity is None else min(quantity, b.quantity)
    Backorder.objects.filter(pk=b.pk).update(quantity=F("quantity") - take)
    return take


@transaction.atomic
def backorders_fill(*, product: Product, warehouse: Warehouse, actor, reference: str,
                    demand_refs: list[str] | None = None) -> list[tuple[str, int]]:
    """Reserve free stock of ``warehouse`` for waiting demand, oldest first. The caller
    decides which demand it may fill (``demand_refs``; None: all). Returns (ref, units)."""
    level = StockLevel.objects.select_for_update().filter(product=product, warehouse=warehouse).first()
    if level is None:
        return []
    free = level.on_hand - level.reserved
    if free <= 0:
        return []
    waiting = Backorder.objects.select_for_update().filter(product=product, quantity__gt=0)
    if demand_refs is not None:
        waiting = waiting.filter(demand_ref__in=list(demand_refs))
    fills = []
    movements = []
    for b in waiting.order_by("created_at", "id"):
        if free == 0:
            break
        take = min(free, b.quantity)
        free -= take
        fills.append((b.demand_ref, take))
        Backorder.objects.filter(pk=b.pk).update(quantity=F("quantity") - take)
        if not Reservation.objects.filter(demand_ref=b.demand_ref, warehouse=warehouse).update(
            quantity=F("quantity") + take
        ):
            Reservation.objects.create(demand_ref=b.demand_ref, product=product, warehouse=warehouse, quantity=take)
        movements.append(_move(level_id=level.pk, product_id=product.pk, warehouse_id=warehouse.pk,
                               kind=MovementKind.RESERVATION, reserved=take, actor=actor, reference=reference,
                               reason=f"Backorder {b.demand_ref} filled"))
    StockMovement.objects.bulk_create(movements)
    return fills


def _levels_for_reservations(reservations) -> dict:
    levels = _lock_levels(
        product_ids=sorted({r.product_id for r in reservations}),
        warehouse_ids=sorted({r.warehouse_id for r in reservations}),
    )
    return {(lv.product_id, lv.warehouse_id): lv for lv in levels}


@transaction.atomic
def stock_release(*, demand_ref: str, quantity: int | None = None, actor, reference: str, reason: str = "") -> int:
    """Give reserved stock back. ``quantity=None`` releases all of it. Returns units released.
    Units are released from the lowest-priority warehouse first."""
    reservations = list(
        Reservation.objects.select_for_update(of=("self",))
        .filter(demand_ref=demand_ref, quantity__gt=0)
        .select_related("warehouse")
        .order_by("pk")
    )
    if not reservations:
        return 0
    levels = _levels_for_reservations(reservations)
    held = sum(r.quantity for r in reservations)
    todo = held if quantity is None else quantity
    if todo > held:
        raise DomainError(f"Only {held} reserved; cannot release {todo}.", field="quantity")
    released = 0
    movements = []
    for r in sorted(reservations, key=lambda r: (-r.warehouse.priority, r.warehouse.code)):
        if todo == 0:
            break
        take = min(todo, r.quantity)
        level = levels[(r.product_id, r.warehouse_id)]
        movements.append(
            _move(level_id=level.pk, product_id=r.product_id, warehouse_id=r.warehouse_id,
                  kind=MovementKind.RELEASE, reserved=-take, actor=actor, reference=reference, reason=reason)
        )
        Reservation.objects.filter(pk=r.pk).update(quantity=F("quantity") - take)
        todo -= take
        released += take
    StockMovement.objects.bulk_create(movements)
    return released


@transaction.atomic
def stock_ship(*, demand_ref: str, warehouse_id: int, quantity: int, actor, reference: str) -> None:
    """Reserved units leave the building: on_hand and reserved both go down."""
    if quantity <= 0:
        raise DomainError("Quantity must be at least 1.", field="quantity")
    try:
        r = Reservation.objects.select_for_update().get(demand_ref=demand_ref, warehouse_id=warehouse_id)
    except Reservation.DoesNotExist:
        raise DomainError("Nothing is reserved for this line in that warehouse.") from None
    if r.quantity < quantity:
        raise DomainError(f"Only {r.quantity} reserved in this warehouse; cannot ship {quantity}.", field="quantity")
    level = _levels_for_reservations([r])[(r.product_id, r.warehouse_id)]
    Reservation.objects.filter(pk=r.pk).update(quantity=F("quantity") - quantity)
    _move(level_id=level.pk, product_id=r.product_id, warehouse_id=r.warehouse_id,
          kind=MovementKind.SHIPMENT, on_hand=-quantity, reserved=-quantity, actor=actor,
          reference=reference).save()


def _level_for_update(product_id: int, warehouse_id: int) -> StockLevel:
    StockLevel.objects.get_or_create(product_id=product_id, warehouse_id=warehouse_id)
    return StockLevel.objects.select_for_update().get(product_id=product_id, warehouse_id=warehouse_id)


@transaction.atomic
def stock_receive(*, product: Product, warehouse: Warehouse, quantity: int, actor, reference: str = "",
                  reason: str = "", kind: str = MovementKind.RECEIPT) -> StockLevel:
    """Units arrive (a supplier receipt, or a return put back on the shelf)."""
    roles.check_role(actor, roles.MANAGE_STOCK)
    if quantity <= 0:
        raise DomainError("Quantity must be at least 1.", field="quantity")
    level = _level_for_update(product.pk, warehouse.pk)
    _move(level_id=level.pk, product_id=product.pk, warehouse_id=warehouse.pk, kind=kind,
          on_hand=quantity, actor=actor, reference=reference, reason=reason).save()
    level.refresh_from_db()
    return level


def stock_restock_return(*, product: Product, warehouse: Warehouse, quantity: int, actor, reference: str) -> StockLevel:
    return stock_receive(product=product, warehouse=warehouse, quantity=quantity, actor=actor,
                         reference=reference, reason="Customer return", kind=MovementKind.RETURN_RESTOCK)


@transaction.atomic
def stock_adjust(*, product: Product, warehouse: Warehouse, delta: int, reason: str, actor, reference: str = "") -> StockLevel:
    """Correct on_hand by ``delta`` (found, damaged, lost...). A reason is required."""
    roles.check_role(actor, roles.MANAGE_STOCK)
    if not reason.strip():
        raise DomainError("Say why the stock is adjusted.", field="reason")
    if delta == 0:
        raise DomainError("An adjustment changes the quantity by at least one unit.", field="delta")
    level = _level_for_update(product.pk, warehouse.pk)
    if level.on_hand + delta < level.reserved:
        raise DomainError(
            f"{warehouse.code} holds {level.on_hand}, of which {level.reserved} reserved: "
            f"it cannot go down by {-delta}.",
            field="delta",
        )
    _move(level_id=level.pk, product_id=product.pk, warehouse_id=warehouse.pk,
          kind=MovementKind.ADJUSTMENT, on_hand=delta, actor=actor, reference=reference,
          reason=reason.strip()).save()
    level.refresh_from_db()
    return level
