"""Pick lists on screen: make one from the ready orders of a warehouse, walk it bin by bin,
confirm lines or report a short pick, print it (PDF). And the bulk print of the queue."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from core import roles
from core.errors import DomainError, ValidationFailed
from core.http import flash_domain_error, id_or_none
from core.roles import staff_required
from inventory.models import Warehouse
from orders.models import Order

from ..choices import PickListStatus
from ..documents import PRINT_PARTS, bulk_print_pdf, pick_list_context, pick_list_pdf
from ..models import Carrier, PickList, Shipment
from ..picking import (
    DEFAULT_LIMIT,
    MAX_ORDERS,
    pick_line_short,
    pick_lines_confirm,
    pick_list_create,
)
from ..selectors import PICK_PRIORITIES, pick_candidates, pick_lists_for


def warehouse_from(request) -> tuple[list[Warehouse], Warehouse | None]:
    """The active warehouses, and the one chosen with ?warehouse=CODE (default: the first)."""
    warehouses = list(Warehouse.objects.filter(active=True).order_by("priority", "code"))
    code = (request.GET.get("warehouse") or request.POST.get("warehouse") or "").strip()
    chosen = next((w for w in warehouses if w.code.lower() == code.lower()), None)
    return warehouses, chosen or (warehouses[0] if warehouses else None)


def shipping_methods() -> list[str]:
    """The shipping methods orders use, for the filter menus (most used first)."""
    from django.db.models import Count

    rows = (
        Order.objects.exclude(shipping_method="")
        .values("shipping_method")
        .annotate(n=Count("pk"))
        .order_by("-n", "shipping_method")[:20]
    )
    return [r["shipping_method"] for r in rows]


def _form_values(data) -> dict:
    return {
        "carrier": (data.get("carrier") or "").strip(),
        "shipping_method": (data.get("shipping_method") or "").strip(),
        "single_line": data.get("single_line") in ("1", "on", "true"),
        "priority": (data.get("priority") or "promised").strip(),
        "limit": (data.get("limit") or str(DEFAULT_LIMIT)).strip(),
    }


@staff_required(roles=roles.FULFIL)
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def pick_lists(request):
    warehouses, warehouse = warehouse_from(request)
    if warehouse is None:
        messages.info(request, "Add an active warehouse first: pick lists are made per warehouse.")
        return redirect("fulfillment:queue")
    values = _form_values(request.POST if request.method == "POST" else request.GET)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        filters = {k: values[k] for k in ("carrier", "shipping_method", "single_line", "priority")}
        try:
            pl = pick_list_create(
                warehouse=warehouse, filters=filters, limit=values["limit"], actor=request.user
            )
        except ValidationFailed as exc:
            errors = exc.errors
        except DomainError as exc:
            errors = {"form": [exc.message]}
        else:
            count = pl.shipments.count()
            messages.success(
                request,
                f"Pick list {pl.number}: {count} order{'s' if count != 1 else ''} "
                f"in totes T1–T{count}. Print it or pick on screen.",
            )
            return redirect(pl.get_absolute_url())
    preview_filters = {
        k: values[k] for k in ("carrier", "shipping_method", "single_line", "priority")
    }
    if preview_filters["priority"] not in PICK_PRIORITIES:
        preview_filters["priority"] = "promised"
    candidates = pick_candidates(user=request.user, warehouse=warehouse, filters=preview_filters)
    context = {
        "warehouses": warehouses,
        "warehouse": warehouse,
        "values": values,
        "errors": errors,
        "ready_count": candidates.count(),
        "carriers": Carrier.objects.filter(active=True).order_by("name"),
        "methods": shipping_methods(),
        "priorities": PICK_PRIORITIES,
        "max_orders": MAX_ORDERS,
        "open_lists": pick_lists_for(
            user=request.user, warehouse=warehouse, statuses=[PickListStatus.OPEN]
        ),
        "done_lists": pick_lists_for(
            user=request.user,
            warehouse=warehouse,
            statuses=[PickListStatus.COMPLETED, PickListStatus.CANCELLED],
        )[:15],
        "tab": "pick_lists",
    }
    if request.htmx and not request.htmx.boosted and request.GET.get("preview"):
        return TemplateResponse(request, "fulfillment/pick_lists.html#preview", context)
    return TemplateResponse(
        request, "fulfillment/pick_lists.html", context, status=400 if errors else 200
    )


def _pick_list_or_404(number) -> PickList:
    return get_object_or_404(
        PickList.objects.select_related("warehouse", "created_by"), number=number
    )


def _row_number(raw) -> int | None:
    return id_or_none((raw or "").removeprefix("row-"))


def _render_pick_list(request, pl: PickList, *, error: dict | None = None, status=200):
    if error:
        error = {**error, "row": _row_number(error.get("row"))}
    context = pick_list_context(pl)
    done = sum(1 for r in context["walk"] if r["done"])
    context.update(
        {
            "warehouse": pl.warehouse,
            "done_rows": done,
            "progress": round(100 * done / len(context["walk"])) if context["walk"] else 100,
            "picked_totes": sum(1 for s in context["totes"] if s.picked_at),
            "error": error or {},
            "can_fulfil": roles.has_role(request.user, roles.FULFIL),
            "tab": "pick_lists",
        }
    )
    if request.htmx and not request.htmx.boosted:
        return TemplateResponse(request, "fulfillment/pick_list.html#walk", context, status=status)
    return TemplateResponse(request, "fulfillment/pick_list.html", context, status=status)


@staff_required(roles=roles.FULFIL)
@require_http_methods(["GET"])
@vary_on_headers("HX-Request")
def pick_list_detail(request, number):
    return _render_pick_list(request, _pick_list_or_404(number))


@staff_required(roles=roles.FULFIL)
@require_http_methods(["GET"])
def pick_list_download(request, number):
    pl = _pick_list_or_404(number)
    response = HttpResponse(pick_list_pdf(pl), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{pl.number}.pdf"'
    return response


def _line_ids(request) -> list[int]:
    return [i for i in map(id_or_none, request.POST.getlist("line")) if i is not None]


def _after_action(request, pl: PickList, *, anchor: str = ""):
    if request.htmx and not request.htmx.boosted:
        pl.refresh_from_db()
        return _render_pick_list(request, pl)
    return redirect(pl.get_absolute_url() + (f"#{anchor}" if anchor else ""))


@staff_required(roles=roles.FULFIL)
@require_POST
@vary_on_headers("HX-Request")
def pick_confirm(request, number):
    pl = _pick_list_or_404(number)
    try:
        pick_lines_confirm(pick_list=pl, line_ids=_line_ids(request), actor=request.user)
    except DomainError as exc:
        if request.htmx and not request.htmx.boosted:
            return _render_pick_list(
                request,
                pl,
                error={"row": request.POST.get("row"), "message": exc.message},
                status=409,
            )
        flash_domain_error(request, exc)
    else:
        pl.refresh_from_db()
        if pl.status == PickListStatus.COMPLETED:
            messages.success(
                request, f"Pick list {pl.number} is complete: every tote goes to packing."
            )
    return _after_action(request, pl, anchor=request.POST.get("row", ""))


@staff_required(roles=roles.FULFIL)
@require_POST
@vary_on_headers("HX-Request")
def pick_short(request, number):
    pl = _pick_list_or_404(number)
    ids = _line_ids(request)
    try:
        result = pick_line_short(
            pick_list=pl,
            line_id=ids[0] if ids else 0,
            found=request.POST.get("found"),
            actor=request.user,
        )
    except DomainError as exc:
        if request.htmx and not request.htmx.boosted:
            return _render_pick_list(
                request,
                pl,
                status=422,
                error={
                    "line": ids[0] if ids else None,
                    "row": request.POST.get("row"),
                    "message": exc.message,
                    "found": request.POST.get("found", ""),
                },
            )
        flash_domain_error(request, exc)
    else:
        where = []
        if result["moved"]:
            where.append("re-reserved in " + ", ".join(f"{c} ({u})" for c, u in result["moved"]))
        if result["backordered"]:
            where.append(f"{result['backordered']} backordered")
        messages.warning(
            request,
            f"Short pick recorded: {result['missing']} missing, "
            + " and ".join(where)
            + ". The stock is corrected and the order's timeline says why.",
        )
    return _after_action(request, pl, anchor=request.POST.get("row", ""))


@staff_required(roles=roles.FULFIL)
@require_POST
def bulk_print(request):
    numbers = [n.strip() for n in request.POST.getlist("shipment") if n.strip()]
    wanted = request.POST.getlist("parts") or ["all"]
    parts = tuple(PRINT_PARTS) if "all" in wanted else tuple(p for p in wanted if p in PRINT_PARTS)
    visible = Shipment.objects.filter(order__in=Order.objects.visible_to(request.user))
    by_number = {
        s.number: s for s in visible.filter(number__in=numbers).select_related("order", "pick_list")
    }
    shipments = [by_number[n] for n in dict.fromkeys(numbers) if n in by_number]
    back = request.POST.get("next") or reverse("fulfillment:queue")
    from django.utils.http import url_has_allowed_host_and_scheme

    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("fulfillment:queue")
    try:
        pdf, counts = bulk_print_pdf(shipments=shipments, parts=parts or ("none",))
    except DomainError as exc:
        flash_domain_error(request, exc)
        return redirect(back)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = shipments[0].number if len(shipments) == 1 else f"warehouse-print-{len(shipments)}"
    response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    if counts["missing_labels"]:
        response["X-Orderline-Missing-Labels"] = ",".join(counts["missing_labels"])
    return response
