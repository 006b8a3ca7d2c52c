"""Staff screens for products and their stock: the list, a product's page, the stock
operations (receive, adjust, count, transfer), expected receipts and reorder suggestions.
Everyone on staff may look; warehouse staff and managers may move stock."""

import csv
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from core import roles
from core.csv import csv_safe
from core.errors import DomainError
from core.http import apply_domain_error, flash_domain_error
from core.money import tax_of
from core.roles import staff_required
from fulfillment.models import Shipment
from orders import services as order_services
from orders.models import Order
from returns.models import ReturnRequest

from . import selectors, services
from .forms import (
    ADJUST_REASONS,
    AdjustForm,
    CountForm,
    ExpectedReceiptForm,
    ReceiveForm,
    TransferForm,
)
from .models import ExpectedReceipt, Product, Reservation, RestockAlert, StockLevel, Warehouse

PAGE_SIZE = 50
LOW_STOCK = 5  # available at or below this (and above zero) shows amber

VIEWS = {
    "active": "Active",
    "low": "Low stock",
    "reorder": "At reorder point",
    "out": "Out of stock",
    "inactive": "Inactive",
    "all": "All",
}

OPERATIONS = {
    "receive": "Receive stock",
    "adjust": "Adjust stock",
    "count": "Count stock",
    "transfer": "Transfer stock",
}


def _filter(qs, view):
    if view == "active":
        return qs.filter(active=True)
    if view == "low":
        return qs.filter(active=True, available_total__gt=0, available_total__lte=LOW_STOCK)
    if view == "reorder":
        return qs.filter(active=True, reorder_point__gt=0, available_total__lte=F("reorder_point"))
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


