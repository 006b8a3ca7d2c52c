"""Staff order pages: the list, the detail with its actions, and phone/counter placement."""

from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from core import roles
from core.errors import DomainError, NotAllowed, ValidationFailed
from core.http import apply_domain_error, flash_domain_error
from core.money import format_money, quantize, tax_of
from core.roles import staff_required
from customers.models import Customer
from customers.selectors import customer_search
from fulfillment.choices import OPEN_STATUSES as OPEN_SHIPMENT_STATUSES
from fulfillment.counter import counter_sale, counter_warehouse
from fulfillment.edits import order_edit_checked
from fulfillment.selectors import order_shipments
from fulfillment.services import shippable_quantities
from inventory.selectors import atp_detail, product_search
from invoicing.choices import DocumentStatus, PaymentMethod
from invoicing.services import (
    order_cancel_documented,
    order_line_cancel_documented,
)
from returns.services import returnable_quantities

from . import imports as order_imports
from .choices import ChannelKind, NotificationStatus, OrderStatus
from .exports import order_csv_lines, units_subquery
from .filters import (
    DEFAULT_SORT,
    SORT_FIELDS,
    OrderFilter,
    count_label,
    filter_choices,
    keyset_page,
    parse_sort,
    quick_view_counts,
    quick_views,
)
from .forms import (
    ADDRESS_KEYS,
    MAX_LINES,
    SHIPPING_METHODS,
    CounterForm,
    EditLines,
    LineCancelForm,
    LineRow,
    OrderEditForm,
    OrderLines,
    OrderPlaceForm,
    line_rows_data,
    parse_decimal,
    price_errors,
    product_lookup,
    shipping_method_for,
)
from .models import ImportBatch, Order, SalesChannel
from .selectors import LATE_STATUSES, NOT_SHIPPED, days_late, order_is_late
from .services import (
    IN_OPEN_SHIPMENT,
    LineChange,
    LineInput,
    order_hold,
    order_place,
    order_release,
)

PAGE_SIZE = 50


def _htmx_fragment(request) -> bool:
    return bool(request.htmx and not request.htmx.boosted)


# ---------------------------------------------------------------- list


def _listing(request, *, choices=None):
    """What the list, its CSV export and its pages work on: the acting user's orders, in one
    quick view, through the filters. Returns (base, filterset, qs, view, sort)."""
    base = Order.objects.visible_to(request.user)
    conditions = {key: cond for key, _, cond in quick_views()}
    view = request.GET.get("view", "all")
    if view not in conditions:
        view = "all"
    scoped = base.filter(conditions[view])
    filterset = OrderFilter(request.GET or None, queryset=scoped, choices=choices)
    qs = filterset.qs if filterset.is_bound and filterset.is_valid() else scoped
    return base, filterset, qs, view, parse_sort(request.GET.get("sort"))


@staff_required
@require_GET
@vary_on_headers("HX-Request")
def order_list(request):
    """Three queries a page: the page of orders (customer, channel and units joined in),
    the capped quick-view counts, and the channel and warehouse options of the filter bar.
    An htmx filter request gets the results only: one query."""
    fragment = _htmx_fragment(request)
    base, filterset, qs, view, sort = _listing(
        request, choices=None if fragment else filter_choices()
    )
    qs = qs.select_related("customer", "channel").annotate(units=units_subquery())
    rows, newer, older = keyset_page(
        qs,
        sort=sort,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
        size=PAGE_SIZE,
    )
    today = timezone.localdate()
    for o in rows:
        o.is_late = order_is_late(o, today=today)
        o.ship_due = o.status in LATE_STATUSES and o.fulfillment_status in NOT_SHIPPED

    params = request.GET.copy()
    for key in ("after", "before"):
        params.pop(key, None)
    kept = params.urlencode()

    def page_url(**changes) -> str:
        p = params.copy()
        for key, value in changes.items():
            if value is None:
                p.pop(key, None)
            else:
                p[key] = value
        return "?" + p.urlencode()

    def sort_url(key: str) -> str:
        value = sort.toggled(key)
        return page_url(sort=None if value == DEFAULT_SORT else value)

    filter_params = {
        k: v for k, v in request.GET.items() if k not in ("after", "before", "view", "sort") and v
    }
    counts = {} if fragment else quick_view_counts(base)
    any_orders = bool(rows) or (counts["all"] > 0 if counts else base.exists())
    context = {
        "filter": filterset,
        "form": filterset.form,
        "orders": rows,
        "view": view,
        "sort": sort,
        "sort_urls": {key: sort_url(key) for key in SORT_FIELDS},
        "quick_views": [
            {
                "key": key,
                "label": label,
                "count": count_label(counts[key]) if counts else "",
                "url": "?" + urlencode({"view": key}) if key != "all" else "?",
            }
            for key, label, _ in quick_views()
        ],
        "newer_url": page_url(before=newer) if newer else "",
        "older_url": page_url(after=older) if older else "",
        "first_url": "?" + kept if (request.GET.get("after") or request.GET.get("before")) else "",
        "export_url": reverse("orders:export") + ("?" + kept if kept else ""),
        "filtered": bool(filter_params),
        "more_filtered": sum(
            1
            for k in ("customer", "sku", "placed_from", "placed_to", "invoiced")
            if request.GET.get(k)
        ),
        "any_orders": any_orders,
        "can_place": roles.has_role(request.user, roles.PLACE_ORDER),
        "can_bulk": roles.has_role(request.user, roles.CANCEL_ORDER),
    }
    if fragment:
        response = TemplateResponse(request, "orders/list.html#results", context)
        clean = urlencode({k: v for k, v in request.GET.items() if v})
        response["HX-Push-Url"] = request.path + (f"?{clean}" if clean else "")
        return response
    return TemplateResponse(request, "orders/list.html", context)


# ---------------------------------------------------------------- detail


# What an open shipment means for the merchant; orders' services know only the counts
# (``OrderLine.quantity_allocated``), the pages name the shipments.
SHIPMENT_SITUATION = {
    "pending": "waiting to be picked",
    "picking": "being picked",
    "packed": "packed, waiting for the carrier",
}


def _open_shipments(order: Order) -> list:
    """The order's shipments that hold units and have not left: to pick, picking, packed."""
    result = []
    for sh in order_shipments(order=order):
        if sh.status in OPEN_SHIPMENT_STATUSES:
            sh.by_line = {sl.order_line_id: sl.quantity for sl in sh.lines.all()}
            sh.units = sum(sh.by_line.values())
            sh.situation = SHIPMENT_SITUATION.get(sh.status, sh.get_status_display().lower())
            result.append(sh)
    return result


