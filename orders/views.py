"""Staff order pages: the list, the detail with its actions, and phone/counter placement."""

from django.conf import settings
from django.contrib import messages
from django.db.models import IntegerField, OuterRef, Subquery, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from core import roles
from core.errors import DomainError, ValidationFailed
from core.http import apply_domain_error, flash_domain_error
from core.roles import staff_required
from customers.models import Customer
from customers.selectors import customer_search
from fulfillment.selectors import order_shipments
from fulfillment.services import shippable_quantities
from inventory.selectors import availability_for, product_search
from invoicing.choices import DocumentStatus, PaymentMethod
from returns.services import returnable_quantities

from .choices import NotificationStatus, OrderStatus
from .filters import OrderFilter, keyset_page, quick_view_counts, quick_views
from .forms import ADDRESS_KEYS, MAX_LINES, SHIPPING_METHODS, LineRow, OrderLines, OrderPlaceForm
from .models import Order, OrderLine
from .services import LineInput, order_cancel, order_hold, order_place, order_release

PAGE_SIZE = 50


def _htmx_fragment(request) -> bool:
    return bool(request.htmx and not request.htmx.boosted)


# ---------------------------------------------------------------- list


@staff_required
@require_GET
@vary_on_headers("HX-Request")
def order_list(request):
    base = Order.objects.visible_to(request.user)
    views = quick_views()
    view = request.GET.get("view", "all")
    conditions = {key: cond for key, _, cond in views}
    if view not in conditions:
        view = "all"
    filterset = OrderFilter(request.GET or None, queryset=base.filter(conditions[view]))
    qs = (
        filterset.qs
        if filterset.is_bound and filterset.is_valid()
        else base.filter(conditions[view])
    )
    items = (
        OrderLine.objects.filter(order=OuterRef("pk"))
        .values("order")
        .annotate(n=Sum("quantity"))
        .values("n")
    )
    qs = qs.select_related("customer", "channel").annotate(
        units=Subquery(items, output_field=IntegerField())
    )
    rows, newer, older = keyset_page(
        qs, after=request.GET.get("after"), before=request.GET.get("before"), size=PAGE_SIZE
    )

    params = request.GET.copy()
    for key in ("after", "before"):
        params.pop(key, None)
    kept = params.urlencode()

    def page_url(**cursor) -> str:
        p = params.copy()
        p.update(cursor)
        return "?" + p.urlencode()

    filter_params = {
        k: v for k, v in request.GET.items() if k not in ("after", "before", "view") and v
    }
    counts = quick_view_counts(base)
    context = {
        "filter": filterset,
        "form": filterset.form,
        "orders": rows,
        "view": view,
        "quick_views": [
            {
                "key": key,
                "label": label,
                "count": counts[key],
                "url": "?" + urlencode({"view": key}) if key != "all" else "?",
            }
            for key, label, _ in views
        ],
        "newer_url": page_url(before=newer) if newer else "",
        "older_url": page_url(after=older) if older else "",
        "first_url": "?" + kept if (request.GET.get("after") or request.GET.get("before")) else "",
        "filtered": bool(filter_params),
        "more_filtered": sum(
            1 for k in ("placed_from", "placed_to", "invoiced") if request.GET.get(k)
        ),
        "any_orders": counts["all"] > 0,
        "can_place": roles.has_role(request.user, roles.PLACE_ORDER),
    }
    if _htmx_fragment(request):
        response = TemplateResponse(request, "orders/list.html#results", context)
        clean = urlencode({k: v for k, v in request.GET.items() if v})
        response["HX-Push-Url"] = request.path + (f"?{clean}" if clean else "")
        return response
    return TemplateResponse(request, "orders/list.html", context)


