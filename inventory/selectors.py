import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from fractions import Fraction

from django.db.models import Count, F, IntegerField, Min, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .choices import MovementKind
from .models import (
    Backorder,
    ExpectedReceipt,
    Product,
    Reservation,
    RestockAlert,
    StockLevel,
    StockMovement,
    Warehouse,
)


@dataclass
class Availability:
    product_id: int
    on_hand: int = 0
    reserved: int = 0
    per_warehouse: dict[str, int] = field(default_factory=dict)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def availability_for(*, product_ids) -> dict[int, Availability]:
    """Available to promise (on hand minus reserved) over active warehouses."""
    result = {pid: Availability(product_id=pid) for pid in product_ids}
    levels = (
        StockLevel.objects.filter(product_id__in=product_ids, warehouse__active=True)
        .select_related("warehouse")
        .order_by("warehouse__priority", "warehouse__code")
    )
    for lv in levels:
        a = result[lv.product_id]
        a.on_hand += lv.on_hand
        a.reserved += lv.reserved
        a.per_warehouse[lv.warehouse.code] = lv.on_hand - lv.reserved
    return result


def _stock_sum(column: str):
    return Coalesce(
        Subquery(
            StockLevel.objects.filter(product=OuterRef("pk"), warehouse__active=True)
            .values("product")
            .annotate(total=Sum(column))
            .values("total"),
            output_field=IntegerField(),
        ),
        Value(0),
    )


def product_list(*, user=None, search: str = "", only_active: bool = False):
    qs = Product.objects.annotate(
        on_hand_total=_stock_sum("on_hand"), reserved_total=_stock_sum("reserved")
    )
    if search:
        qs = qs.filter(Q(sku__icontains=search) | Q(name__icontains=search) | Q(barcode=search))
    if only_active:
        qs = qs.filter(active=True)
    return qs.order_by("sku")


def product_search(*, text: str, limit: int = 8):
    """Products for a line picker: exact SKU or barcode first, then name matches."""
    text = text.strip()
    if not text:
        return []
    exact = list(Product.objects.filter(Q(sku__iexact=text) | Q(barcode=text), active=True)[:1])
    rest = list(
        Product.objects.filter(Q(sku__icontains=text) | Q(name__icontains=text), active=True)
        .exclude(pk__in=[p.pk for p in exact])
        .order_by("sku")[: limit - len(exact)]
    )
    return exact + rest


def reservations_by_ref(*, refs) -> dict[str, list[Reservation]]:
    out: dict[str, list[Reservation]] = {ref: [] for ref in refs}
    for r in Reservation.objects.filter(demand_ref__in=list(refs), quantity__gt=0).select_related(
        "warehouse"
    ):
        out[r.demand_ref].append(r)
    return out


def product_movements(*, product, limit: int = 50):
    return product.movements.select_related("warehouse", "actor").order_by("-created_at", "-id")[
        :limit
    ]


def stock_discrepancies() -> list[dict]:
    """Levels whose on_hand or reserved differ from the sum of their ledger rows."""
    ledger = {
        (row["product_id"], row["warehouse_id"]): row
        for row in StockMovement.objects.values("product_id", "warehouse_id").annotate(
            on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta"), n=Count("id")
        )
    }
    problems = []
    seen = set()
    for lv in StockLevel.objects.select_related("product", "warehouse"):
        key = (lv.product_id, lv.warehouse_id)
        seen.add(key)
        row = ledger.get(key, {"on_hand": 0, "reserved": 0})
        if row["on_hand"] != lv.on_hand or row["reserved"] != lv.reserved:
            problems.append(
                {
                    "sku": lv.product.sku,
                    "warehouse": lv.warehouse.code,
                    "on_hand": lv.on_hand,
                    "ledger_on_hand": row["on_hand"],
                    "reserved": lv.reserved,
                    "ledger_reserved": row["reserved"],
                }
            )
    for key, row in ledger.items():
        if key not in seen and (row["on_hand"] or row["reserved"]):
            problems.append(
                {
                    "product_id": key[0],
                    "warehouse_id": key[1],
                    "on_hand": 0,
                    "ledger_on_hand": row["on_hand"],
                    "reserved": 0,
                    "ledger_reserved": row["reserved"],
                }
            )
    return problems


