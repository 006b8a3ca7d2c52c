"""The packing station, built for a barcode scanner (it types the code and presses Enter).

One scan input, always focused. On /warehouse/pack/ the packer scans a shipment number, an
order number or a tote; on /warehouse/pack/<number>/ every item. Each POST names an `action`
(scan, undo, unscan, parcel_add, parcel_update, parcel_remove, complete) and calls one service.

Without JavaScript every POST redirects (PRG) and the result of the scan is shown from the
session. With htmx the station body is swapped in place (`pack_station.html#body`); moving to
another shipment swaps the whole station (`#station`) and pushes its URL.
"""

import uuid

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from core import roles
from core.errors import DomainError, InvalidTransition, ValidationFailed
from core.http import apply_domain_error, id_or_none
from core.roles import staff_required
from orders.models import Order

from ..choices import ShipmentStatus
from ..models import Parcel, Shipment
from ..packing import (
    PACKAGING_GRAMS,
    items_weight_grams,
    pack_complete,
    pack_find,
    pack_problems,
    pack_scan,
    pack_scan_undo,
    packing_slip_pdf,
    parcel_add,
    parcel_remove,
    parcel_update,
    parcel_weight_suggestion,
)

S = ShipmentStatus
TEMPLATE = "fulfillment/pack_station.html"
WAITING_LIMIT = 30
UNDO_DEPTH = 200


class ParcelForm(forms.Form):
    """Parsing only; what is allowed (weight > 0, dimensions >= 0) is the service's to say."""

    weight_grams = forms.IntegerField(
        label="Weight (g)",
        required=False,
        error_messages={"invalid": "Enter the weight in whole grams, e.g. 1250."},
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "1", "step": "1"}),
    )
    length_mm = forms.IntegerField(
        label="Length (mm)",
        required=False,
        error_messages={"invalid": "Enter whole millimetres (0 if not measured)."},
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "0", "step": "1"}),
    )
    width_mm = forms.IntegerField(
        label="Width (mm)",
        required=False,
        error_messages={"invalid": "Enter whole millimetres (0 if not measured)."},
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "0", "step": "1"}),
    )
    height_mm = forms.IntegerField(
        label="Height (mm)",
        required=False,
        error_messages={"invalid": "Enter whole millimetres (0 if not measured)."},
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "0", "step": "1"}),
    )

    def values(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.fields}


# ---------------------------------------------------------------- helpers


def _fragment(request) -> bool:
    return bool(request.htmx and not request.htmx.boosted)


def _visible_shipments(request):
    return Shipment.objects.filter(order__in=Order.objects.visible_to(request.user)).select_related(
        "order", "order__customer", "warehouse", "pick_list"
    )


def _undo_key(shipment: Shipment) -> str:
    return f"pack_scans:{shipment.number}"


def _feedback(kind: str, title: str, detail: str = "", **extra) -> dict:
    """What the big banner says after an action. `id` lets the page beep once per result."""
    return {"kind": kind, "title": title, "detail": detail, "id": uuid.uuid4().hex[:12], **extra}


def _store_feedback(request, feedback: dict | None) -> None:
    if feedback:
        request.session["pack_feedback"] = feedback


def _pop_feedback(request) -> dict | None:
    return request.session.pop("pack_feedback", None)


def _scan_feedback(result) -> dict:
    if result.units_left == 0:
        return _feedback(
            "done",
            f"{result.name} — every unit scanned",
            "All items are in. Add the parcel's weight, then complete.",
            line=result.line.pk,
        )
    if result.line_left == 0:
        detail = f"Line complete ({result.packed} of {result.picked}). {result.units_left} unit{'s' if result.units_left != 1 else ''} left in the shipment."
    else:
        detail = f"{result.packed} of {result.picked} packed, {result.line_left} more of this. {result.units_left} unit{'s' if result.units_left != 1 else ''} left in the shipment."
    return _feedback("ok", f"{result.name} ({result.sku})", detail, line=result.line.pk)


def _error_title(exc: DomainError) -> str:
    return {
        "wrong_item": "Wrong item",
        "unknown_item": "Unknown code",
        "extra_unit": "Extra item",
        "not_picked": "Not picked",
        "invalid_transition": "Cannot pack",
        "forbidden": "Not allowed",
    }.get(exc.code, "Refused")