def dimensions_label(product: Product) -> str:
    sides = (product.length_mm, product.width_mm, product.height_mm)
    if not any(sides):
        return ""
    if all(s and s % 10 == 0 for s in sides):
        return " × ".join(str(s // 10) for s in sides) + " cm"
    return " × ".join(str(s) for s in sides) + " mm"


def percent(rate) -> str:
    """0.1900 -> "19", 0.0550 -> "5.5"."""
    text = format((rate * 100).normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def due_label(day: date, today: date | None = None) -> str:
    """When an expected receipt is due, in words: today, tomorrow, in 5 days, 2 days late."""
    today = today or timezone.localdate()
    days = (day - today).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days > 1:
        return f"in {days} days"
    return "1 day late" if days == -1 else f"{-days} days late"


def _can_manage_stock(user) -> bool:
    return roles.has_role(user, roles.MANAGE_STOCK)


def _tab_counts() -> dict:
    counts = selectors.expected_receipt_counts()
    counts["alerts"] = selectors.open_restock_alert_count()
    return counts


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# ---------------------------------------------------------------- products


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
        "can_manage_stock": _can_manage_stock(request.user),
        "inv_tab": "products",
        "tab_counts": _tab_counts(),
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


def _stock_rows(product: Product) -> tuple[list[dict], dict]:
    """One row per warehouse (inactive ones only when they hold some), and the totals
    over active warehouses."""
    levels = {lv.warehouse_id: lv for lv in StockLevel.objects.filter(product=product)}
    rows = []
    totals = {"on_hand": 0, "reserved": 0, "available": 0}
    for wh in Warehouse.objects.all():
        lv = levels.get(wh.pk)
        if not wh.active and (lv is None or lv.on_hand == 0):
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
    return rows, totals


@staff_required
def product_detail(request, sku):
    product = get_object_or_404(Product, sku=sku)
    levels, totals = _stock_rows(product)

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

    substitutes = list(product.substitutes.order_by("sku"))
    substitute_for = list(product.substitute_for.order_by("sku"))
    atp = selectors.atp_detail(product_ids=[product.pk, *(p.pk for p in substitutes)])
    for sub in substitutes:
        sub.available = atp[sub.pk].available
    today = timezone.localdate()
    product_atp = atp[product.pk]
    for e in product_atp.expected:
        e.due = due_label(e.expected_on, today)
    alert = RestockAlert.objects.filter(product=product, closed_at__isnull=True).first()
    last_alert = None if alert else RestockAlert.objects.filter(product=product).first()

    context = {
        "product": product,
        "levels": levels,
        "totals": totals,
        "atp": product_atp,
        "movements": movements,
        "reservations": reservations,
        "substitutes": substitutes,
        "substitute_for": substitute_for,
        "alert": alert,
        "last_alert": last_alert,
        "suggestion": selectors.reorder_suggestion_for(product=product)
        if product.reorder_point
        else None,
        "tax_percent": percent(product.tax_rate),
        "weight": weight_label(product.weight_grams),
        "dimensions": dimensions_label(product),
        "price_gross": product.price + tax_of(product.price, product.tax_rate),
        "currency": settings.DEFAULT_CURRENCY,
        "low_stock": LOW_STOCK,
        "can_edit_product": roles.has_role(request.user, (roles.MANAGER,)),
        "can_manage_stock": _can_manage_stock(request.user),
    }
    return TemplateResponse(request, "inventory/product.html", context)


# ---------------------------------------------------------------- stock operations


@staff_required(roles=roles.MANAGE_STOCK)
def operation_start(request, op):
    """Choose the product for an operation started from the list: scan or type a SKU or
    barcode; an exact match goes straight to the form."""
    if op not in OPERATIONS:
        raise Http404("No such stock operation.")
    q = (request.GET.get("q") or "").strip()
    matches = []
    if q:
        exact = Product.objects.filter(Q(sku__iexact=q) | (Q(barcode=q) & ~Q(barcode=""))).first()
        if exact is not None:
            return redirect(f"inventory:{op}", sku=exact.sku)
        matches = selectors.product_search(text=q, limit=20)
    due = []
    if op == "receive":
        today = timezone.localdate()
        due = list(
            ExpectedReceipt.objects.filter(
                status=ExpectedReceipt.Status.OPEN, expected_on__lte=today + timedelta(days=7)
            )
            .select_related("product", "warehouse")
            .order_by("expected_on", "id")[:30]
        )
        for er in due:
            er.due = due_label(er.expected_on, today)
            er.late = er.expected_on < today
    context = {"op": op, "op_label": OPERATIONS[op], "q": q, "matches": matches, "due": due}
    return TemplateResponse(request, "inventory/operation_start.html", context)


def _operation_context(product: Product, op: str, **extra) -> dict:
    levels, totals = _stock_rows(product)
    return {
        "product": product,
        "levels": levels,
        "totals": totals,
        "op": op,
        "op_label": OPERATIONS[op],
        "low_stock": LOW_STOCK,
        **extra,
    }


@vary_on_headers("HX-Request")
@staff_required(roles=roles.MANAGE_STOCK)
def receive(request, sku):
    """Goods in. Optionally against an expected receipt, which pre-fills the form."""
    product = get_object_or_404(Product, sku=sku)
    if request.method == "POST":
        form = ReceiveForm(request.POST, product=product)
        if form.is_valid():
            data = form.cleaned_data
            try:
                level = order_services.stock_receipt_record(
                    product=product,
                    warehouse=data["warehouse"],
                    quantity=data["quantity"],
                    actor=request.user,
                    reference=data["reference"],
                    expected_receipt=data["expected_receipt"],
                )
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    f"Received {data['quantity']} × {product.sku} into {data['warehouse'].code}: "
                    f"it now holds {level.on_hand}.",
                )
                return redirect("inventory:product", sku=product.sku)
    else:
        form = ReceiveForm(initial=_receive_initial(request, product), product=product)

    open_expected = list(form.fields["expected_receipt"].queryset)
    today = timezone.localdate()
    for er in open_expected:
        er.due = due_label(er.expected_on, today)
        er.late = er.expected_on < today
    context = _operation_context(product, "receive", form=form, open_expected=open_expected)
    template = "inventory/receive.html"
    if request.htmx and not request.htmx.boosted:
        template += "#receive-form"
    return TemplateResponse(request, template, context)


def _receive_initial(request, product: Product) -> dict:
    """An expected receipt chosen (?expected=<id>, or the select changed with htmx) fills
    in its warehouse, the units still to come and its reference."""
    chosen = request.GET.get("expected") or request.GET.get("expected_receipt")
    er = None
    if chosen and chosen.isdigit():
        er = ExpectedReceipt.objects.filter(
            pk=int(chosen), product=product, status=ExpectedReceipt.Status.OPEN
        ).first()
    if er is not None:
        return {
            "expected_receipt": er.pk,
            "warehouse": er.warehouse_id,
            "quantity": er.quantity_open,
            "reference": er.reference,
        }
    first = Warehouse.objects.filter(active=True).order_by("priority", "code").first()
    return {"warehouse": first.pk if first else None}


@staff_required(roles=roles.MANAGE_STOCK)
def adjust(request, sku):
    """Correct on hand by a number of units, with a reason for the ledger."""
    product = get_object_or_404(Product, sku=sku)
    if request.method == "POST":
        form = AdjustForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                level = services.stock_adjust(
                    product=product,
                    warehouse=data["warehouse"],
                    delta=data["delta"],
                    reason=data["reason"],
                    reference=data["reference"],
                    actor=request.user,
                )
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                delta = data["delta"]
                messages.success(
                    request,
                    f"{'Added' if delta > 0 else 'Removed'} {abs(delta)} × {product.sku} "
                    f"{'to' if delta > 0 else 'from'} {data['warehouse'].code} ({data['reason']}): "
                    f"it now holds {level.on_hand}.",
                )
                return redirect("inventory:product", sku=product.sku)
    else:
        first = Warehouse.objects.filter(active=True).order_by("priority", "code").first()
        form = AdjustForm(
            initial={"warehouse": request.GET.get("warehouse") or (first.pk if first else None)}
        )
    context = _operation_context(product, "adjust", form=form, reasons=ADJUST_REASONS)
    return TemplateResponse(request, "inventory/adjust.html", context)


@staff_required(roles=roles.MANAGE_STOCK)
def count(request, sku):
    """A cycle count in two steps: the first POST shows the variance, the second applies it
    (only if the system's figure has not moved in between)."""
    product = get_object_or_404(Product, sku=sku)
    preview = None
    stale = ""
    if request.method == "POST":
        form = CountForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            warehouse = data["warehouse"]
            level = (
                StockLevel.objects.select_related("warehouse")
                .filter(product=product, warehouse=warehouse)
                .first()
            )
            refusal = services.stock_count_refusal(level=level, counted=data["counted"])
            if refusal:
                form.add_error("counted", refusal)
            elif data["confirm"] and data["system"] is not None:
                try:
                    level = services.stock_count(
                        product=product,
                        warehouse=warehouse,
                        counted=data["counted"],
                        reason=data["reason"] or "Cycle count",
                        expected_on_hand=data["system"],
                        actor=request.user,
                    )
                except DomainError as exc:
                    if exc.code == "stale":
                        stale = exc.message
                    else:
                        apply_domain_error(form, exc)
                else:
                    variance = data["counted"] - data["system"]
                    messages.success(
                        request,
                        f"Count applied for {product.sku} in {warehouse.code}: "
                        f"{_variance_text(data['system'], data['counted'], variance)}. "
                        f"It now holds {level.on_hand}.",
                    )
                    return redirect("inventory:product", sku=product.sku)
            if not form.errors:
                level = StockLevel.objects.filter(product=product, warehouse=warehouse).first()
                system = level.on_hand if level else 0
                preview = {
                    "warehouse": warehouse,
                    "system": system,
                    "reserved": level.reserved if level else 0,
                    "counted": data["counted"],
                    "variance": data["counted"] - system,
                    "text": _variance_text(system, data["counted"], data["counted"] - system),
                    "reason": data["reason"] or "Cycle count",
                }
    else:
        first = Warehouse.objects.filter(active=True).order_by("priority", "code").first()
        form = CountForm(
            initial={"warehouse": request.GET.get("warehouse") or (first.pk if first else None)}
        )
    context = _operation_context(product, "count", form=form, preview=preview, stale=stale)
    return TemplateResponse(request, "inventory/count.html", context)


def _variance_text(system: int, counted: int, variance: int) -> str:
    sign = "+" if variance > 0 else ("−" if variance < 0 else "±")
    return f"system {system}, counted {counted}: {sign}{abs(variance)}"


@staff_required(roles=roles.MANAGE_STOCK)
def transfer(request, sku):
    """Move free units from one warehouse to another."""
    product = get_object_or_404(Product, sku=sku)
    if request.method == "POST":
        form = TransferForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                source, destination = services.stock_transfer(
                    product=product,
                    source=data["source"],
                    destination=data["destination"],
                    quantity=data["quantity"],
                    reference=data["reference"],
                    actor=request.user,
                )
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    f"Moved {data['quantity']} × {product.sku} from {data['source'].code} to "
                    f"{data['destination'].code}: {data['source'].code} now holds {source.on_hand}, "
                    f"{data['destination'].code} {destination.on_hand}.",
                )
                return redirect("inventory:product", sku=product.sku)
    else:
        levels = StockLevel.objects.filter(product=product, warehouse__active=True)
        richest = max(levels, key=lambda lv: lv.on_hand - lv.reserved, default=None)
        initial = {}
        if richest is not None and richest.on_hand - richest.reserved > 0:
            initial["source"] = richest.warehouse_id
        form = TransferForm(initial=initial)
    context = _operation_context(product, "transfer", form=form)
    return TemplateResponse(request, "inventory/transfer.html", context)


# ---------------------------------------------------------------- expected receipts

EXPECTED_VIEWS = {
    "open": "Expected",
    "late": "Late",
    "received": "Received",
    "cancelled": "Cancelled",
}


@staff_required
def expected_receipts(request):
    """Stock on its way from suppliers, earliest first, late ones amber; and the form to
    announce a new delivery (warehouse staff and managers)."""
    can_manage = _can_manage_stock(request.user)
    view = request.GET.get("view") or "open"
    if view not in EXPECTED_VIEWS:
        view = "open"
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Only warehouse staff and managers may announce deliveries.")
        form = ExpectedReceiptForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                er = services.expected_receipt_create(
                    product=data["product"],
                    warehouse=data["warehouse"],
                    quantity=data["quantity"],
                    expected_on=data["expected_on"],
                    reference=data["reference"],
                    actor=request.user,
                )
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    f"Expecting {er.quantity} × {er.product.sku} into {er.warehouse.code} "
                    f"on {er.expected_on:%d %b %Y}.",
                )
                return redirect(_safe_next(request, reverse("inventory:expected_receipts")))
    else:
        form = ExpectedReceiptForm(initial=_expected_initial(request))

    today = timezone.localdate()
    page = Paginator(selectors.expected_receipts_list(view=view, today=today), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for er in page.object_list:
        er.due = due_label(er.expected_on, today)
        er.late = er.status == ExpectedReceipt.Status.OPEN and er.expected_on < today
    counts = _tab_counts()
    context = {
        "form": form,
        "can_manage_stock": can_manage,
        "view": view,
        "views": [(key, label, counts[key]) for key, label in EXPECTED_VIEWS.items()],
        "page": page,
        "rows": page.object_list,
        "today": today,
        "inv_tab": "expected",
        "tab_counts": counts,
        "next": request.GET.get("next", ""),
    }
    return TemplateResponse(request, "inventory/expected_receipts.html", context)


def _expected_initial(request) -> dict:
    first = Warehouse.objects.filter(active=True).order_by("priority", "code").first()
    initial = {"warehouse": first.pk if first else None}
    sku = (request.GET.get("sku") or "").strip()
    product = Product.objects.filter(sku=sku).first() if sku else None
    if product is not None:
        initial["product"] = product.sku
        initial["expected_on"] = timezone.localdate() + timedelta(days=product.lead_time_days)
        if product.reorder_quantity:
            initial["quantity"] = product.reorder_quantity
    return initial


@require_POST
@staff_required(roles=roles.MANAGE_STOCK)
def expected_receipt_cancel(request, pk):
    er = get_object_or_404(ExpectedReceipt.objects.select_related("product"), pk=pk)
    try:
        services.expected_receipt_cancel(expected_receipt=er, actor=request.user)
    except DomainError as exc:
        flash_domain_error(request, exc)
    else:
        messages.success(
            request,
            f"Cancelled the expected {er.quantity_open} × {er.product.sku} due {er.expected_on:%d %b}.",
        )
    return redirect(_safe_next(request, reverse("inventory:expected_receipts")))


# ---------------------------------------------------------------- reorder suggestions


@staff_required
def reorder(request):
    rows = selectors.reorder_suggestions()
    alerts = {
        a.product_id: a
        for a in RestockAlert.objects.filter(
            closed_at__isnull=True, product_id__in=[r.product.pk for r in rows]
        )
    }
    for r in rows:
        r.alert = alerts.get(r.product.pk)
    context = {
        "rows": rows,
        "window": selectors.DEMAND_WINDOW_DAYS,
        "safety_days": selectors.SAFETY_DAYS,
        "can_manage_stock": _can_manage_stock(request.user),
        "inv_tab": "reorder",
        "tab_counts": _tab_counts(),
    }
    return TemplateResponse(request, "inventory/reorder.html", context)


CSV_HEADER = [
    "SKU",
    "Product",
    "On hand",
    "Reserved",
    "Available",
    "Reorder point",
    "Expected",
    "Next expected on",
    "Demand 30 d",
    "Avg daily demand",
    "Lead time (days)",
    "Safety stock",
    "Suggested quantity",
    "Basis",
]


@staff_required
def reorder_csv(request):
    rows = selectors.reorder_suggestions()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="reorder-suggestions-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for r in rows:
        writer.writerow(
            [
                csv_safe(r.product.sku),
                csv_safe(r.product.name),
                r.on_hand,
                r.reserved,
                r.available,
                r.reorder_point,
                r.expected,
                r.next_expected_on.isoformat() if r.next_expected_on else "",
                r.demand_30d,
                f"{float(r.daily_demand):.2f}",
                r.lead_time_days,
                r.safety_stock,
                r.suggested,
                r.basis_label,
            ]
        )
    return response