def waiting_backorders(*, product_id: int) -> list[str]:
    """Demand refs waiting for this product, oldest first."""
    from .models import Backorder

    return list(
        Backorder.objects.filter(product_id=product_id, quantity__gt=0)
        .order_by("created_at", "id")
        .values_list("demand_ref", flat=True)
    )


def backorders_by_ref(*, refs) -> dict[str, int]:
    from .models import Backorder

    return dict(
        Backorder.objects.filter(demand_ref__in=list(refs), quantity__gt=0).values_list(
            "demand_ref", "quantity"
        )
    )


# ---------------------------------------------------------------- available to promise with expected receipts


@dataclass
class WarehouseStock:
    warehouse_id: int
    code: str
    name: str
    on_hand: int = 0
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass
class ExpectedStock:
    id: int
    warehouse_code: str
    expected_on: date
    quantity: int  # still to come
    reference: str
    late: bool


@dataclass
class AvailableToPromise:
    """What can be promised for one product: now (on hand minus reserved over active
    warehouses) and later (open expected receipts with their dates)."""

    product_id: int
    warehouses: list[WarehouseStock] = field(default_factory=list)
    expected: list[ExpectedStock] = field(default_factory=list)
    backordered: int = 0  # units ordered and waiting for stock; receipts fill them first

    @property
    def on_hand(self) -> int:
        return sum(w.on_hand for w in self.warehouses)

    @property
    def reserved(self) -> int:
        return sum(w.reserved for w in self.warehouses)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def per_warehouse(self) -> dict[str, int]:
        return {w.code: w.available for w in self.warehouses}

    @property
    def expected_total(self) -> int:
        return sum(e.quantity for e in self.expected)

    @property
    def next_expected(self) -> ExpectedStock | None:
        return self.expected[0] if self.expected else None


def atp_detail(*, product_ids, today: date | None = None) -> dict[int, AvailableToPromise]:
    """Available to promise per product: the total and each active warehouse (every active
    warehouse is listed, with zeros where it holds none), the units backordered, and all
    open expected receipts, earliest first (``next_expected`` is the first; a receipt past
    its date is still expected and flagged ``late``). Four queries, whatever the count."""
    ids = list(dict.fromkeys(int(pk) for pk in product_ids))
    today = today or timezone.localdate()
    warehouses = list(Warehouse.objects.filter(active=True).order_by("priority", "code"))
    result = {
        pid: AvailableToPromise(
            product_id=pid,
            warehouses=[
                WarehouseStock(warehouse_id=w.pk, code=w.code, name=w.name) for w in warehouses
            ],
        )
        for pid in ids
    }
    slot = {w.pk: i for i, w in enumerate(warehouses)}
    levels = StockLevel.objects.filter(product_id__in=ids, warehouse__active=True).values_list(
        "product_id", "warehouse_id", "on_hand", "reserved"
    )
    for pid, wid, on_hand, reserved in levels:
        ws = result[pid].warehouses[slot[wid]]
        ws.on_hand, ws.reserved = on_hand, reserved
    receipts = (
        ExpectedReceipt.objects.filter(product_id__in=ids, status=ExpectedReceipt.Status.OPEN)
        .select_related("warehouse")
        .order_by("expected_on", "id")
    )
    for er in receipts:
        result[er.product_id].expected.append(
            ExpectedStock(
                id=er.pk,
                warehouse_code=er.warehouse.code,
                expected_on=er.expected_on,
                quantity=er.quantity_open,
                reference=er.reference,
                late=er.expected_on < today,
            )
        )
    waiting = (
        Backorder.objects.filter(product_id__in=ids, quantity__gt=0)
        .values("product_id")
        .annotate(units=Sum("quantity"))
        .values_list("product_id", "units")
    )
    for pid, units in waiting:
        result[pid].backordered = units
    return result