def _lines(shipment: Shipment) -> list[dict]:
    rows = []
    for sl in shipment.lines.select_related("order_line__product").order_by("order_line__line_no"):
        rows.append(
            {
                "sl": sl,
                "sku": sl.order_line.sku,
                "name": sl.order_line.name,
                "barcode": sl.order_line.product.barcode,
                "left": max(sl.quantity_picked - sl.quantity_packed, 0),
                "done": sl.quantity_picked > 0 and sl.quantity_packed >= sl.quantity_picked,
                "short": sl.quantity - sl.quantity_picked,
            }
        )
    return rows


def _context(
    request, shipment: Shipment | None, *, feedback=None, add_form=None, edit_forms=None
) -> dict:
    context = {
        "shipment": shipment,
        "feedback": feedback,
        "can_fulfil": roles.has_role(request.user, roles.FULFIL),
        "action_url": reverse("fulfillment:pack_shipment", args=[shipment.number])
        if shipment
        else reverse("fulfillment:pack_station"),
    }
    if shipment is None:
        waiting = _visible_shipments(request).filter(status=S.PICKING).order_by("picked_at", "id")
        context["waiting"] = list(waiting[:WAITING_LIMIT])
        context["waiting_count"] = waiting.count()
        return context

    lines = _lines(shipment)
    picked = sum(r["sl"].quantity_picked for r in lines)
    packed = sum(r["sl"].quantity_packed for r in lines)
    edit_forms = edit_forms or {}
    parcels = [
        {
            "parcel": p,
            "form": edit_forms.get(p.pk)
            or ParcelForm(
                prefix=f"p{p.pk}",
                initial={
                    "weight_grams": p.weight_grams,
                    "length_mm": p.length_mm,
                    "width_mm": p.width_mm,
                    "height_mm": p.height_mm,
                },
            ),
        }
        for p in shipment.parcels.order_by("number")
    ]
    suggestion = parcel_weight_suggestion(shipment=shipment)
    if add_form is None:
        add_form = ParcelForm(
            initial={"weight_grams": suggestion, "length_mm": 0, "width_mm": 0, "height_mm": 0}
        )
    packing = shipment.status == S.PICKING
    problems = pack_problems(shipment=shipment) if packing else {}
    context.update(
        {
            "lines": lines,
            "totals": {
                "picked": picked,
                "packed": packed,
                "left": max(picked - packed, 0),
                "percent": round(100 * packed / picked) if picked else 0,
            },
            "parcels": parcels,
            "parcel_total": sum(p["parcel"].weight_grams for p in parcels),
            "add_form": add_form,
            "suggestion": suggestion,
            "items_weight": items_weight_grams(shipment=shipment),
            "packaging_grams": PACKAGING_GRAMS,
            "packing": packing,
            "parcels_editable": shipment.status in (S.PENDING, S.PICKING, S.PACKED),
            "pick_problems": problems.get("pick", []),
            "ready": packing and not problems,
            "can_undo": packing and bool(request.session.get(_undo_key(shipment))),
            "last_line": (feedback or {}).get("line"),
        }
    )
    return context


def _render(request, shipment, *, fragment="body", status=200, push=False, **kwargs):
    context = _context(request, shipment, **kwargs)
    if not _fragment(request):
        return TemplateResponse(request, TEMPLATE, context, status=status)
    response = TemplateResponse(request, f"{TEMPLATE}#{fragment}", context)
    if fragment == "station":
        response["HX-Retarget"] = "#pack-station"
        response["HX-Reswap"] = "outerHTML"
    if push:
        response["HX-Push-Url"] = context["action_url"]
    return response


def _go(request, shipment: Shipment | None, feedback: dict | None):
    """After a POST: the station of `shipment` (or the start), PRG without JS, a swap with htmx."""
    if _fragment(request):
        return _render(request, shipment, fragment="station", push=True, feedback=feedback)
    _store_feedback(request, feedback)
    url = (
        reverse("fulfillment:pack_shipment", args=[shipment.number])
        if shipment
        else reverse("fulfillment:pack_station")
    )
    return redirect(url)


def _stay(request, shipment: Shipment | None, feedback: dict | None, **kwargs):
    if _fragment(request):
        return _render(request, shipment, feedback=feedback, **kwargs)
    _store_feedback(request, feedback)
    return redirect(request.path)