def _shipments_hint(shipments: list, *, line=None) -> str:
    """Which open shipments hold the units, for a refusal: "Open shipment: SH-000012
    (being picked, 2 units). Cancel it on its page (the units stay reserved), then try again." """
    relevant = [sh for sh in shipments if line is None or sh.by_line.get(line.pk)]
    if not relevant:
        return ""
    parts = []
    for sh in relevant:
        units = sh.by_line.get(line.pk, 0) if line is not None else sh.units
        parts.append(f"{sh.number} ({sh.situation}, {units} unit{'s' if units != 1 else ''})")
    one = len(relevant) == 1
    return (
        f"Open shipment{'' if one else 's'}: {', '.join(parts)}. Cancel {'it' if one else 'them'} "
        f"on the shipment page (the units stay reserved for this order), then try again."
    )


def _in_shipment(exc: DomainError) -> bool:
    if exc.code == "in_shipment":
        return True
    errors = exc.errors if isinstance(exc, ValidationFailed) else {}
    return any(IN_OPEN_SHIPMENT in m for msgs in errors.values() for m in msgs)


def _get_order(request, number: str) -> Order:
    return get_object_or_404(
        Order.objects.visible_to(request.user).select_related("customer", "channel", "created_by"),
        number=number,
    )


@staff_required
@require_GET
def order_detail(request, number):
    order = _get_order(request, number)
    user = request.user
    lines = list(order.lines.all())
    shipments = list(order_shipments(order=order))
    for sh in shipments:
        sh.by_line = {sl.order_line_id: sl.quantity for sl in sh.lines.all()}
        sh.units = sum(sh.by_line.values())
        sh.situation = SHIPMENT_SITUATION.get(sh.status, "")
    open_shipments = [sh for sh in shipments if sh.status in OPEN_SHIPMENT_STATUSES]
    for ln in lines:
        # Units that may still be cancelled: not shipped, not sitting in an open shipment.
        ln.cancellable = ln.quantity_open - ln.quantity_allocated
        ln.in_shipments = [
            (sh, sh.by_line[ln.pk]) for sh in open_shipments if sh.by_line.get(ln.pk)
        ]
    invoices = sorted(order.invoices.all(), key=lambda d: (d.issued_at, d.pk))
    for i, inv in enumerate(invoices):
        inv.supplementary = i > 0
    credit_notes = list(order.credit_notes.select_related("invoice"))
    returns = list(order.return_requests.prefetch_related("lines"))
    for rr in returns:
        rr.units = sum(rl.quantity for rl in rr.lines.all())
    payments = list(order.payments.select_related("recorded_by"))
    refunds = list(order.refunds.select_related("credit_note"))
    notifications = list(order.notifications.all())
    events = list(order.events.select_related("actor").order_by("-created_at", "-id"))

    is_open = order.status == OrderStatus.OPEN
    live = order.status not in (OrderStatus.CANCELLED, OrderStatus.CLOSED)
    anything_shipped = any(ln.quantity_shipped for ln in lines)
    actions = {
        "ship": is_open
        and roles.has_role(user, roles.FULFIL)
        and bool(shippable_quantities(order=order)),
        "invoice": not invoices
        and order.status != OrderStatus.CANCELLED
        and roles.has_role(user, roles.ISSUE_INVOICE),
        "payment": live
        and order.payment_status in ("unpaid", "authorized", "partially_paid")
        and roles.has_role(user, roles.RECORD_PAYMENT),
        "return": anything_shipped
        and roles.has_role(user, roles.REQUEST_RETURN)
        and bool(returnable_quantities(order=order)),
        "hold": is_open and roles.has_role(user, roles.CANCEL_ORDER),
        "release": order.status == OrderStatus.ON_HOLD and roles.has_role(user, roles.CANCEL_ORDER),
        "cancel": order.status in (OrderStatus.OPEN, OrderStatus.ON_HOLD, OrderStatus.DRAFT)
        and not anything_shipped
        and roles.has_role(user, roles.CANCEL_ORDER),
    }
    paid = sum((p.amount for p in payments), start=order.total * 0)
    refunded = sum((r.amount for r in refunds), start=order.total * 0)
    credited = sum((c.total for c in credit_notes), start=order.total * 0)
    # What the customer owes: the invoices (the first one and any supplementary ones) less the
    # credit notes, or the order's total while it is not invoiced.
    invoiced = sum((d.total for d in invoices), start=order.total * 0)
    billed = invoiced if invoices else order.total
    totals = {
        "ordered": sum(ln.quantity_effective for ln in lines),
        "reserved": sum(ln.quantity_reserved for ln in lines),
        "backordered": sum(ln.quantity_backordered for ln in lines),
        "shipped": sum(ln.quantity_shipped for ln in lines),
        "delivered": sum(ln.quantity_delivered for ln in lines),
        "returned": sum(ln.quantity_returned for ln in lines),
    }
    context = {
        "order": order,
        "lines": lines,
        "line_totals": totals,
        "shipments": shipments,
        "invoices": invoices,
        "credit_notes": credit_notes,
        "returns": returns,
        "payments": payments,
        "refunds": refunds,
        "paid": paid,
        "refunded": refunded,
        "credited": credited,
        "invoiced": invoiced,
        "balance": billed - credited - paid + refunded if invoices or payments else None,
        "open_shipments": open_shipments,
        "allocated": sum(ln.quantity_allocated for ln in lines),
        "is_late": order_is_late(order),
        "days_late": days_late(order),
        "notifications": notifications,
        "events": events,
        "actions": actions,
        "any_action": any(actions.values()),
        "primary": next(
            (k for k in ("release", "ship", "invoice", "payment", "return") if actions[k]), None
        ),
        "payment_method_label": dict(PaymentMethod.choices).get(
            order.payment_method, order.payment_method
        ),
        "status_url": request.build_absolute_uri(order.status_path()),
        "customer_order_count": order.customer.orders.count(),
        "failed_docs": [
            d for d in [*invoices, *credit_notes] if d.pdf_status == DocumentStatus.FAILED
        ],
        "failed_emails": [n for n in notifications if n.status == NotificationStatus.FAILED],
    }
    return TemplateResponse(request, "orders/detail.html", context)


def _order_action(request, number, action, success):
    order = _get_order(request, number)
    reason = request.POST.get("reason", "")
    try:
        action(order, reason)
    except DomainError as exc:
        flash_domain_error(request, exc)
    else:
        messages.success(request, success.format(number=order.number))
    return redirect(order)