# ---------------------------------------------------------------- reorder suggestions

DEMAND_WINDOW_DAYS = 30
SAFETY_DAYS = 3


@dataclass
class ReorderSuggestion:
    """One product at or below its reorder point, and how much to order.

    ``suggested`` is the product's reorder quantity when one is set. Otherwise it comes
    from demand, the units reserved for orders over the last 30 days (reservation ledger
    rows, including backorders when a receipt fills them):

        average daily demand = demand over 30 days / 30
        safety stock         = ceil(average daily demand * 3 days)
        suggested            = ceil(average daily demand * lead time in days + safety stock)

    With neither a reorder quantity nor any demand in 30 days, it suggests just enough to
    lift availability back above the reorder point (reorder point + 1 - available)."""

    product: Product
    on_hand: int
    reserved: int
    expected: int
    next_expected_on: date | None
    demand_30d: int
    suggested: int
    basis: str  # "reorder_quantity" | "demand" | "reorder_point"

    BASIS_LABELS = {
        "reorder_quantity": "Reorder quantity",
        "demand": "30-day demand over lead time + safety stock",
        "reorder_point": "No demand in 30 days: back above reorder point",
    }

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def reorder_point(self) -> int:
        return self.product.reorder_point

    @property
    def lead_time_days(self) -> int:
        return self.product.lead_time_days

    @property
    def daily_demand(self) -> Fraction:
        return Fraction(self.demand_30d, DEMAND_WINDOW_DAYS)

    @property
    def safety_stock(self) -> int:
        return math.ceil(self.daily_demand * SAFETY_DAYS)

    @property
    def basis_label(self) -> str:
        return self.BASIS_LABELS[self.basis]


def demand_window(today: date | None = None) -> tuple[datetime, datetime]:
    """The last 30 whole days, today included, in the shop's time zone."""
    today = today or timezone.localdate()
    until = timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min))
    return until - timedelta(days=DEMAND_WINDOW_DAYS), until


def _suggest(product: Product, *, available: int, demand: int) -> tuple[int, str]:
    if product.reorder_quantity:
        return product.reorder_quantity, "reorder_quantity"
    if demand:
        daily = Fraction(demand, DEMAND_WINDOW_DAYS)
        safety = math.ceil(daily * SAFETY_DAYS)
        return math.ceil(daily * product.lead_time_days + safety), "demand"
    return max(product.reorder_point + 1 - available, 1), "reorder_point"


def reorder_suggestions(*, today: date | None = None, product_ids=None) -> list[ReorderSuggestion]:
    """Active products whose available-to-promise is at or below their (non-zero) reorder
    point, lowest availability first, with what to order. Three queries."""
    products = (
        Product.objects.filter(active=True, reorder_point__gt=0)
        .annotate(on_hand_total=_stock_sum("on_hand"), reserved_total=_stock_sum("reserved"))
        .filter(reorder_point__gte=F("on_hand_total") - F("reserved_total"))
    )
    if product_ids is not None:
        products = products.filter(pk__in=list(product_ids))
    products = list(products.order_by("sku"))
    ids = [p.pk for p in products]
    since, until = demand_window(today)
    demand = dict(
        StockMovement.objects.filter(
            product_id__in=ids,
            kind=MovementKind.RESERVATION,
            reserved_delta__gt=0,
            created_at__gte=since,
            created_at__lt=until,
        )
        .values("product_id")
        .annotate(units=Sum("reserved_delta"))
        .values_list("product_id", "units")
    )
    expected = {
        row["product_id"]: row
        for row in ExpectedReceipt.objects.filter(
            product_id__in=ids, status=ExpectedReceipt.Status.OPEN
        )
        .values("product_id")
        .annotate(units=Sum(F("quantity") - F("quantity_received")), first=Min("expected_on"))
    }
    out = []
    for p in products:
        available = p.on_hand_total - p.reserved_total
        units = demand.get(p.pk, 0)
        suggested, basis = _suggest(p, available=available, demand=units)
        exp = expected.get(p.pk, {})
        out.append(
            ReorderSuggestion(
                product=p,
                on_hand=p.on_hand_total,
                reserved=p.reserved_total,
                expected=exp.get("units") or 0,
                next_expected_on=exp.get("first"),
                demand_30d=units,
                suggested=suggested,
                basis=basis,
            )
        )
    out.sort(key=lambda s: (s.available - s.reorder_point, s.product.sku))
    return out


