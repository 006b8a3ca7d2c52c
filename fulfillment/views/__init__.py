"""The warehouse screens: the work queue, a shipment with its next step, and the actions
(pick, pack, ship, deliver, cancel). Each POST calls one service and redirects (PRG)."""

from django.contrib import messages
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from core import roles
from core.errors import DomainError
from core.http import apply_domain_error, flash_domain_error
from core.roles import has_role, staff_required
from orders.models import Order, OrderEvent, OrderLine

from ..choices import IN_FLIGHT_STATUSES, ShipmentStatus
from ..forms import CancelForm, DeliverForm, ShipForm
from ..models import Shipment
from ..selectors import shipments_by_status
from ..services import (
    shipment_cancel,
    shipment_confirm_picked,
    shipment_mark_delivered,
    shipment_pack_unchecked,
    shipments_create,
)

SECTION_LIMIT = 100
S = ShipmentStatus


def _safe_next(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def _units(qs):
    return qs.annotate(line_count=Count("lines", distinct=True), units=Sum("lines__quantity"))


# ---------------------------------------------------------------- the queue


@staff_required
@require_http_methods(["GET"])
def queue(request):
    """The work of one warehouse (?warehouse=CODE, default the first): what to pick, what is
    being picked, what to pack and ship, with the counts at a glance, late work flagged, filters
    (carrier, shipping method, search), pick lists made from the ready orders and one bulk
    print of pick lists, packing slips and labels for the chosen shipments."""
    from django.db.models import Exists, Q
    from django.db.models.functions import Lower

    from ..choices import OPEN_STATUSES
    from ..models import Carrier, CarrierService
    from ..picking import DEFAULT_LIMIT
    from ..selectors import carrier_methods, orders_pickable
    from .picking import shipping_methods, warehouse_from

    warehouses, warehouse = warehouse_from(request)
    today = timezone.localdate()
    view = request.GET.get("view", "")
    carrier_code = request.GET.get("carrier", "").strip()
    method = request.GET.get("method", "").strip()
    q = request.GET.get("q", "").strip()
    mapping = carrier_methods()
    context = {
        "warehouses": warehouses,
        "warehouse": warehouse,
        "view": view,
        "q": q,
        "tab": "queue",
        "carrier_code": carrier_code,
        "method": method,
        "today": today,
        "carriers": Carrier.objects.filter(active=True).order_by("name"),
        "methods": shipping_methods(),
        "can_fulfil": has_role(request.user, roles.FULFIL),
        "can_deliver": has_role(request.user, roles.MARK_DELIVERED),
        "can_place": has_role(request.user, roles.PLACE_ORDER),
        "limit": SECTION_LIMIT,
        "default_pick_limit": DEFAULT_LIMIT,
    }
    if warehouse is None:
        return TemplateResponse(
            request, "fulfillment/queue.html", {**context, "sections": [], "tiles": []}
        )

    # Ready orders: reserved here, no open shipment here yet.
    lines = OrderLine.objects.filter(order=OuterRef("pk")).order_by().values("order")
    open_here = Shipment.objects.filter(
        order=OuterRef("pk"), warehouse=warehouse, status__in=OPEN_STATUSES
    )
    ready = (
        orders_pickable(
            warehouse=warehouse, filters={"carrier": carrier_code, "shipping_method": method}
        )
        .filter(~Exists(open_here), pk__in=Order.objects.visible_to(request.user).values("pk"))
        .select_related("customer", "channel")
        .annotate(
            line_count=Subquery(
                lines.annotate(c=Count("pk")).values("c"), output_field=IntegerField()
            ),
            units_reserved=Coalesce(
                Subquery(
                    lines.annotate(s=Sum("quantity_reserved")).values("s"),
                    output_field=IntegerField(),
                ),
                0,
            ),
            units_open=Coalesce(
                Subquery(
                    lines.annotate(s=Sum("quantity")).values("s"), output_field=IntegerField()
                ),
                0,
            ),
        )
    )
    if q:
        ready = ready.filter(
            Q(number__icontains=q)
            | Q(ship_name__icontains=q)
            | Q(customer__name__icontains=q)
            | Q(email__icontains=q)
            | Exists(OrderLine.objects.filter(order=OuterRef("pk"), sku__iexact=q))
        )

    def shipments(statuses, order_by, **extra):
        qs = shipments_by_status(user=request.user, statuses=statuses, warehouse=warehouse).filter(
            **extra
        )
        qs = qs.select_related("order__customer", "pick_list").annotate(
            method_key=Lower("order__shipping_method")
        )
        if carrier_code:
            methods = (
                CarrierService.objects.filter(carrier__code=carrier_code, active=True)
                .exclude(shipping_method="")
                .annotate(m=Lower("shipping_method"))
                .values("m")
            )
            qs = qs.filter(
                Q(carrier__code=carrier_code) | Q(carrier__isnull=True, method_key__in=methods)
            )
        if method:
            qs = qs.filter(order__shipping_method__iexact=method)
        if q:
            qs = qs.filter(
                Q(number__icontains=q)
                | Q(order__number__icontains=q)
                | Q(order__ship_name__icontains=q)
                | Q(order__customer__name__icontains=q)
                | Q(tote__iexact=q)
                | Q(tracking_number__iexact=q)
                | Q(lines__order_line__sku__iexact=q)
            ).distinct()
        return _units(qs).order_by(*order_by)

    promised = ("order__promised_ship_date", "created_at", "id")
    sections = [
        {
            "key": "ready",
            "title": "Ready to pick",
            "kind": "orders",
            "stage": "to-pick",
            "hint": "Reserved here, no shipment yet. Make a pick list, or one shipment at a time.",
            "empty": "No order is waiting. New orders with reserved stock appear here.",
            "qs": ready,
        },
        {
            "key": "to-pick",
            "title": "To pick",
            "kind": "pending",
            "stage": "to-pick",
            "hint": "Shipments made one by one; the next pick list takes them too.",
            "empty": "Nothing to pick. Create a shipment from “Ready to pick”.",
            "qs": shipments([S.PENDING], promised),
        },
        {
            "key": "picking",
            "title": "Picking",
            "kind": "picking",
            "stage": "picking",
            "hint": "On a pick list, in a tote, being picked now.",
            "empty": "No pick list is being walked.",
            "qs": shipments(
                [S.PICKING], ("pick_list__number", "tote", "id"), picked_at__isnull=True
            ),
        },
        {
            "key": "to-pack",
            "title": "Picked, to pack",
            "kind": "picked",
            "stage": "to-pack",
            "hint": "Items collected; check them against the list and pack.",
            "empty": "Nothing waiting at the packing table.",
            "qs": shipments([S.PICKING], ("picked_at", "id"), picked_at__isnull=False),
        },
        {
            "key": "to-ship",
            "title": "Packed, to ship",
            "kind": "packed",
            "stage": "packed",
            "hint": "Parcels ready; print the label and hand them to the carrier.",
            "empty": "No parcel is waiting for the carrier.",
            "qs": shipments([S.PACKED], ("packed_at", "id")),
        },
        {
            "key": "in-transit",
            "title": "In transit",
            "kind": "in_flight",
            "stage": "in-transit",
            "hint": "With the carrier; mark delivered when the customer has it.",
            "empty": "Nothing is on its way right now.",
            "qs": shipments(IN_FLIGHT_STATUSES, ("shipped_at", "id")),
        },
    ]
    for s in sections:
        s["count"] = s["qs"].count()
        date_field = "promised_ship_date" if s["kind"] == "orders" else "order__promised_ship_date"
        if s["kind"] != "in_flight":
            s["late_count"] = s["qs"].filter(**{f"{date_field}__lt": today}).count()
            s["today_count"] = s["qs"].filter(**{date_field: today}).count()
        else:
            s["late_count"] = s["today_count"] = 0
    by_key = {s["key"]: s for s in sections}
    tiles = [
        {
            "key": "to-pick",
            "label": "To pick",
            "count": by_key["ready"]["count"] + by_key["to-pick"]["count"],
            "note": f"{by_key['ready']['count']} ready · {by_key['to-pick']['count']} with a shipment",
        },
        {
            "key": "picking",
            "label": "Picking",
            "count": by_key["picking"]["count"],
            "note": "in totes now",
        },
        {
            "key": "to-pack",
            "label": "To pack",
            "count": by_key["to-pack"]["count"],
            "note": "picked",
        },
        {
            "key": "packed",
            "label": "Packed",
            "count": by_key["to-ship"]["count"],
            "note": "waiting for the carrier",
        },
        {
            "key": "today",
            "label": "To ship today",
            "count": sum(s["today_count"] for s in sections),
            "note": f"promised for {today:%a %d %b}",
        },
        {
            "key": "late",
            "label": "Late",
            "count": sum(s["late_count"] for s in sections),
            "note": "past the promised ship date",
            "attention": True,
        },
        {
            "key": "in-transit",
            "label": "In transit",
            "count": by_key["in-transit"]["count"],
            "note": "with the carrier",
        },
    ]
    shown = sections
    if view in ("today", "late"):
        shown = [s for s in sections if s["kind"] != "in_flight" and s[f"{view}_count"]]
        for s in shown:
            date_field = (
                "promised_ship_date" if s["kind"] == "orders" else "order__promised_ship_date"
            )
            lookup = f"{date_field}__lt" if view == "late" else date_field
            s["qs"] = s["qs"].filter(**{lookup: today})
            s["count"] = s[f"{view}_count"]
    elif view == "packed":
        shown = [by_key["to-ship"]]
    elif view:
        shown = [s for s in sections if s["stage"] == view] or sections
    for s in shown:
        s["rows"] = list(s["qs"][:SECTION_LIMIT])
        s["truncated"] = s["count"] > len(s["rows"])
        s["exceptions"] = sum(1 for r in s["rows"] if getattr(r, "status", "") == S.EXCEPTION)
        for r in s["rows"]:
            order = r if s["kind"] == "orders" else r.order
            r.late = s["kind"] != "in_flight" and bool(
                order.promised_ship_date and order.promised_ship_date < today
            )
            r.due_today = order.promised_ship_date == today
            r.carrier_shown = getattr(r, "carrier", None) or mapping.get(
                (order.shipping_method or "").lower()
            )
    context.update(
        {
            "sections": shown,
            "all_sections": sections,
            "tiles": tiles,
            "filtered": bool(carrier_code or method or q),
            "printable": any(s["kind"] != "orders" and s["rows"] for s in shown),
        }
    )
    return TemplateResponse(request, "fulfillment/queue.html", context)


@staff_required
@require_POST
def create_shipments(request, number):
    order = get_object_or_404(Order.objects.visible_to(request.user), number=number)
    back = _safe_next(request)
    try:
        created = shipments_create(order=order, actor=request.user)
    except DomainError as exc:
        flash_domain_error(request, exc)
        return redirect(back or order.get_absolute_url())
    units = {
        s.pk: u for s, u in ((s, s.lines.aggregate(u=Sum("quantity"))["u"] or 0) for s in created)
    }
    if len(created) == 1:
        s = created[0]
        messages.success(
            request,
            f"Shipment {s.number} created in {s.warehouse.code} for {units[s.pk]} unit(s). "
            "Print the pick list and collect the items.",
        )
    else:
        listed = ", ".join(
            f"{s.number} ({s.warehouse.code}, {units[s.pk]} unit(s))" for s in created
        )
        messages.success(
            request,
            f"{len(created)} shipments created, one per warehouse: {listed}. Showing the first.",
        )
    return redirect(created[0].get_absolute_url())


# ---------------------------------------------------------------- one shipment


def _shipment_or_404(request, number) -> Shipment:
    qs = Shipment.objects.filter(order__in=Order.objects.visible_to(request.user)).select_related(
        "order", "order__customer", "order__channel", "warehouse", "carrier", "created_by"
    )
    return get_object_or_404(qs, number=number)


def _steps(shipment: Shipment) -> list[dict]:
    steps = [
        ("Created", shipment.created_at),
        ("Picked", shipment.picked_at),
        ("Packed", shipment.packed_at),
        ("Shipped", shipment.shipped_at),
        ("Delivered", shipment.delivered_at),
    ]
    last_done = max(i for i, (_, at) in enumerate(steps) if at or i == 0)
    return [
        {"label": label, "at": at, "done": i <= last_done, "current": i == last_done}
        for i, (label, at) in enumerate(steps)
    ]


def _template_exists(name: str) -> bool:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return False
    return True


def _shipping_context(shipment: Shipment) -> dict:
    """Rates, the preselected option, the address check and the late flag of a shipment."""
    from ..rates import NoRateAvailable, format_weight, rate_select, shipment_weights
    from ..shipping import shipment_address_check, shipment_rates

    order = shipment.order
    ctx: dict = {
        "parcels": list(shipment.parcels.all()),
        "has_label": bool(shipment.label),
        "late": bool(
            order.promised_ship_date
            and order.promised_ship_date < timezone.localdate()
            and shipment.status in (S.PENDING, S.PICKING, S.PACKED)
        ),
        "rate_options": [],
        "rate_error": "",
        "rate_selected": "",
        "rate_selected_note": "",
        "address_problems": [],
    }
    if shipment.status not in (S.PENDING, S.PICKING, S.PACKED):
        return ctx
    weights = shipment_weights(shipment)
    ctx["weights"] = [format_weight(g) for g in weights]
    ctx["weight_total"] = format_weight(sum(weights))
    ctx["address_problems"] = [
        m for msgs in shipment_address_check(shipment).errors.values() for m in msgs
    ]
    try:
        options = shipment_rates(shipment=shipment)
    except NoRateAvailable as exc:
        ctx["rate_error"] = exc.message
        return ctx
    ctx["rate_options"] = options
    try:
        ctx["rate_selected"] = rate_select(options, shipping_method=order.shipping_method).key
    except NoRateAvailable as exc:
        ctx["rate_selected"] = options[0].key
        ctx["rate_selected_note"] = exc.message
    return ctx


def _render_shipment(
    request,
    shipment: Shipment,
    *,
    ship_form=None,
    deliver_form=None,
    cancel_form=None,
    open_cancel=False,
    status=200,
):
    lines = list(
        shipment.lines.select_related("order_line__product").order_by("order_line__line_no")
    )
    events = (
        OrderEvent.objects.filter(order=shipment.order, payload__shipment=shipment.number)
        .select_related("actor")
        .order_by("created_at", "id")
    )
    can_cancel = shipment.status in (S.PENDING, S.PICKING, S.PACKED)
    return TemplateResponse(
        request,
        "fulfillment/shipment.html",
        {
            "shipment": shipment,
            "order": shipment.order,
            "lines": lines,
            "totals": {
                "quantity": sum(sl.quantity for sl in lines),
                "picked": sum(sl.quantity_picked for sl in lines),
                "packed": sum(sl.quantity_packed for sl in lines),
            },
            "steps": _steps(shipment),
            "events": events,
            "ship_form": ship_form or ShipForm(),
            "open_manual": ship_form is not None and bool(ship_form.errors),
            "deliver_form": deliver_form or DeliverForm(),
            "cancel_form": cancel_form or CancelForm(),
            "open_cancel": open_cancel or (cancel_form is not None and bool(cancel_form.errors)),
            "can_fulfil": has_role(request.user, roles.FULFIL),
            "can_pack_unchecked": has_role(request.user, roles.PACK_WITHOUT_SCAN),
            "can_deliver": has_role(request.user, roles.MARK_DELIVERED),
            "can_cancel": can_cancel,
            "can_request_return": has_role(request.user, roles.REQUEST_RETURN),
            "is_picking": shipment.status in (S.PENDING, S.PICKING),
            "in_flight": shipment.status in IN_FLIGHT_STATUSES,
            "other_shipments": shipment.order.shipments.exclude(pk=shipment.pk).select_related(
                "warehouse"
            ),
            "parcels_partial": _template_exists("fulfillment/_parcels.html"),
            "tracking_partial": _template_exists("fulfillment/_tracking_events.html"),
            **_shipping_context(shipment),
        },
        status=status,
    )


def _done(request, shipment: Shipment):
    return redirect(_safe_next(request) or shipment.get_absolute_url())


def _refused(request, shipment: Shipment, form, exc: DomainError, *, shown_while) -> bool:
    """Put a refusal on the form when the form is still on the page (its field, or above it);
    otherwise (the shipment moved on meanwhile) say it in a message. True when flashed."""
    shipment.refresh_from_db(fields=["status"])
    if exc.field is None and (shipment.status not in shown_while or _safe_next(request)):
        flash_domain_error(request, exc)
        return True
    apply_domain_error(form, exc)
    return False


@staff_required
@require_http_methods(["GET"])
def shipment_detail(request, number):
    return _render_shipment(request, _shipment_or_404(request, number))


@staff_required
@require_http_methods(["GET", "POST"])
def pick(request, number):
    shipment = _shipment_or_404(request, number)
    if request.method != "POST":
        return _render_shipment(request, shipment)
    try:
        shipment_confirm_picked(shipment=shipment, actor=request.user)
    except DomainError as exc:
        flash_domain_error(request, exc)
    else:
        messages.success(request, f"{shipment.number}: every line picked. Pack it next.")
    return _done(request, shipment)


@staff_required
@require_http_methods(["GET", "POST"])
def pack(request, number):
    shipment = _shipment_or_404(request, number)
    if request.method != "POST":
        return _render_shipment(request, shipment)
    try:
        shipment_pack_unchecked(shipment=shipment, actor=request.user)
    except DomainError as exc:
        flash_domain_error(request, exc)
    else:
        messages.success(
            request,
            f"{shipment.number} packed. Hand it to the carrier and enter the tracking number.",
        )
    return _done(request, shipment)


@staff_required
@require_http_methods(["GET", "POST"])
def ship(request, number):
    """Hand the parcel over: with a bought label one click; otherwise (a manual carrier) the
    carrier and the tracking number typed in. An invalid address holds the order instead."""
    from ..shipping import AddressInvalid, shipment_hand_over

    shipment = _shipment_or_404(request, number)
    if request.method != "POST":
        return _render_shipment(request, shipment)
    with_label = bool(shipment.tracking_number and shipment.carrier_id)
    form = ShipForm(request.POST)
    if with_label or form.is_valid():
        try:
            shipped = shipment_hand_over(
                shipment=shipment,
                carrier=None if with_label else form.cleaned_data["carrier"],
                tracking_number="" if with_label else form.cleaned_data["tracking_number"],
                actor=request.user,
            )
        except AddressInvalid as exc:
            for msgs in exc.errors.values():
                for msg in msgs:
                    messages.error(request, msg)
            return _done(request, shipment)
        except DomainError as exc:
            if with_label:
                flash_domain_error(request, exc)
                return _done(request, shipment)
            if _refused(request, shipment, form, exc, shown_while={S.PACKED}):
                return _done(request, shipment)
        else:
            expected = (
                f" Delivery expected {shipped.expected_delivery_date:%a %d %b}."
                if shipped.expected_delivery_date
                else ""
            )
            messages.success(
                request,
                f"{shipment.number} shipped with {shipped.carrier.name} "
                f"(tracking {shipped.tracking_number}).{expected} The customer gets an email.",
            )
            return _done(request, shipment)
    return _render_shipment(request, shipment, ship_form=form)


@staff_required
@require_http_methods(["GET", "POST"])
def deliver(request, number):
    shipment = _shipment_or_404(request, number)
    if request.method != "POST":
        return _render_shipment(request, shipment)
    form = DeliverForm(request.POST)
    if form.is_valid():
        try:
            shipment_mark_delivered(
                shipment=shipment, actor=request.user, note=form.cleaned_data["note"]
            )
        except DomainError as exc:
            if _refused(request, shipment, form, exc, shown_while=IN_FLIGHT_STATUSES):
                return _done(request, shipment)
        else:
            messages.success(request, f"{shipment.number} delivered. The customer has been told.")
            return _done(request, shipment)
    return _render_shipment(request, shipment, deliver_form=form)


@staff_required
@require_http_methods(["GET", "POST"])
def cancel(request, number):
    shipment = _shipment_or_404(request, number)
    if request.method != "POST":
        return _render_shipment(request, shipment, open_cancel=True)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            shipment_cancel(
                shipment=shipment, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            if _refused(request, shipment, form, exc, shown_while={S.PENDING, S.PICKING, S.PACKED}):
                return redirect(shipment.get_absolute_url())
        else:
            messages.success(
                request,
                f"{shipment.number} cancelled. Its units stay reserved for order "
                f"{shipment.order.number}; create a new shipment when it can go.",
            )
            return redirect(shipment.get_absolute_url())
    return _render_shipment(request, shipment, cancel_form=form, open_cancel=True)