@staff_required
@require_POST
def order_hold_view(request, number):
    return _order_action(
        request,
        number,
        lambda order, reason: order_hold(order=order, reason=reason, actor=request.user),
        "Order {number} is on hold. Nothing ships until it is released.",
    )


@staff_required
@require_POST
def order_release_view(request, number):
    return _order_action(
        request,
        number,
        lambda order, reason: order_release(order=order, actor=request.user),
        "Hold released: order {number} is open again.",
    )


@staff_required
@require_POST
def order_cancel_view(request, number):
    """Cancel the whole order; refused (and nothing changes) while units sit in an open
    shipment: the message names those shipments."""
    order = _get_order(request, number)
    try:
        order_cancel_documented(
            order=order, reason=request.POST.get("reason", ""), actor=request.user
        )
    except DomainError as exc:
        if _in_shipment(exc):
            messages.error(
                request, f"{exc.message} {_shipments_hint(_open_shipments(order))}".strip()
            )
        else:
            flash_domain_error(request, exc)
    else:
        messages.success(
            request, f"Order {order.number} cancelled; its reserved stock is back on the shelf."
        )
    return redirect(order)


# ---------------------------------------------------------------- placement


def _new_context(request, form, lines: OrderLines, **extra) -> dict:
    return {
        "form": form,
        "lines": lines,
        "totals": lines.totals(
            form.data.get("shipping_total") if form.is_bound else form.initial.get("shipping_total")
        ),
        "currency": settings.DEFAULT_CURRENCY,
        "shipping_costs": {m.value: str(m.cost) for m in SHIPPING_METHODS},
        "max_lines": MAX_LINES,
        "next_index": lines.next_index,
        "can_override": roles.has_role(request.user, roles.OVERRIDE_PRICE),
        **extra,
    }


def _not_allowed(request):
    return TemplateResponse(
        request,
        "orders/not_allowed.html",
        {"needed": ", ".join(roles.ROLE_LABELS[r] for r in roles.PLACE_ORDER)},
        status=403,
    )


def _line_inputs(rows: list[LineRow]) -> list[LineInput]:
    """What the service gets: a changed price only when one was typed (the service refuses
    it for roles that may not change prices)."""
    return [
        LineInput(product=r.product, quantity=r.quantity, unit_price=r.unit_price) for r in rows
    ]


@staff_required
@vary_on_headers("HX-Request")
def order_new(request):
    """Place a phone order. Works as one plain form post; htmx adds the customer picker with
    their history, live availability per line, substitutes and adding lines without a reload."""
    if not roles.has_role(request.user, roles.PLACE_ORDER):
        return _not_allowed(request)
    if request.method != "POST":
        prefill = _customer_prefill(request.GET.get("customer", ""))
        form = OrderPlaceForm(initial=prefill.pop("initial"))
        return TemplateResponse(
            request, "orders/new.html", _new_context(request, form, OrderLines(), **prefill)
        )

    if "add_line" in request.POST or "substitute" in request.POST:
        # Without JavaScript: one more row, or a substitute in a short row; nothing checked yet.
        data = request.POST.copy()
        focus_row = None
        index, _, sku = data.get("substitute", "").partition(":")
        if index.isdigit() and sku:
            data[f"lines-{index}-sku"] = sku
            focus_row = int(index)
        lines = OrderLines(data, extra=1 if "add_line" in data else 0)
        form = OrderPlaceForm(initial=data.dict())
        prefill = _customer_prefill(data.get("customer", "")) if form.picked_customer() else {}
        prefill.pop("initial", None)
        prefill["address"] = None
        context = _new_context(
            request,
            form,
            lines,
            focus_row=lines.rows[-1].index if focus_row is None else focus_row,
            **prefill,
        )
        return TemplateResponse(request, "orders/new.html", context)

    form = OrderPlaceForm(request.POST)
    lines = OrderLines(request.POST)
    form_ok = form.is_valid()
    lines_ok = lines.validate()
    lines_errors: list[str] = []
    if not lines.filled:
        lines_errors.append("Add at least one line: a SKU or barcode and a quantity.")
    if form_ok and lines_ok and not lines_errors:
        filled = lines.filled
        data = form.cleaned_data
        try:
            order = order_place(
                channel=data["channel"],
                customer=form.picked_customer(),
                email=data["email"],
                name=data["name"],
                phone=data["phone"],
                address=form.address(),
                lines=_line_inputs(filled),
                actor=request.user,
                shipping_method=data["shipping_method"],
                shipping_total=data["shipping_total"],
                payment_method=data["payment_method"],
                notes=data["notes"],
            )
        except ValidationFailed as exc:
            lines_errors += lines.apply_service_errors(exc.errors, [r.index for r in filled])
            rest = {
                k: v for k, v in exc.errors.items() if not (k == "lines" or k.startswith("lines-"))
            }
            if rest:
                apply_domain_error(form, ValidationFailed(rest))
        except NotAllowed as exc:
            # A price changed by a role that may not: say so on the changed lines.
            for r in filled:
                if r.overridden:
                    r.errors["price"].append(exc.message)
            if not any(r.overridden for r in filled):
                apply_domain_error(form, exc)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            if order.status == OrderStatus.ON_HOLD:
                messages.warning(
                    request, f"Order {order.number} placed and put on hold: {order.hold_reason}"
                )
            else:
                messages.success(request, f"Order {order.number} placed")
            return redirect(order)
    prefill = _customer_prefill(request.POST.get("customer", "")) if form.picked_customer() else {}
    prefill.pop("initial", None)
    prefill["address"] = None  # the address typed wins over the book's
    context = _new_context(request, form, lines, lines_errors=lines_errors, failed=True, **prefill)
    return TemplateResponse(request, "orders/new.html", context)


@staff_required(roles=roles.PLACE_ORDER)
@require_GET
def new_customer_search(request):
    text = request.GET.get("customer_q", "")
    results = list(customer_search(text=text)) if text.strip() else []
    return TemplateResponse(
        request, "orders/new.html#customer-results", {"results": results, "customer_q": text}
    )


RECENT_ORDERS = 3