# ---------------------------------------------------------------- detail


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
        sh.units = sum(sl.quantity for sl in sh.lines.all())
    invoices = list(order.invoices.all())
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
    totals = {
        "ordered": sum(ln.quantity for ln in lines),
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
        "balance": order.total - credited - paid + refunded if invoices or payments else None,
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
    return _order_action(
        request,
        number,
        lambda order, reason: order_cancel(order=order, reason=reason, actor=request.user),
        "Order {number} cancelled; its reserved stock is back on the shelf.",
    )


# ---------------------------------------------------------------- placement


def _new_context(form, lines: OrderLines, **extra) -> dict:
    return {
        "form": form,
        "lines": lines,
        "totals": lines.totals(
            form.data.get("shipping_total") if form.is_bound else form.initial.get("shipping_total")
        ),
        "currency": settings.DEFAULT_CURRENCY,
        "shipping_methods": SHIPPING_METHODS,
        "max_lines": MAX_LINES,
        "next_index": lines.next_index,
        **extra,
    }


def _not_allowed(request):
    return TemplateResponse(
        request,
        "orders/not_allowed.html",
        {"needed": ", ".join(roles.ROLE_LABELS[r] for r in roles.PLACE_ORDER)},
        status=403,
    )


@staff_required
@vary_on_headers("HX-Request")
def order_new(request):
    """Place a phone or counter order. Works as one plain form post; htmx adds the customer
    picker, live availability per line and adding lines without a reload."""
    if not roles.has_role(request.user, roles.PLACE_ORDER):
        return _not_allowed(request)
    if request.method != "POST":
        prefill = _customer_prefill(request.GET.get("customer", ""))
        form = OrderPlaceForm(initial=prefill.pop("initial"))
        return TemplateResponse(
            request, "orders/new.html", _new_context(form, OrderLines(), **prefill)
        )

    if "add_line" in request.POST:  # without JavaScript: one more row, nothing checked yet
        lines = OrderLines(request.POST, extra=1)
        form = OrderPlaceForm(initial=request.POST.dict())
        return TemplateResponse(
            request, "orders/new.html", _new_context(form, lines, focus_row=lines.rows[-1].index)
        )

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
                lines=[LineInput(product=r.product, quantity=r.quantity) for r in filled],
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
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, f"Order {order.number} placed")
            return redirect(order)
    prefill = _customer_prefill(request.POST.get("customer", "")) if form.picked_customer() else {}
    prefill.pop("initial", None)
    prefill["address"] = None  # the address typed wins over the book's
    context = _new_context(form, lines, lines_errors=lines_errors, failed=True, **prefill)
    return TemplateResponse(request, "orders/new.html", context)


@staff_required(roles=roles.PLACE_ORDER)
@require_GET
def new_customer_search(request):
    text = request.GET.get("customer_q", "")
    results = list(customer_search(text=text)) if text.strip() else []
    return TemplateResponse(
        request, "orders/new.html#customer-results", {"results": results, "customer_q": text}
    )


def _customer_prefill(customer_id: str, address_id: str = "") -> dict:
    """A picked customer and one address of their book, as the new-order form's initial data."""
    customer = None
    if str(customer_id).isdigit():
        customer = Customer.objects.prefetch_related("addresses").filter(pk=customer_id).first()
    if customer is None:
        return {"initial": {}, "picked": None, "addresses": [], "address": None}
    addresses = list(customer.addresses.all())
    address = next((a for a in addresses if str(a.pk) == str(address_id)), None) or (
        addresses[0] if addresses else None
    )
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
    return {
        "initial": initial,
        "picked": customer,
        "addresses": addresses,
        "address": address,
        "picked_orders": customer.orders.count(),
    }


@staff_required(roles=roles.PLACE_ORDER)
@require_GET
def new_customer_pick(request):
    """The customer card, filled from a picked customer and one address of their book."""
    prefill = _customer_prefill(request.GET.get("customer", ""), request.GET.get("address", ""))
    form = OrderPlaceForm(initial=prefill.pop("initial"))
    return TemplateResponse(request, "orders/new.html#customer-card", {"form": form, **prefill})


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
    With ``pick=<sku>`` (a suggestion was chosen): the whole row, focused on its quantity."""
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
    suggestions = []
    if not row.blank and row.product is None:
        suggestions = list(product_search(text=row.sku, limit=6))
        avail = availability_for(product_ids=[p.pk for p in suggestions])
        for p in suggestions:
            p.available = avail[p.pk].available
    context = {
        "row": row,
        "totals": lines.totals(data.get("shipping_total")),
        "currency": currency,
        "oob": True,
        "suggestions": suggestions,
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
        },
    )
