import datetime

from django.db.models import (
    Avg,
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from inventory.models import Reservation
from orders.choices import OrderStatus
from orders.models import Order

from .choices import IN_FLIGHT_STATUSES, OPEN_STATUSES, ShipmentStatus
from .models import DeliveryFeedback, Shipment, TrackingEvent


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
            warehouse=warehouse,
            quantity__gt=0,
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
    return order.shipments.select_related("warehouse", "carrier").prefetch_related(
        "lines__order_line"
    )


# ---------------------------------------------------------------- pick lists and the warehouse queue
# (engineer `pick`: batch picking, the per-warehouse queue)

PICK_PRIORITIES = {
    "promised": "Earliest ship-by date",
    "express": "Express first",
    "placed": "Oldest order first",
}


def _reservation_here(warehouse):
    """Reserved units of an order line in ``warehouse``, matched on the demand ref (an
    indexed equality, so it stays fast with a large reservation table)."""
    from django.db.models import CharField
    from django.db.models.functions import Cast

    ref = Concat(
        Value("order:"),
        OuterRef("order__number"),
        Value(":"),
        Cast(OuterRef("line_no"), CharField()),
    )
    return Reservation.objects.filter(warehouse=warehouse, quantity__gt=0, demand_ref=ref)


def carrier_methods() -> dict[str, "object"]:
    """Lower-cased order shipping method -> the Carrier whose active service fulfils it."""
    from .models import CarrierService

    out = {}
    for svc in (
        CarrierService.objects.filter(active=True, carrier__active=True)
        .exclude(shipping_method="")
        .select_related("carrier")
        .order_by("carrier__name", "name")
    ):
        out.setdefault(svc.shipping_method.strip().lower(), svc.carrier)
    return out


def orders_pickable(*, warehouse, filters: dict | None = None):
    """Open orders with reserved units in ``warehouse`` that can go on a pick list there:
    no open shipment in that warehouse yet, or only pending shipments not on a list.
    ``filters``: carrier (code), shipping_method, single_line (bool), priority (a key of
    PICK_PRIORITIES). Ordered by the priority; no access check (see pick_candidates)."""
    from django.db.models import Case, F, IntegerField, Q, Subquery, When
    from django.db.models.functions import Lower

    from orders.models import OrderLine

    from .models import CarrierService

    f = filters or {}
    line_here = OrderLine.objects.filter(order=OuterRef("pk")).filter(
        Exists(_reservation_here(warehouse))
    )
    open_here = Shipment.objects.filter(
        order=OuterRef("pk"), warehouse=warehouse, status__in=OPEN_STATUSES
    )
    unlisted = open_here.filter(status="pending", pick_list__isnull=True)
    busy = open_here.exclude(status="pending", pick_list__isnull=True)
    qs = (
        Order.objects.filter(status=OrderStatus.OPEN)
        .filter(Exists(line_here))
        .filter(~Exists(busy))
        .annotate(method_key=Lower("shipping_method"))
    )
    carrier = (f.get("carrier") or "").strip()
    if carrier:
        methods = (
            CarrierService.objects.filter(carrier__code=carrier, active=True)
            .exclude(shipping_method="")
            .annotate(m=Lower("shipping_method"))
            .values("m")
        )
        with_carrier = unlisted.filter(carrier__isnull=False)
        qs = qs.filter(
            Exists(with_carrier.filter(carrier__code=carrier))
            | (Q(method_key__in=methods) & ~Exists(with_carrier))
        )
    method = (f.get("shipping_method") or "").strip()
    if method:
        qs = qs.filter(method_key=method.lower())
    if f.get("single_line"):
        active_lines = (
            OrderLine.objects.filter(order=OuterRef("pk"), quantity__gt=F("quantity_cancelled"))
            .order_by()
            .values("order")
            .annotate(c=Count("pk"))
            .values("c")
        )
        qs = qs.annotate(active_lines=Subquery(active_lines, output_field=IntegerField())).filter(
            active_lines=1
        )
    priority = f.get("priority") or "promised"
    promised = F("promised_ship_date").asc(nulls_last=True)
    if priority == "express":
        express = Case(
            When(method_key__contains="express", then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        qs = qs.order_by(express, promised, "placed_at", "pk")
    elif priority == "placed":
        qs = qs.order_by("placed_at", "pk")
    else:
        qs = qs.order_by(promised, "placed_at", "pk")
    return qs


def pick_candidates(*, user, warehouse, filters: dict | None = None):
    """What a pick list with these filters would take, as the acting user may see it."""
    return orders_pickable(warehouse=warehouse, filters=filters).filter(
        pk__in=Order.objects.visible_to(user).values("pk")
    )


def pick_lists_for(*, user, warehouse, statuses=None):
    from django.db.models import Count, Q

    from .models import PickList

    qs = PickList.objects.filter(warehouse=warehouse).select_related("created_by")
    if statuses:
        qs = qs.filter(status__in=statuses)
    return qs.annotate(
        shipment_count=Count("shipments", distinct=True),
        picked_count=Count(
            "shipments", filter=Q(shipments__picked_at__isnull=False), distinct=True
        ),
    ).order_by("-created_at", "-id")


def _bin_key(bin_location: str):
    """Natural order of bins (A-2 before A-10); empty bins last."""
    import re

    if not bin_location:
        return (1, ())
    return (
        0,
        tuple(
            (0, int(p), "") if p.isdigit() else (1, 0, p.upper())
            for p in re.findall(r"\d+|[^\d\W]+", bin_location)
        ),
    )


def pick_list_walk(*, pick_list) -> list[dict]:
    """The pick walk: one row per (bin location, SKU), sorted by bin (empty last), with
    the total to pick and the per-tote breakdown. Two queries whatever the list's size."""
    from django.db.models import Subquery

    from inventory.models import StockLevel

    from .models import ShipmentLine

    bins = StockLevel.objects.filter(
        product=OuterRef("order_line__product_id"), warehouse=pick_list.warehouse_id
    )
    lines = (
        ShipmentLine.objects.filter(shipment__pick_list=pick_list)
        .exclude(shipment__status="cancelled")
        .annotate(bin=Subquery(bins.values("bin_location")[:1]))
        .values(
            "pk",
            "quantity",
            "quantity_picked",
            "quantity_short",
            "pick_confirmed",
            "order_line__sku",
            "order_line__name",
            "order_line__product_id",
            "shipment__tote",
            "shipment__number",
            "shipment__order__number",
            "shipment__order__promised_ship_date",
            "bin",
        )
    )
    today = timezone.localdate()
    rows: dict[tuple, dict] = {}
    for ln in lines:
        key = (ln["bin"] or "", ln["order_line__sku"])
        row = rows.get(key)
        if row is None:
            row = rows[key] = {
                "bin": key[0],
                "sku": key[1],
                "name": ln["order_line__name"],
                "product_id": ln["order_line__product_id"],
                "quantity": 0,
                "short": 0,
                "picked": 0,
                "totes": [],
            }
        row["quantity"] += ln["quantity"]
        row["short"] += ln["quantity_short"]
        row["picked"] += ln["quantity_picked"]
        row["totes"].append(
            {
                "line_id": ln["pk"],
                "tote": ln["shipment__tote"],
                "quantity": ln["quantity"],
                "picked": ln["quantity_picked"],
                "short": ln["quantity_short"],
                "confirmed": ln["pick_confirmed"],
                "shipment": ln["shipment__number"],
                "order": ln["shipment__order__number"],
                "late": bool(
                    ln["shipment__order__promised_ship_date"]
                    and ln["shipment__order__promised_ship_date"] < today
                ),
            }
        )
    out = sorted(rows.values(), key=lambda r: (_bin_key(r["bin"]), r["sku"]))
    for i, row in enumerate(out, 1):
        row["n"] = i
        row["totes"].sort(key=lambda t: _tote_key(t["tote"]))
        row["breakdown"] = ", ".join(
            f"{t['tote']} ×{t['quantity'] + t['short']}" for t in row["totes"]
        )
        row["done"] = all(t["confirmed"] for t in row["totes"])
        row["ordered"] = row["quantity"] + row["short"]
        row["open_ids"] = [t["line_id"] for t in row["totes"] if not t["confirmed"]]
    return out


def _tote_key(tote: str):
    digits = "".join(ch for ch in tote if ch.isdigit())
    return (int(digits) if digits else 0, tote)


def pick_list_totes(*, pick_list) -> list:
    """The shipments of a list in tote order, with units, lines and the order's promised date."""
    from django.db.models import Count, Q, Sum

    shipments = pick_list.shipments.select_related("order", "order__customer", "carrier").annotate(
        units=Sum("lines__quantity"),
        short=Sum("lines__quantity_short"),
        line_count=Count("lines"),
        confirmed_count=Count("lines", filter=Q(lines__pick_confirmed=True)),
    )
    return sorted(shipments, key=lambda s: _tote_key(s.tote))


# ---------------------------------------------------------------- tracking attention

ATTENTION_STALE_AFTER = datetime.timedelta(days=3)  # in flight with no carrier news this long
ATTENTION_RETURNED_FOR = datetime.timedelta(
    days=30
)  # a parcel returned to sender stays listed this long
ATTENTION_REASONS = [
    ("exception", "Delivery problem"),
    ("returned", "Returned to sender"),
    ("late", "Past expected delivery"),
    ("stale", "No news for 3 days"),
]


def _attention_q(now) -> dict[str, Q]:
    today = timezone.localdate(now)
    return {
        "exception": Q(status=ShipmentStatus.EXCEPTION),
        "returned": Q(
            status=ShipmentStatus.RETURNED_TO_SENDER, updated_at__gte=now - ATTENTION_RETURNED_FOR
        ),
        "late": Q(status__in=IN_FLIGHT_STATUSES, expected_delivery_date__lt=today),
        "stale": Q(status__in=IN_FLIGHT_STATUSES, last_news__lt=now - ATTENTION_STALE_AFTER),
    }


def shipments_needing_attention(*, user, reason: str | None = None, now=None):
    """Shipments a person should look at: a delivery problem, returned to sender (30 days),
    past the expected delivery date, or in flight with no carrier news for 3 days. Each row
    carries `is_<reason>` flags and `last_news` (last carrier event, else when it shipped)."""
    now = now or timezone.now()
    qs = Shipment.objects.filter(order__in=Order.objects.visible_to(user)).annotate(
        last_news=Coalesce("last_event_at", "shipped_at")
    )
    conditions = _attention_q(now)
    qs = qs.annotate(
        **{
            f"is_{k}": ExpressionWrapper(q, output_field=BooleanField())
            for k, q in conditions.items()
        }
    )
    if reason in conditions:
        qs = qs.filter(conditions[reason])
    else:
        any_q = Q()
        for q in conditions.values():
            any_q |= q
        qs = qs.filter(any_q)
    latest = TrackingEvent.objects.filter(shipment=OuterRef("pk")).order_by("-occurred_at", "-id")
    urgency = Case(
        When(status=ShipmentStatus.EXCEPTION, then=Value(0)),
        When(status=ShipmentStatus.RETURNED_TO_SENDER, then=Value(1)),
        When(conditions["late"], then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    return (
        qs.annotate(last_message=Subquery(latest.values("message")[:1]), urgency=urgency)
        .select_related("order", "order__customer", "carrier", "warehouse")
        .order_by("urgency", Coalesce("last_event_at", "shipped_at").asc(nulls_last=True), "id")
    )


def shipments_attention_counts(*, user, now=None) -> dict[str, int]:
    """How many shipments need attention, per reason and in all (`total`, each counted once)."""
    now = now or timezone.now()
    conditions = _attention_q(now)
    qs = Shipment.objects.filter(order__in=Order.objects.visible_to(user)).annotate(
        last_news=Coalesce("last_event_at", "shipped_at")
    )
    any_q = Q()
    for q in conditions.values():
        any_q |= q
    return qs.aggregate(
        total=Count("pk", filter=any_q), **{k: Count("pk", filter=q) for k, q in conditions.items()}
    )


# ---------------------------------------------------------------- delivery feedback


def feedback_list(*, user, rating: int | None = None):
    qs = DeliveryFeedback.objects.filter(order__in=Order.objects.visible_to(user))
    if rating:
        qs = qs.filter(rating=rating)
    return qs.select_related("order", "order__customer").order_by("-created_at", "-id")


def feedback_summary(*, user) -> dict:
    """Count and average rating, and how many of each rating (1-5)."""
    qs = DeliveryFeedback.objects.filter(order__in=Order.objects.visible_to(user))
    agg = qs.aggregate(
        count=Count("pk"),
        average=Avg("rating"),
        **{f"r{n}": Count("pk", filter=Q(rating=n)) for n in range(1, 6)},
    )
    return {
        "count": agg["count"],
        "average": agg["average"],
        "by_rating": {n: agg[f"r{n}"] for n in range(5, 0, -1)},
    }