def _customer_prefill(customer_id: str, address_id: str = "") -> dict:
    """A picked customer, their last orders and one address of their book, as the new-order
    form's initial data. Shipping and payment default to what they chose last time."""
    customer = None
    if str(customer_id).isdigit():
        customer = Customer.objects.prefetch_related("addresses").filter(pk=customer_id).first()
    if customer is None:
        return {"initial": {}, "picked": None, "addresses": [], "address": None}
    addresses = list(customer.addresses.all())
    address = next((a for a in addresses if str(a.pk) == str(address_id)), None) or (
        addresses[0] if addresses else None
    )
    recent = list(customer.orders.order_by("-placed_at", "-id")[:RECENT_ORDERS])
    initial = {
        "customer": customer.pk,
        "email": customer.email,
        "name": customer.name,
        "phone": customer.phone,
        "ship_name": customer.name,
    }
    if address:
        initial.update({f"ship_{k}": getattr(address, k) for k in ADDRESS_KEYS})
        if address.phone and not customer.phone:
            initial["phone"] = address.phone
    last = recent[0] if recent else None
    if last:
        method = shipping_method_for(last.shipping_method)
        if method:
            initial["shipping_method"] = method.value
            initial["shipping_total"] = method.cost
        if last.payment_method in PaymentMethod.values:
            initial["payment_method"] = last.payment_method
    return {
        "initial": initial,
        "picked": customer,
        "addresses": addresses,
        "address": address,
        "picked_orders": customer.orders.count(),
        "recent_orders": recent,
        "last_order": last,
    }


@staff_required(roles=roles.PLACE_ORDER)
@require_GET
def new_customer_pick(request):
    """The customer card, filled from a picked customer and one address of their book; the
    shipping and payment of their last order come along out of band."""
    prefill = _customer_prefill(request.GET.get("customer", ""), request.GET.get("address", ""))
    form = OrderPlaceForm(initial=prefill.pop("initial"))
    context = {
        "form": form,
        "oob_details": prefill.get("last_order") is not None and not request.GET.get("address"),
        "shipping_costs": {m.value: str(m.cost) for m in SHIPPING_METHODS},
        **prefill,
    }
    return TemplateResponse(request, "orders/new.html#customer-card", context)


def _line_index(value) -> int:
    try:
        index = int(value)
    except (TypeError, ValueError):
        raise Http404("No such line") from None
    if not 0 <= index < MAX_LINES:
        raise Http404("No such line")
    return index


@staff_required(roles=roles.PLACE_ORDER)
@require_GET
def new_line(request):
    """One line's product and availability as its SKU or quantity is typed, with the line total
    and the summary out of band. Without ``i``: the summary only (the shipping cost changed).
    With ``pick=<sku>`` (a suggestion or a substitute was chosen): the whole row, focused on
    its quantity."""
    data = request.GET.copy()
    currency = settings.DEFAULT_CURRENCY
    if not data.get("i"):
        lines = OrderLines(data)
        return TemplateResponse(
            request,
            "orders/new.html#summary",
            {"totals": lines.totals(data.get("shipping_total")), "currency": currency},
        )
    index = _line_index(data.get("i"))
    picked = data.get("pick", "").strip()
    if picked:
        data[f"lines-{index}-sku"] = picked
        if not data.get(f"lines-{index}-quantity"):
            data[f"lines-{index}-quantity"] = "1"
    lines = OrderLines(data)
    row = lines.row(index)
    row.errors["price"].extend(
        price_errors(row.unit_price_text, row.discount_text) if row.product else []
    )
    suggestions = []
    if not row.blank and row.product is None:
        suggestions = list(product_search(text=row.sku, limit=6))
        avail = atp_detail(product_ids=[p.pk for p in suggestions])
        for p in suggestions:
            p.available = avail[p.pk].available
    context = {
        "row": row,
        "totals": lines.totals(data.get("shipping_total")),
        "currency": currency,
        "oob": True,
        "suggestions": suggestions,
        "can_override": roles.has_role(request.user, roles.OVERRIDE_PRICE),
    }
    if picked:
        return TemplateResponse(
            request, "orders/new.html#line-row", {**context, "focus": "quantity"}
        )
    return TemplateResponse(request, "orders/new.html#line-info", context)


@staff_required(roles=roles.PLACE_ORDER)
@require_GET
def new_row(request):
    index = _line_index(request.GET.get("i"))
    return TemplateResponse(
        request,
        "orders/new.html#line-row",
        {
            "row": LineRow(index=index),
            "focus": "sku",
            "next_index": index + 1,
            "max_lines": MAX_LINES,
            "add_button_oob": True,
            "currency": settings.DEFAULT_CURRENCY,
            "can_override": roles.has_role(request.user, roles.OVERRIDE_PRICE),
        },
    )


# ---------------------------------------------------------------- counter sale


def _counter_channel() -> SalesChannel | None:
    channels = SalesChannel.objects.filter(active=True, kind=ChannelKind.COUNTER)
    return channels.filter(slug="counter").first() or channels.order_by("pk").first()


def _counter_rows(data) -> list[tuple[str, str]]:
    """The sale's (sku, quantity) rows as posted, in order, without blanks."""
    lines = OrderLines(data, min_rows=0)
    return [(r.sku, r.quantity_text) for r in lines.filled]


def _counter_scan(
    rows: list[tuple[str, str]], text: str
) -> tuple[list[tuple[str, str]], str, list]:
    """Add what was scanned: one more of a line the sale has, else a new line. Returns the
    rows, an error for the scan field and name suggestions when nothing matched exactly."""
    text = text.strip()
    if not text:
        return rows, "", []
    product = product_lookup([text]).get(text.upper())
    if product is None:
        suggestions = list(product_search(text=text, limit=6))
        if suggestions:
            atp = atp_detail(product_ids=[p.pk for p in suggestions])
            for p in suggestions:
                p.available = atp[p.pk].available
            return rows, "", suggestions
        return rows, f"No product with SKU, barcode or name “{text}”.", []
    if not product.active:
        return rows, f"{product.sku} is no longer sold.", []
    known = product_lookup([sku for sku, _ in rows])
    for i, (sku, qty) in enumerate(rows):
        if known.get(sku.upper()) == product:
            try:
                rows[i] = (product.sku, str(int(qty) + 1))
            except ValueError:
                rows[i] = (product.sku, "1")
            return rows, "", []
    rows.append((product.sku, "1"))
    return rows, "", []


