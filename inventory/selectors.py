from dataclasses import dataclass, field

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .models import Product, Reservation, StockLevel, StockMovement


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
    qs = Product.objects.annotate(on_hand_total=_stock_sum("on_hand"), reserved_total=_stock_sum("reserved"))
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
    for r in Reservation.objects.filter(demand_ref__in=list(refs), quantity__gt=0).select_related("warehouse"):
        out[r.demand_ref].append(r)
    return out


def product_movements(*, product, limit: int = 50):
    return product.movements.select_related("warehouse", "actor").order_by("-created_at", "-id")[:limit]


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
            problems.append({
                "sku": lv.product.sku, "warehouse": lv.warehouse.code,
                "on_hand": lv.on_hand, "ledger_on_hand": row["on_hand"],
                "reserved": lv.reserved, "ledger_reserved": row["reserved"],
            })
    for key, row in ledger.items():
        if key not in seen and (row["on_hand"] or row["reserved"]):
            problems.append({"product_id": key[0], "warehouse_id": key[1], "on_hand": 0,
                             "ledger_on_hand": row["on_hand"], "reserved": 0,
                             "ledger_reserved": row["reserved"]})
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

    return dict(Backorder.objects.filter(demand_ref__in=list(refs), quantity__gt=0).values_list("demand_ref", "quantity"))
