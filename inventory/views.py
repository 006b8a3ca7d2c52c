"""Staff screens for products and their stock (read-only here; receiving and adjusting
stock are screens of their own)."""

from decimal import Decimal

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import F
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.views.decorators.vary import vary_on_headers

from core import roles
from core.money import tax_of
from core.roles import staff_required
from fulfillment.models import Shipment
from orders.models import Order
from returns.models import ReturnRequest

from . import selectors
from .models import Product, Reservation, StockLevel, Warehouse

PAGE_SIZE = 50
LOW_STOCK = 5  # available at or below this (and above zero) shows amber

VIEWS = {
    "active": "Active",
    "low": "Low stock",
    "out": "Out of stock",
    "inactive": "Inactive",
    "all": "All",
}


def _filter(qs, view):
    if view == "active":
        return qs.filter(active=True)
    if view == "low":
        return qs.filter(active=True, available_total__gt=0, available_total__lte=LOW_STOCK)
    if view == "out":
        return qs.filter(active=True, available_total__lte=0)
    if view == "inactive":
        return qs.filter(active=False)
    return qs


def weight_label(grams: int) -> str:
    if not grams:
        return ""
    if grams < 1000:
        return f"{grams} g"
    kg = format((Decimal(grams) / 1000).normalize(), "f")
    return f"{kg} kg"


def percent(rate) -> str:
    """0.1900 -> "19", 0.0550 -> "5.5"."""
    text = format((rate * 100).normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@vary_on_headers("HX-Request")
@staff_required
def product_list(request):
    view = request.GET.get("view") or "active"
    if view not in VIEWS:
        view = "active"
    q = (request.GET.get("q") or "").strip()
    base = selectors.product_list(user=request.user, search=q).annotate(
        available_total=F("on_hand_total") - F("reserved_total")
    )
    counts = {key: _filter(base, key).count() for key in VIEWS}
    page = Paginator(_filter(base, view), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "view": view,
        "views": [(key, label, counts[key]) for key, label in VIEWS.items()],
        "q": q,
        "page": page,
        "rows": page.object_list,
        "low_stock": LOW_STOCK,
        "currency": settings.DEFAULT_CURRENCY,
    }
    template = "inventory/products.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return TemplateResponse(request, template, context)


def _reference_links(references) -> dict[str, str]:
    """Ledger references that name an order, a shipment or a return link to it."""
    refs = {r for r in references if r}
    links = {}
    if not refs:
        return links
    for name, model in (
        ("orders:detail", Order),
        ("fulfillment:shipment", Shipment),
        ("returns:detail", ReturnRequest),
    ):
        for number in model.objects.filter(number__in=refs).values_list("number", flat=True):
            try:
                links[number] = reverse(name, args=[number])
            except NoReverseMatch:
                break
    return links


@staff_required
def product_detail(request, sku):
    product = get_object_or_404(Product, sku=sku)
    levels = {lv.warehouse_id: lv for lv in StockLevel.objects.filter(product=product)}
    rows = []
    totals = {"on_hand": 0, "reserved": 0, "available": 0}
    for wh in Warehouse.objects.all():
        lv = levels.get(wh.pk)
        if lv is None and not wh.active:
            continue
        on_hand = lv.on_hand if lv else 0
        reserved = lv.reserved if lv else 0
        rows.append(
            {
                "warehouse": wh,
                "on_hand": on_hand,
                "reserved": reserved,
                "available": on_hand - reserved,
            }
        )
        if wh.active:
            totals["on_hand"] += on_hand
            totals["reserved"] += reserved
            totals["available"] += on_hand - reserved

    movements = list(selectors.product_movements(product=product, limit=50))
    reservations = list(
        Reservation.objects.filter(product=product, quantity__gt=0)
        .select_related("warehouse")
        .order_by("created_at")[:25]
    )
    # Inventory knows demand by an opaque reference; orders write "order:<number>:<line>".
    for r in reservations:
        parts = r.demand_ref.split(":")
        r.order_number = parts[1] if len(parts) == 3 and parts[0] == "order" else ""
    links = _reference_links(
        [m.reference for m in movements] + [r.order_number for r in reservations]
    )
    for m in movements:
        m.reference_url = links.get(m.reference, "")
    for r in reservations:
        r.order_url = links.get(r.order_number, "")

    context = {
        "product": product,
        "levels": rows,
        "totals": totals,
        "movements": movements,
        "reservations": reservations,
        "tax_percent": percent(product.tax_rate),
        "weight": weight_label(product.weight_grams),
        "price_gross": product.price + tax_of(product.price, product.tax_rate),
        "currency": settings.DEFAULT_CURRENCY,
        "low_stock": LOW_STOCK,
        "can_manage_stock": roles.has_role(request.user, (roles.MANAGER,)),
    }
    return TemplateResponse(request, "inventory/product.html", context)