def _counter_context(request, form, lines: OrderLines, **extra) -> dict:
    totals = lines.totals(0)
    values = form.data if form.is_bound else form.initial
    store = str(values.get("warehouse") or getattr(counter_warehouse(), "code", ""))
    for r in lines.rows:  # what the store's own shelves hold, not the whole network
        r.on_shelf = r.availability.per_warehouse.get(store, 0) if r.availability else 0
        r.shelf_short = bool(r.product and r.quantity and r.quantity > r.on_shelf)
    change_due = None
    if values.get("payment_method") == PaymentMethod.CASH:
        try:
            given = parse_decimal(values.get("cash_received"))
        except ValueError:
            given = None
        if given is not None and totals["total"]:
            change_due = quantize(given) - totals["total"]
    return {
        "store_code": store,
        "change_due": change_due,
        "form": form,
        "lines": lines,
        "totals": totals,
        "currency": settings.DEFAULT_CURRENCY,
        "channel": _counter_channel(),
        "vat": _vat_breakdown(
            (r.product.tax_rate, r.net_total) for r in lines.filled if r.net_total is not None
        ),
        **extra,
    }


def _vat_breakdown(pairs) -> list[dict]:
    """Net and tax per rate; tax is summed line by line, as the order's totals are."""
    by_rate: dict = {}
    for rate, net in pairs:
        row = by_rate.setdefault(
            rate, {"rate": rate, "net": Decimal("0.00"), "tax": Decimal("0.00")}
        )
        row["net"] += net
        row["tax"] += tax_of(net, rate)
    return [row for rate, row in sorted(by_rate.items(), reverse=True) if rate]


@staff_required
@vary_on_headers("HX-Request")
def counter(request):
    """Sell to a customer standing at the counter: scan, take payment, print the receipt.
    Every scan is a plain form post (htmx swaps the form in place); "Take payment" places,
    hands over, invoices and records the payment in one transaction."""
    if not roles.has_role(request.user, roles.PLACE_ORDER):
        return _not_allowed(request)
    template = "orders/counter.html#sale" if _htmx_fragment(request) else "orders/counter.html"
    store = counter_warehouse()
    if request.method != "POST":
        form = CounterForm(warehouse=store)
        return TemplateResponse(
            request, template, _counter_context(request, form, OrderLines(min_rows=0), focus="scan")
        )

    rows = _counter_rows(request.POST)
    remove = request.POST.get("remove_line", "")
    if remove.isdigit() and int(remove) < len(rows):
        rows.pop(int(remove))
    added = request.POST.get("add", "").strip()  # a suggestion was chosen
    scan_text = added or request.POST.get("scan", "")
    rows, scan_error, suggestions = _counter_scan(rows, scan_text)
    lines = OrderLines(line_rows_data(rows), min_rows=0)
    data = request.POST.copy()
    data["scan"] = scan_text if (scan_error or suggestions) else ""
    if "take_payment" not in request.POST or scan_text:
        # A scan, a quantity or a payment change: the sale as it stands, no errors but the scan's.
        initial = {k: v for k, v in data.items() if k in CounterForm.base_fields}
        form = CounterForm(initial=initial, warehouse=store)
        context = _counter_context(
            request, form, lines, suggestions=suggestions, scan_error=scan_error, focus="scan"
        )
        return TemplateResponse(request, template, context)

    form = CounterForm(data, warehouse=store)
    channel = _counter_channel()
    form_ok = form.is_valid()
    lines_ok = lines.validate()
    sale_errors = []
    if not lines.filled:
        sale_errors.append("Scan or type at least one product.")
    if channel is None:
        sale_errors.append(
            "No active counter channel: add one (kind “Counter”) in the back office."
        )
    if form_ok and lines_ok and not sale_errors:
        data = form.cleaned_data
        try:
            order = counter_sale(
                channel=channel,
                lines=[LineInput(product=r.product, quantity=r.quantity) for r in lines.filled],
                payment_method=data["payment_method"],
                actor=request.user,
                email=data["email"] or "",
                name=data["name"] or "",
                warehouse=data["warehouse"],
                payment_reference=data["payment_reference"] or "",
                cash_received=data["cash_received"]
                if data["payment_method"] == PaymentMethod.CASH
                else None,
            )
        except ValidationFailed as exc:
            sale_errors += lines.apply_service_errors(exc.errors, [r.index for r in lines.filled])
            rest = {
                k: v for k, v in exc.errors.items() if not (k == "lines" or k.startswith("lines-"))
            }
            if rest:
                apply_domain_error(form, ValidationFailed(rest))
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(
                request,
                f"Paid: {order.number} handed over. Print the receipt or start the next sale.",
            )
            url = reverse("orders:receipt", args=[order.number])
            if request.htmx:
                return HttpResponseClientRedirect(url)
            return redirect(url)
    context = _counter_context(request, form, lines, sale_errors=sale_errors, failed=True)
    return TemplateResponse(request, template, context)


@staff_required
@require_GET
def counter_receipt(request, number):
    """A till receipt (80 mm) for a counter sale, with a link to the invoice PDF."""
    order = _get_order(request, number)
    lines = [ln for ln in order.lines.all() if ln.quantity_effective]
    invoice = order.invoices.first()
    payments = list(order.payments.select_related("recorded_by"))
    shipment = order.shipments.select_related("warehouse", "carrier").first()
    context = {
        "order": order,
        "lines": lines,
        "invoice": invoice,
        "payments": payments,
        "paid": sum((p.amount for p in payments), start=order.total * 0),
        "shipment": shipment,
        "vat": _vat_breakdown((ln.tax_rate, ln.net_total) for ln in lines),
        "merchant_address": settings.MERCHANT_ADDRESS.splitlines(),
        "is_counter": order.channel.kind == ChannelKind.COUNTER,
        "served_by": order.created_by,
    }
    return TemplateResponse(request, "fulfillment/receipt.html", context)


# ---------------------------------------------------------------- edit before shipping, cancel a line


EDITABLE = (OrderStatus.OPEN, OrderStatus.ON_HOLD)