def reorder_suggestion_for(
    *, product: Product, today: date | None = None
) -> ReorderSuggestion | None:
    """The suggestion for one product, or None when it is above its reorder point."""
    rows = reorder_suggestions(today=today, product_ids=[product.pk])
    return rows[0] if rows else None


# ---------------------------------------------------------------- restock alerts


def open_restock_alerts(*, limit: int = 10):
    """Open restock alerts, newest first, with the product and what it has available now
    (``available_now``). For the dashboard and the inventory screens."""
    available_now = Coalesce(
        Subquery(
            StockLevel.objects.filter(product=OuterRef("product"), warehouse__active=True)
            .values("product")
            .annotate(total=Sum(F("on_hand") - F("reserved")))
            .values("total"),
            output_field=IntegerField(),
        ),
        Value(0),
    )
    return list(
        RestockAlert.objects.filter(closed_at__isnull=True)
        .select_related("product")
        .annotate(available_now=available_now)
        .order_by("-opened_at", "-id")[:limit]
    )


def open_restock_alert_count() -> int:
    return RestockAlert.objects.filter(closed_at__isnull=True).count()


# ---------------------------------------------------------------- expected receipts


def expected_receipts_list(*, view: str = "open", today: date | None = None):
    """Expected receipts for the list screen: ``open`` (earliest first), ``late`` (open and
    past their date), ``received`` or ``cancelled`` (latest first)."""
    today = today or timezone.localdate()
    qs = ExpectedReceipt.objects.select_related("product", "warehouse", "created_by")
    if view == "late":
        return qs.filter(status=ExpectedReceipt.Status.OPEN, expected_on__lt=today).order_by(
            "expected_on", "id"
        )
    if view in (ExpectedReceipt.Status.RECEIVED, ExpectedReceipt.Status.CANCELLED):
        return qs.filter(status=view).order_by("-updated_at", "-id")
    return qs.filter(status=ExpectedReceipt.Status.OPEN).order_by("expected_on", "id")


def expected_receipt_counts(*, today: date | None = None) -> dict[str, int]:
    today = today or timezone.localdate()
    open_ = Q(status=ExpectedReceipt.Status.OPEN)
    return ExpectedReceipt.objects.aggregate(
        open=Count("id", filter=open_),
        late=Count("id", filter=open_ & Q(expected_on__lt=today)),
        received=Count("id", filter=Q(status=ExpectedReceipt.Status.RECEIVED)),
        cancelled=Count("id", filter=Q(status=ExpectedReceipt.Status.CANCELLED)),
    )


# ---------------------------------------------------------------- check_stock


def reservation_discrepancies() -> list[dict]:
    """(product, warehouse) pairs whose reserved units differ from the sum of their
    reservations: every reserved unit must belong to some demand."""
    held = {
        (row["product_id"], row["warehouse_id"]): row["units"]
        for row in Reservation.objects.values("product_id", "warehouse_id").annotate(
            units=Sum("quantity")
        )
    }
    levels = {
        (lv.product_id, lv.warehouse_id): lv
        for lv in StockLevel.objects.select_related("product", "warehouse")
    }
    problems = []
    for key in sorted(set(held) | set(levels)):
        units = held.get(key) or 0
        lv = levels.get(key)
        reserved = lv.reserved if lv else 0
        if units != reserved:
            problems.append(
                {
                    "sku": lv.product.sku if lv else str(key[0]),
                    "warehouse": lv.warehouse.code if lv else str(key[1]),
                    "reserved": reserved,
                    "reservations": units,
                }
            )
    return problems