def _opened(shipment: Shipment) -> dict:
    if shipment.status == S.PICKING:
        return _feedback("info", f"Packing {shipment.number}", "Scan each item.")
    if shipment.status == S.PENDING:
        return _feedback(
            "warning",
            f"{shipment.number} is not picked yet",
            "Confirm the pick first; items cannot be scanned until then.",
        )
    if shipment.status == S.PACKED:
        return _feedback(
            "info",
            f"{shipment.number} is already packed",
            "You can print the slip or correct its parcels.",
        )
    return _feedback(
        "warning",
        f"{shipment.number} is {shipment.get_status_display().lower()}",
        "There is nothing to pack.",
    )


# ---------------------------------------------------------------- views


@staff_required(roles=roles.FULFIL)
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def pack_station(request):
    """The start: scan a shipment number, an order number or a tote."""
    if request.method != "POST":
        return _render(request, None, feedback=_pop_feedback(request))
    try:
        shipment = pack_find(code=request.POST.get("code", ""), user=request.user)
    except DomainError as exc:
        return _stay(request, None, _feedback("error", "Not found", exc.message))
    return _go(request, shipment, _opened(shipment))


@staff_required(roles=roles.FULFIL)
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def pack_shipment(request, number):
    shipment = get_object_or_404(_visible_shipments(request), number=number)
    if request.method != "POST":
        return _render(request, shipment, feedback=_pop_feedback(request))
    action = request.POST.get("action") or "scan"
    handler = ACTIONS.get(action)
    if handler is None:
        return _stay(
            request,
            shipment,
            _feedback("error", "Unknown action", f"“{action}” is not a packing action."),
        )
    return handler(request, shipment)


def _scan(request, shipment):
    code = request.POST.get("code", "").strip()
    if not code:
        return _stay(request, shipment, None)
    if code.casefold() == shipment.number.casefold():
        return _stay(
            request,
            shipment,
            _feedback("info", f"Already packing {shipment.number}", "Scan the items."),
        )
    try:
        result = pack_scan(shipment=shipment, code=code, actor=request.user)
    except DomainError as exc:
        if exc.code in ("unknown_item", "invalid_transition"):
            # Not an item: maybe the next shipment, order or tote.
            try:
                other = pack_find(code=code, user=request.user)
            except DomainError:
                other = None
            if other is not None and other.pk != shipment.pk:
                return _go(request, other, _opened(other))
        return _stay(
            request, shipment, _feedback("error", _error_title(exc), exc.message, code=code)
        )
    stack = request.session.get(_undo_key(shipment), [])
    request.session[_undo_key(shipment)] = [*stack, result.line.pk][-UNDO_DEPTH:]
    return _stay(request, shipment, _scan_feedback(result))


def _undo(request, shipment, line_id=None):
    stack = list(request.session.get(_undo_key(shipment), []))
    if line_id is None:
        if not stack:
            return _stay(
                request,
                shipment,
                _feedback(
                    "error",
                    "Nothing to undo",
                    "No scan of yours is left to take back here. To take one unit out, use − on its line.",
                ),
            )
        line_id = stack.pop()
    elif line_id in stack:  # the unit taken out is no longer the latest scan to undo
        stack.reverse()
        stack.remove(line_id)
        stack.reverse()
    try:
        result = pack_scan_undo(shipment=shipment, line_id=line_id, actor=request.user)
    except DomainError as exc:
        request.session[_undo_key(shipment)] = stack
        return _stay(request, shipment, _feedback("error", "Cannot undo", exc.message))
    request.session[_undo_key(shipment)] = stack
    return _stay(
        request,
        shipment,
        _feedback(
            "undo",
            f"Took back one {result.name} ({result.sku})",
            f"{result.packed} of {result.picked} packed now; take it out of the box.",
            line=result.line.pk,
        ),
    )


def _unscan(request, shipment):
    line = id_or_none(request.POST.get("line"))
    if line is None:
        return _stay(
            request,
            shipment,
            _feedback("error", "Cannot undo", "Choose a line to take a unit out of."),
        )
    return _undo(request, shipment, line)