def _edit_changes(order: Order, edit_lines: EditLines, new_lines: OrderLines, form) -> list[dict]:
    """The difference the edit would make, for the summary shown before saving."""
    changes = []
    for r in edit_lines.rows:
        if r.valid_quantity is None:
            continue
        if r.removed:
            changes.append(
                {
                    "kind": "removed",
                    "text": f"{r.line.name} removed",
                    "detail": f"{r.current} × {r.line.sku}",
                }
            )
        elif r.quantity_changed:
            changes.append(
                {
                    "kind": "changed",
                    "text": f"{r.line.name}: {r.current} → {r.quantity}",
                    "detail": r.line.sku,
                }
            )
        if r.price_changed and not r.removed:
            changes.append(
                {
                    "kind": "changed",
                    "text": f"{r.line.name}: price {r.line.unit_price} → {r.unit_price}",
                    "detail": r.line.sku,
                }
            )
    for r in new_lines.filled:
        if r.product and r.quantity and r.quantity > 0:
            changes.append(
                {
                    "kind": "added",
                    "text": f"{r.product.name} added ({r.quantity})",
                    "detail": r.product.sku,
                }
            )
    data = form.data if form.is_bound else {}
    if data:
        address = {k: (data.get(f"ship_{k}") or "").strip() for k in ADDRESS_KEYS}
        address["country"] = address["country"].upper()
        if any(getattr(order, f"ship_{k}") != v for k, v in address.items()):
            changes.append(
                {
                    "kind": "changed",
                    "text": "Delivery address changed",
                    "detail": ", ".join(v for v in address.values() if v),
                }
            )
        method = (data.get("shipping_method") or "").strip()
        if method and method != order.shipping_method:
            changes.append(
                {
                    "kind": "changed",
                    "text": f"Shipping method: {order.shipping_method or '—'} → {method}",
                    "detail": "",
                }
            )
        try:
            cost = parse_decimal(data.get("shipping_total"))
        except ValueError:
            cost = None
        if cost is not None and quantize(cost) != order.shipping_total:
            changes.append(
                {
                    "kind": "changed",
                    "text": f"Shipping cost: {order.shipping_total} → {quantize(cost)}",
                    "detail": "",
                }
            )
    return changes


def _edit_total(order: Order, edit_lines: EditLines, new_lines: OrderLines, form) -> dict:
    subtotal = tax = Decimal("0.00")
    for r in edit_lines.rows:
        net = r.net_total
        subtotal += net
        tax += tax_of(net, r.line.tax_rate)
    extra = new_lines.totals(0)
    subtotal += extra["subtotal"]
    tax += extra["tax"]
    shipping = order.shipping_total
    if form.is_bound:
        try:
            shipping = quantize(parse_decimal(form.data.get("shipping_total")) or 0)
        except ValueError:
            shipping = order.shipping_total
    return {
        "subtotal": subtotal,
        "tax": tax,
        "shipping": shipping,
        "total": subtotal + tax + shipping,
        "difference": subtotal + tax + shipping - order.total,
    }


def _edit_context(request, order, form, edit_lines, new_lines, **extra) -> dict:
    return {
        "order": order,
        "form": form,
        "edit_lines": edit_lines,
        "lines": new_lines,
        "changes": _edit_changes(order, edit_lines, new_lines, form),
        "new_totals": _edit_total(order, edit_lines, new_lines, form),
        "currency": order.currency,
        "shipping_costs": {m.value: str(m.cost) for m in SHIPPING_METHODS},
        "can_override": roles.has_role(request.user, roles.OVERRIDE_PRICE),
        "max_lines": MAX_LINES,
        "next_index": new_lines.next_index,
        "paid": order.payment_status in ("paid", "partially_paid"),
        "invoiced": order.invoices.exists(),
        **extra,
    }


@staff_required
@vary_on_headers("HX-Request")
def order_edit_view(request, number):
    """Change an order before it ships: quantities (0 removes), new lines, the address and the
    shipping. The difference is summarised as you type; saving calls ``order_edit_checked``
    once (refused while a packed shipment holds the address or method; the edit, and a credit
    note or supplementary invoice when the order was invoiced)."""
    order = _get_order(request, number)
    if not roles.has_role(request.user, roles.PLACE_ORDER):
        return _not_allowed(request)
    if order.status not in EDITABLE or not any(ln.quantity_open for ln in order.lines.all()):
        messages.error(
            request,
            f"Order {order.number} can no longer be edited: only open or held orders with "
            "something left to ship can change.",
        )
        return redirect(order)
    order_lines = list(order.lines.select_related("product").order_by("line_no"))
    shipments = _open_shipments(order)
    if request.method != "POST":
        form = OrderEditForm(order=order)
        edit_lines = EditLines(order_lines)
        new_lines = OrderLines(min_rows=1)
        return TemplateResponse(
            request,
            "orders/edit.html",
            _edit_context(request, order, form, edit_lines, new_lines, shipments=shipments),
        )

    form = OrderEditForm(request.POST, order=order)
    edit_lines = EditLines(order_lines, request.POST)
    new_lines = OrderLines(request.POST, min_rows=1, extra=1 if "add_line" in request.POST else 0)
    if "preview" in request.POST or "add_line" in request.POST:
        context = _edit_context(request, order, form, edit_lines, new_lines, shipments=shipments)
        if _htmx_fragment(request) and "preview" in request.POST:
            return TemplateResponse(
                request, "orders/edit.html#changes", {**context, "fragment": True}
            )
        return TemplateResponse(request, "orders/edit.html", context)

    form_ok = form.is_valid()
    lines_ok = edit_lines.validate() & new_lines.validate()
    if form_ok and lines_ok:
        changes = [
            LineChange(
                line_id=r.line.pk, product=None, quantity=r.quantity, unit_price=r.unit_price
            )
            for r in edit_lines.rows
            if r.line.quantity_open and (r.quantity_changed or r.price_changed)
        ]
        positions = [
            ("edit", r)
            for r in edit_lines.rows
            if r.line.quantity_open and (r.quantity_changed or r.price_changed)
        ]
        for r in new_lines.filled:
            changes.append(
                LineChange(
                    line_id=None, product=r.product, quantity=r.quantity, unit_price=r.unit_price
                )
            )
            positions.append(("new", r))
        data = form.cleaned_data
        address = form.address()
        current = {k: getattr(order, f"ship_{k}") for k in ADDRESS_KEYS}
        try:
            order_edit_checked(
                order=order,
                actor=request.user,
                lines=changes,
                address=address if address != current else None,
                shipping_method=data["shipping_method"],
                shipping_total=data["shipping_total"],
            )
        except ValidationFailed as exc:
            leftover = _apply_edit_errors(exc.errors, positions)
            rest = {k: v for k, v in exc.errors.items() if not k.startswith("lines")}
            if rest:
                apply_domain_error(form, ValidationFailed(rest))
            for msg in leftover:
                form.add_error(None, msg)
            if _in_shipment(exc):
                form.add_error(None, _shipments_hint(shipments))
        except NotAllowed as exc:
            flagged = False
            for kind, r in positions:
                if (kind == "edit" and r.price_changed) or (kind == "new" and r.overridden):
                    r.errors["price"].append(exc.message)
                    flagged = True
            if not flagged:
                apply_domain_error(form, exc)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(
                request, f"Order {order.number} updated; the customer is emailed the change."
            )
            return redirect(order)
    context = _edit_context(
        request, order, form, edit_lines, new_lines, failed=True, shipments=shipments
    )
    return TemplateResponse(request, "orders/edit.html", context)


