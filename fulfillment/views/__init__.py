"""The warehouse screens: the work queue, a shipment with its next step, and the actions
(pick, pack, ship, deliver, cancel). Each POST calls one service and redirects (PRG)."""

from django.contrib import messages
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from core import roles
from core.errors import DomainError
from core.http import apply_domain_error, flash_domain_error
from core.roles import has_role, staff_required
from inventory.models import Warehouse
from orders.models import Order, OrderEvent, OrderLine

from ..choices import IN_FLIGHT_STATUSES, ShipmentStatus
from ..forms import CancelForm, DeliverForm, ShipForm
from ..models import Shipment
from ..selectors import orders_ready_to_pick, shipments_by_status
from ..services import (
    shipment_cancel,
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_mark_delivered,
    shipment_ship,
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
    warehouses = list(Warehouse.objects.filter(active=True).order_by("priority", "code"))
    code = request.GET.get("warehouse", "")
    warehouse = next((w for w in warehouses if w.code == code), None)

    lines = OrderLine.objects.filter(order=OuterRef("pk")).order_by().values("order")
    ready = orders_ready_to_pick(user=request.user, warehouse=warehouse).annotate(
        line_count=Subquery(lines.annotate(c=Count("pk")).values("c"), output_field=IntegerField()),
        units_reserved=Coalesce(
            Subquery(
                lines.annotate(s=Sum("quantity_reserved")).values("s"), output_field=IntegerField()
            ),
            0,
        ),
        units_open=Coalesce(
            Subquery(lines.annotate(s=Sum("quantity")).values("s"), output_field=IntegerField()), 0
        ),
    )

    def shipments(statuses, order_by):
        qs = shipments_by_status(user=request.user, statuses=statuses, warehouse=warehouse)
        return _units(qs.select_related("order__customer")).order_by(*order_by)

    sections = [
        {
            "key": "ready",
            "title": "Ready to pick",
            "kind": "orders",
            "hint": "Open orders with reserved stock and no shipment yet.",
            "empty": "No order is waiting. New orders with reserved stock appear here.",
            "qs": ready,
        },
        {
            "key": "to-pick",
            "title": "To pick",
            "kind": "pending",
            "hint": "Shipments created; print the pick list and collect the items.",
            "empty": "Nothing to pick. Create a shipment from “Ready to pick”.",
            "qs": shipments([S.PENDING], ["created_at", "id"]),
        },
        {
            "key": "to-pack",
            "title": "Picked, to pack",
            "kind": "picking",
            "hint": "Items collected; check them against the list and pack.",
            "empty": "Nothing waiting at the packing table.",
            "qs": shipments([S.PICKING], ["picked_at", "id"]),
        },
        {
            "key": "to-ship",
            "title": "Packed, to ship",
            "kind": "packed",
            "hint": "Parcels ready; enter the carrier and tracking number when handed over.",
            "empty": "No parcel is waiting for the carrier.",
            "qs": shipments([S.PACKED], ["packed_at", "id"]),
        },
        {
            "key": "in-transit",
            "title": "In transit",
            "kind": "in_flight",
            "hint": "With the carrier; mark delivered when the customer has it.",
            "empty": "Nothing is on its way right now.",
            "qs": shipments(IN_FLIGHT_STATUSES, ["shipped_at", "id"]),
        },
    ]
    for section in sections:
        section["count"] = section["qs"].count()
        section["rows"] = list(section["qs"][:SECTION_LIMIT])
        section["truncated"] = section["count"] > len(section["rows"])
        section["exceptions"] = sum(
            1 for r in section["rows"] if getattr(r, "status", "") == S.EXCEPTION
        )

    return TemplateResponse(
        request,
        "fulfillment/queue.html",
        {
            "warehouses": warehouses,
            "warehouse": warehouse,
            "sections": sections,
            "can_fulfil": has_role(request.user, roles.FULFIL),
            "can_deliver": has_role(request.user, roles.MARK_DELIVERED),
            "can_place": has_role(request.user, roles.PLACE_ORDER),
            "limit": SECTION_LIMIT,
        },
    )


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
            "deliver_form": deliver_form or DeliverForm(),
            "cancel_form": cancel_form or CancelForm(),
            "open_cancel": open_cancel or (cancel_form is not None and bool(cancel_form.errors)),
            "can_fulfil": has_role(request.user, roles.FULFIL),
            "can_deliver": has_role(request.user, roles.MARK_DELIVERED),
            "can_cancel": can_cancel,
            "can_request_return": has_role(request.user, roles.REQUEST_RETURN),
            "is_picking": shipment.status in (S.PENDING, S.PICKING),
            "in_flight": shipment.status in IN_FLIGHT_STATUSES,
            "other_shipments": shipment.order.shipments.exclude(pk=shipment.pk).select_related(
                "warehouse"
            ),
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
        shipment_confirm_packed(shipment=shipment, actor=request.user)
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
    shipment = _shipment_or_404(request, number)
    if request.method != "POST":
        return _render_shipment(request, shipment)
    form = ShipForm(request.POST)
    if form.is_valid():
        try:
            shipment_ship(
                shipment=shipment,
                carrier=form.cleaned_data["carrier"],
                tracking_number=form.cleaned_data["tracking_number"],
                actor=request.user,
            )
        except DomainError as exc:
            if _refused(request, shipment, form, exc, shown_while={S.PACKED}):
                return _done(request, shipment)
        else:
            carrier = form.cleaned_data["carrier"]
            messages.success(
                request,
                f"{shipment.number} shipped with {carrier.name} "
                f"(tracking {form.cleaned_data['tracking_number'].strip()}). The customer gets an email.",
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