def _parcel_add(request, shipment):
    form = ParcelForm(request.POST)
    if form.is_valid():
        try:
            parcel = parcel_add(shipment=shipment, actor=request.user, **form.values())
        except ValidationFailed as exc:
            apply_domain_error(form, exc)
        except DomainError as exc:
            return _stay(request, shipment, _feedback("error", "Parcel not added", exc.message))
        else:
            return _stay(
                request,
                shipment,
                _feedback(
                    "ok",
                    f"Parcel {parcel.number} added: {parcel.weight_grams:,} g",
                    "Complete the pack when every item is in (Ctrl+Enter)."
                    if shipment.status == S.PICKING
                    else "",
                ),
            )
    feedback = _feedback(
        "warning", "Parcel not added", "Check the fields marked in red.", form="add"
    )
    return _render(request, shipment, feedback=feedback, add_form=form)


def _parcel_of(request, shipment) -> Parcel | None:
    pid = id_or_none(request.POST.get("parcel"))
    return shipment.parcels.filter(pk=pid).first() if pid is not None else None


def _parcel_update(request, shipment):
    parcel = _parcel_of(request, shipment)
    if parcel is None:
        return _stay(
            request, shipment, _feedback("error", "Parcel not found", "It was removed meanwhile.")
        )
    form = ParcelForm(request.POST, prefix=f"p{parcel.pk}")
    if form.is_valid():
        try:
            parcel = parcel_update(parcel=parcel, actor=request.user, **form.values())
        except ValidationFailed as exc:
            apply_domain_error(form, exc)
        except DomainError as exc:
            return _stay(request, shipment, _feedback("error", "Parcel not changed", exc.message))
        else:
            return _stay(
                request,
                shipment,
                _feedback("ok", f"Parcel {parcel.number} saved: {parcel.weight_grams:,} g"),
            )
    feedback = _feedback(
        "warning",
        f"Parcel {parcel.number} not changed",
        "Check the fields marked in red.",
        form=f"p{parcel.pk}",
    )
    return _render(request, shipment, feedback=feedback, edit_forms={parcel.pk: form})


def _parcel_remove(request, shipment):
    parcel = _parcel_of(request, shipment)
    if parcel is None:
        return _stay(
            request, shipment, _feedback("error", "Parcel not found", "It was removed meanwhile.")
        )
    try:
        parcel_remove(parcel=parcel, actor=request.user)
    except DomainError as exc:
        return _stay(request, shipment, _feedback("error", "Parcel not removed", exc.message))
    return _stay(request, shipment, _feedback("undo", f"Parcel {parcel.number} removed"))


def _complete(request, shipment):
    try:
        done = pack_complete(shipment=shipment, actor=request.user)
    except ValidationFailed as exc:
        lines = [m for msgs in exc.errors.values() for m in msgs]
        return _stay(request, shipment, _feedback("error", "Not complete yet", " ".join(lines)))
    except InvalidTransition as exc:
        return _stay(request, shipment, _feedback("error", "Cannot complete", exc.message))
    except DomainError as exc:
        return _stay(request, shipment, _feedback("error", "Cannot complete", exc.message))
    request.session.pop(_undo_key(shipment), None)
    parcels = done.parcels.count()
    messages_text = f"{parcels} parcel{'s' if parcels != 1 else ''}. Print the packing slip, then scan the next shipment."
    return _go(
        request,
        None,
        _feedback(
            "done",
            f"{done.number} packed",
            messages_text,
            slip=reverse("fulfillment:packing_slip", args=[done.number]),
            shipment=done.number,
            shipment_url=done.get_absolute_url(),
        ),
    )


ACTIONS = {
    "scan": _scan,
    "undo": _undo,
    "unscan": _unscan,
    "parcel_add": _parcel_add,
    "parcel_update": _parcel_update,
    "parcel_remove": _parcel_remove,
    "complete": _complete,
}


@staff_required
@require_GET
def packing_slip(request, number):
    """The packing slip as a PDF, to print at the packing table and put in the box."""
    shipment = get_object_or_404(_visible_shipments(request), number=number)
    if shipment.status == S.CANCELLED:
        messages.error(
            request, f"Shipment {shipment.number} was cancelled; it has no packing slip."
        )
        return redirect(shipment.get_absolute_url())
    pdf = packing_slip_pdf([shipment])
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="packing-slip-{shipment.number}.pdf"'
    return response