def _apply_edit_errors(errors: dict[str, list[str]], positions: list) -> list[str]:
    """``lines-<n>-<field>`` from ``order_edit`` onto the row that was n-th in its list."""
    leftover = []
    for key, msgs in errors.items():
        parts = key.split("-")
        if (
            len(parts) == 3
            and parts[0] == "lines"
            and parts[1].isdigit()
            and int(parts[1]) < len(positions)
        ):
            kind, row = positions[int(parts[1])]
            name = {"sku": "sku" if kind == "new" else "quantity", "unit_price": "price"}.get(
                parts[2], "quantity"
            )
            row.errors[name].extend(msgs)
        elif key.startswith("lines"):
            leftover.extend(msgs)
    return leftover


@staff_required
def order_line_cancel_view(request, number, line_id):
    """Cancel unshipped units of one line (GET: the form on its own page; the order page
    offers it in place). Errors come back next to the field."""
    order = _get_order(request, number)
    line = get_object_or_404(order.lines.all(), pk=line_id)
    if not roles.has_role(request.user, roles.CANCEL_ORDER):
        raise PermissionDenied("Your role cannot cancel order lines.")
    if request.method == "POST":
        form = LineCancelForm(request.POST, line=line)
        if form.is_valid():
            try:
                order = order_line_cancel_documented(
                    order=order,
                    line=line,
                    quantity=form.cleaned_data["quantity"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except DomainError as exc:
                if _in_shipment(exc):
                    hint = _shipments_hint(_open_shipments(order), line=line)
                    exc = DomainError(f"{exc.message} {hint}".strip(), field=exc.field)
                apply_domain_error(form, exc)
            else:
                qty = form.cleaned_data["quantity"]
                if order.status == OrderStatus.CANCELLED:
                    messages.success(
                        request,
                        f"Nothing was left on {order.number}: the whole order is cancelled.",
                    )
                else:
                    messages.success(
                        request,
                        f"{qty} × {line.sku} cancelled; the stock is released and the customer is told."
                        f" New total {format_money(order.total, order.currency)}.",
                    )
                return redirect(order)
    else:
        form = LineCancelForm(line=line)
    return TemplateResponse(
        request,
        "orders/edit.html",
        {"order": order, "line": line, "form": form, "mode": "line_cancel"},
    )


# ---------------------------------------------------------------- list: bulk actions, print, CSV
# (the order list's own endpoints; kept apart from the detail and placement views above)

BULK_MAX = 200


def _back_to_list(request) -> str:
    """Where a bulk action returns: the list as it was (filters, view, sort, page)."""
    target = request.POST.get("next", "")
    list_url = reverse("orders:list")
    if target.startswith(list_url) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return list_url


def _bulk_hold(order, reason, actor):
    order_hold(order=order, reason=reason, actor=actor)


def _bulk_release(order, reason, actor):
    order_release(order=order, actor=actor)


def _bulk_cancel(order, reason, actor):
    order_cancel_documented(order=order, reason=reason, actor=actor)


# action: (service call, needs a reason, past tense, verb, what a missing reason means)
BULK_ACTIONS = {
    "hold": (_bulk_hold, True, "put on hold", "hold", "Say why the selected orders are held."),
    "release": (_bulk_release, False, "released", "release", ""),
    "cancel": (
        _bulk_cancel,
        True,
        "cancelled",
        "cancel",
        "Say why the selected orders are cancelled.",
    ),
}
BULK_MESSAGES_MAX = 8


def _numbers_text(numbers: list[str], limit: int = 10) -> str:
    if len(numbers) > limit:
        return ", ".join(numbers[:limit]) + f" and {len(numbers) - limit} more"
    if len(numbers) > 1:
        return ", ".join(numbers[:-1]) + " and " + numbers[-1]
    return numbers[0]


def _refusal_messages(verb: str, refused: list[tuple[str, str]]) -> list[str]:
    """One message per reason: the same refusal for many orders is said once, with their
    numbers ("Could not hold NW-1 and NW-2. Each order is on hold; …")."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for number, message in refused:
        groups.setdefault(message.replace(number, "{n}"), []).append((number, message))
    texts = []
    for key, items in groups.items():
        numbers = [n for n, _ in items]
        if len(items) == 1:
            texts.append(f"Could not {verb} {numbers[0]}: {items[0][1]}")
        else:
            reason = key.replace("Order {n}", "Each order").replace("{n}", "the order")
            texts.append(f"Could not {verb} {_numbers_text(numbers)}. {reason}")
    return texts


@staff_required
@require_POST
def order_bulk(request):
    """Hold, release, cancel or print the orders ticked on the list. Each order goes through
    its own service call (its own transaction); refusals are reported per order."""
    back = _back_to_list(request)
    numbers = list(dict.fromkeys(n.strip() for n in request.POST.getlist("orders") if n.strip()))
    numbers = numbers[:BULK_MAX]
    action = request.POST.get("action", "")
    if not numbers:
        messages.error(request, "Select at least one order first: tick the boxes in the list.")
        return redirect(back)
    if action == "print":
        return redirect(reverse("orders:print") + "?" + urlencode([("o", n) for n in numbers]))
    if action not in BULK_ACTIONS:
        messages.error(request, "Choose what to do with the selected orders.")
        return redirect(back)
    if not roles.has_role(request.user, roles.CANCEL_ORDER):
        needed = ", ".join(roles.ROLE_LABELS[r] for r in roles.CANCEL_ORDER)
        messages.error(request, f"Only {needed} may hold, release or cancel orders.")
        return redirect(back)
    call, needs_reason, done_label, verb, no_reason = BULK_ACTIONS[action]
    reason = request.POST.get(f"{action}_reason", "").strip()
    if needs_reason and not reason:
        messages.error(request, no_reason + " The reason goes on each order's timeline.")
        return redirect(back)

    orders = {
        o.number: o for o in Order.objects.visible_to(request.user).filter(number__in=numbers)
    }
    done, refused = [], []
    for number in numbers:
        order = orders.get(number)
        if order is None:
            refused.append((number, "there is no such order."))
            continue
        try:
            call(order, reason, request.user)
        except DomainError as exc:
            refused.append((number, exc.message))
        else:
            done.append(number)
    if done:
        noun = "order" if len(done) == 1 else "orders"
        messages.success(request, f"{len(done)} {noun} {done_label}: {_numbers_text(done)}.")
    texts = _refusal_messages(verb, refused)
    for text in texts[:BULK_MESSAGES_MAX]:
        messages.error(request, text)
    if len(texts) > BULK_MESSAGES_MAX:
        messages.error(request, f"…and {len(texts) - BULK_MESSAGES_MAX} more refusals.")
    return redirect(back)


@staff_required
@require_GET
def order_print(request):
    """A printable page of the selected orders: one summary per order, one per sheet."""
    numbers = list(dict.fromkeys(request.GET.getlist("o")))[:BULK_MAX]
    orders = list(
        Order.objects.visible_to(request.user)
        .filter(number__in=numbers)
        .select_related("customer", "channel")
        .prefetch_related("lines")
        .order_by("number")
    )
    return TemplateResponse(
        request, "orders/print.html", {"orders": orders, "printed_at": timezone.now()}
    )


@staff_required
@require_GET
def order_export(request):
    """The filtered list as CSV: every matching order (not only one page), in the list's
    sort, streamed a chunk at a time."""
    _, _, qs, _, sort = _listing(request)
    rows = qs.order_by(*sort.order_by)
    response = StreamingHttpResponse(order_csv_lines(rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.csv"'
    return response


# ---------------------------------------------------------------- CSV import


class ImportUploadForm(forms.Form):
    channel = forms.ModelChoiceField(
        queryset=SalesChannel.objects.filter(active=True),
        empty_label="Choose the channel these orders come from",
        help_text="External ids are unique per channel: a file imported twice creates nothing new.",
    )
    file = forms.FileField(
        label="CSV file",
        help_text="One row per order line, columns as listed below. Up to 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


def _import_page(request, form, status=200):
    recent = ImportBatch.objects.select_related("channel", "created_by").order_by("-created_at")
    return TemplateResponse(
        request,
        "orders/import.html",
        {
            "form": form,
            "recent": list(recent[:10]),
            "columns": [
                (c, c in order_imports.REQUIRED_COLUMNS, order_imports.COLUMN_HELP.get(c, ""))
                for c in order_imports.COLUMNS
            ],
        },
        status=status,
    )


@staff_required(roles=roles.PLACE_ORDER)
def order_import(request):
    """Upload a CSV of orders; it is checked and shown as a preview before anything is placed."""
    if request.method != "POST":
        return _import_page(request, ImportUploadForm())
    form = ImportUploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > order_imports.MAX_BYTES:
                raise ValidationFailed(
                    {"file": ["The file is larger than 5 MB. Split it into smaller files."]}
                )
            batch = order_imports.import_batch_create(
                channel=form.cleaned_data["channel"],
                filename=upload.name,
                data=upload.read(),
                actor=request.user,
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            return redirect("orders:import_batch", pk=batch.pk)
    return _import_page(request, form, status=400)


@staff_required(roles=roles.PLACE_ORDER)
@require_GET
@vary_on_headers("HX-Request")
def order_import_batch(request, pk):
    """One import: its preview before it starts, its progress while the worker runs (htmx
    polls the progress every second; once finished, the page reloads into the result), and
    its result: each order of the file with what became of it."""
    batch = get_object_or_404(ImportBatch.objects.select_related("channel", "created_by"), pk=pk)
    S = ImportBatch.Status
    in_progress = batch.status in (S.QUEUED, S.RUNNING)
    context = {
        "batch": batch,
        "counts": order_imports.batch_counts(batch),
        "S": S,
        "in_progress": in_progress,
        "problems": [p for p in batch.errors if p.get("kind", "error") == "error"],
    }
    if _htmx_fragment(request):
        if in_progress:
            return TemplateResponse(request, "orders/import_batch.html#progress", context)
        return HttpResponseClientRefresh()
    if in_progress:
        return TemplateResponse(request, "orders/import_batch.html", context)

    preview = order_imports.import_preview(channel=batch.channel, text=batch.content)
    context["preview"] = preview
    context["earlier"] = (
        ImportBatch.objects.filter(sha256=batch.sha256, channel=batch.channel, pk__lt=batch.pk)
        .order_by("-pk")
        .first()
    )
    if batch.status == S.PREVIEWED:
        context["problems"] = preview.problems
        return TemplateResponse(request, "orders/import_batch.html", context)
    numbers = dict(
        Order.objects.filter(
            channel=batch.channel, external_id__in=[o.external_id for o in preview.orders]
        ).values_list("external_id", "number")
    )
    kinds: dict[str, set[str]] = {}
    for p in batch.errors:
        kinds.setdefault(p.get("kind", "error"), set()).add(p.get("external_id", ""))
    results = []
    for o in preview.orders:
        number = numbers.get(o.external_id, "")
        if o.external_id in kinds.get("error", set()) and not number:
            outcome = "failed"
        elif o.external_id in kinds.get("skip", set()):
            outcome = "skipped"
        elif number:
            outcome = "created"
        else:
            outcome = "not_processed"
        results.append({"order": o, "outcome": outcome, "number": number})
    context["results"] = results
    return TemplateResponse(request, "orders/import_batch.html", context)


@staff_required(roles=roles.PLACE_ORDER)
@require_POST
def order_import_run(request, pk):
    batch = get_object_or_404(ImportBatch, pk=pk)
    try:
        order_imports.import_batch_queue(batch=batch, actor=request.user)
    except DomainError as exc:
        flash_domain_error(request, exc)
    return redirect("orders:import_batch", pk=batch.pk)


@staff_required(roles=roles.PLACE_ORDER)
@require_GET
def order_import_sample(request):
    """A CSV with the header and two example orders, to start from."""
    response = HttpResponse(IMPORT_SAMPLE_CSV, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="orders-import-sample.csv"'
    return response


IMPORT_SAMPLE_CSV = (
    ",".join(order_imports.COLUMNS)
    + "\n"
    + "MP-1001,ada@example.com,Ada Lovelace,+49 40 123,Ada Lovelace,Hafenstraße 12,,Hamburg,,"
    + "20457,DE,EUR,TEE-BLK-M,2,,standard,4.90,Leave at the door\n"
    + "MP-1001,,,,,,,,,,,,MUG-WHT,1,,,,\n"
    + "MP-1002,grace@example.com,Grace Hopper,,Grace Hopper,Unter den Linden 5,,Berlin,,"
    + "10117,DE,EUR,TEE-BLK-M,1,24.00,express,9.90,\n"
)
