"""Returns (RMAs): open one for an order, receive the parcel, refund it with a credit note, or
reject it. Each POST calls one service; refusals are shown next to the field or as a message."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from core import roles
from core.errors import DomainError
from core.http import apply_domain_error, flash_domain_error
from core.money import ZERO, format_money, quantize, tax_of
from core.roles import has_role, staff_required
from invoicing.selectors import order_paid_and_refunded
from orders.models import Order, OrderEvent

from .choices import ReturnStatus
from .forms import RejectForm, ReturnCreateForm, ReturnFilterForm, ReturnReceiveForm
from .models import ReturnRequest
from .selectors import return_list
from .services import (
    return_receive,
    return_refund,
    return_reject,
    return_request_create,
    returnable_quantities,
)

PAGE_SIZE = 50
R = ReturnStatus
QUICK_VIEWS = [
    ("", "All"),
    (R.REQUESTED, "To receive"),
    (R.RECEIVED, "To refund"),
    (R.REFUNDED, "Refunded"),
    (R.REJECTED, "Rejected"),
]


def _can_reject(user) -> bool:
    return has_role(user, (*roles.RECEIVE_RETURN, *roles.REQUEST_RETURN))


# ---------------------------------------------------------------- list


@staff_required
@require_http_methods(["GET"])
def list_returns(request):
    form = ReturnFilterForm(request.GET or None)
    q = status = ""
    if form.is_valid():
        q = form.cleaned_data["q"].strip()
        status = form.cleaned_data["status"]
    qs = return_list(user=request.user)
    if q:
        qs = qs.filter(
            Q(number__icontains=q)
            | Q(order__number__icontains=q)
            | Q(order__customer__name__icontains=q)
            | Q(order__email__icontains=q)
        )
    counts = dict(
        qs.order_by().values_list("status").annotate(c=Count("id")).values_list("status", "c")
    )
    if status:
        qs = qs.filter(status=status)
    qs = qs.annotate(units=Sum("lines__quantity"), units_received=Sum("lines__quantity_received"))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))

    params = request.GET.copy()
    params.pop("page", None)
    views = []
    for value, label in QUICK_VIEWS:
        p = params.copy()
        if value:
            p["status"] = value
        else:
            p.pop("status", None)
        views.append(
            {
                "label": label,
                "value": value,
                "query": p.urlencode(),
                "count": sum(counts.values()) if not value else counts.get(value, 0),
                "current": value == status,
            }
        )
    return TemplateResponse(
        request,
        "returns/list.html",
        {
            "form": form,
            "page": page,
            "rows": page.object_list,
            "views": views,
            "q": q,
            "status": status,
            "page_query": params.urlencode(),
            "filtered": bool(q or status),
        },
    )


# ---------------------------------------------------------------- create


@staff_required
@require_http_methods(["GET", "POST"])
def create(request, number):
    order = get_object_or_404(
        Order.objects.visible_to(request.user).select_related("customer"), number=number
    )
    lines = list(order.lines.order_by("line_no"))
    returnable = returnable_quantities(order=order)
    can_request = has_role(request.user, roles.REQUEST_RETURN)
    form = ReturnCreateForm(request.POST or None, lines=lines, returnable=returnable)
    if request.method == "POST" and form.is_valid():
        try:
            rma = return_request_create(
                order=order,
                quantities=form.quantities(),
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                actor=request.user,
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            count = sum(form.quantities().values())
            messages.success(
                request,
                f"Return {rma.number} opened for {count} item{'s' if count != 1 else ''}. "
                "The customer has been emailed; receive it here when the parcel arrives.",
            )
            return redirect(rma.get_absolute_url())
    not_returnable = [ln for ln in lines if ln.pk not in returnable]
    rows = [{**row, "unit_gross": _unit_gross(row["line"])} for row in form.line_rows()]
    return TemplateResponse(
        request,
        "returns/create.html",
        {
            "order": order,
            "form": form,
            "rows": rows,
            "not_returnable": not_returnable,
            "can_request": can_request,
            "open_returns": order.return_requests.filter(status__in=[R.REQUESTED, R.RECEIVED]),
        },
    )


# ---------------------------------------------------------------- one return


def _rma_or_404(request, number) -> ReturnRequest:
    qs = ReturnRequest.objects.filter(
        order__in=Order.objects.visible_to(request.user)
    ).select_related("order", "order__customer", "order__channel", "created_by")
    return get_object_or_404(qs, number=number)


def _unit_gross(line):
    net = quantize(line.unit_price)
    return net + tax_of(net, line.tax_rate)


def _credit_lines(rma: ReturnRequest):
    """Each line with what it will credit: the gross of the received units (as the credit note
    computes it: net rounded once, tax on the net)."""
    rows, total = [], ZERO
    for rl in rma.lines.select_related("order_line").order_by("order_line__line_no"):
        ln = rl.order_line
        net = quantize(ln.unit_price * rl.quantity_received)
        gross = net + tax_of(net, ln.tax_rate) if rl.quantity_received else ZERO
        rows.append({"rl": rl, "line": ln, "unit_gross": _unit_gross(ln), "credit": gross})
        total += gross
    return rows, total


def _render_detail(request, rma: ReturnRequest, *, reject_form=None, open_reject=False, status=200):
    order = rma.order
    rows, credit_total = _credit_lines(rma)
    paid, refunded = order_paid_and_refunded(order=order)
    open_balance = max(paid - refunded, ZERO)
    credit_note = order.credit_notes.filter(reference=rma.number).first()
    refund = None
    if credit_note is not None:
        refund = order.refunds.filter(credit_note=credit_note).first()
    terms = Q(payload__return=rma.number) | Q(message__contains=rma.number)
    if credit_note is not None:
        terms |= Q(message__contains=credit_note.number)
    events = list(
        OrderEvent.objects.filter(order=order)
        .filter(terms)
        .select_related("actor")
        .order_by("created_at", "id")
    )
    prefix = f"Return {rma.number} rejected: "
    rejection = next((e.message[len(prefix) :] for e in events if e.message.startswith(prefix)), "")
    return TemplateResponse(
        request,
        "returns/detail.html",
        {
            "rma": rma,
            "order": order,
            "rows": rows,
            "units": sum(r["rl"].quantity for r in rows),
            "units_received": sum(r["rl"].quantity_received for r in rows),
            "credit_total": credit_total,
            "refund_payable": min(credit_total, open_balance),
            "paid": paid,
            "open_balance": open_balance,
            "has_invoice": order.invoices.exists(),
            "credit_note": credit_note,
            "refund": refund,
            "events": events,
            "rejection": rejection,
            "reject_form": reject_form or RejectForm(),
            "open_reject": open_reject or bool(reject_form is not None and reject_form.errors),
            "can_receive": has_role(request.user, roles.RECEIVE_RETURN),
            "can_reject": _can_reject(request.user),
            "can_refund": has_role(request.user, roles.REFUND),
        },
        status=status,
    )


@staff_required
@require_http_methods(["GET"])
def detail(request, number):
    return _render_detail(request, _rma_or_404(request, number))


@staff_required
@require_http_methods(["GET", "POST"])
def receive(request, number):
    rma = _rma_or_404(request, number)
    if rma.status != R.REQUESTED:
        messages.info(
            request,
            f"Return {rma.number} is {rma.get_status_display().lower()}; there is nothing to receive.",
        )
        return redirect(rma.get_absolute_url())
    return_lines = list(
        rma.lines.select_related("order_line__product").order_by("order_line__line_no")
    )
    form = ReturnReceiveForm(request.POST or None, return_lines=return_lines)
    if request.method == "POST" and form.is_valid():
        try:
            return_receive(
                return_request=rma,
                actor=request.user,
                restock=form.cleaned_data["restock"],
                quantities=form.quantities(),
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            count = sum(form.quantities().values())
            where = "back in stock" if form.cleaned_data["restock"] else "not restocked"
            messages.success(
                request,
                f"Return {rma.number}: {count} item{'s' if count != 1 else ''} received, {where}. "
                "Finance can refund it now.",
            )
            return redirect(rma.get_absolute_url())
    return TemplateResponse(
        request,
        "returns/receive.html",
        {
            "rma": rma,
            "order": rma.order,
            "form": form,
            "rows": form.line_rows(),
            "can_receive": has_role(request.user, roles.RECEIVE_RETURN),
        },
    )


@staff_required
@require_http_methods(["GET", "POST"])
def refund(request, number):
    rma = _rma_or_404(request, number)
    if request.method != "POST":
        return _render_detail(request, rma)
    try:
        done = return_refund(return_request=rma, actor=request.user)
    except DomainError as exc:
        flash_domain_error(request, exc)
        return redirect(rma.get_absolute_url())
    note = done.order.credit_notes.filter(reference=done.number).first()
    currency = done.order.currency
    if done.refund_amount:
        messages.success(
            request,
            f"Refunded {format_money(done.refund_amount, currency)} for return {done.number}. "
            f"Credit note {note.number} issued; the customer gets an email.",
        )
    else:
        messages.success(
            request,
            f"Credit note {note.number} issued for return {done.number}. "
            "Nothing was paid on the order, so nothing was paid back.",
        )
    return redirect(done.get_absolute_url())


@staff_required
@require_http_methods(["GET", "POST"])
def reject(request, number):
    rma = _rma_or_404(request, number)
    if request.method != "POST":
        return _render_detail(request, rma, open_reject=True)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            return_reject(
                return_request=rma, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            if exc.field is None:  # not allowed, or no longer possible: say so on the return's page
                flash_domain_error(request, exc)
                return redirect(rma.get_absolute_url())
            apply_domain_error(form, exc)
        else:
            messages.success(
                request,
                f"Return {rma.number} rejected. The customer sees why on their status page.",
            )
            return redirect(rma.get_absolute_url())
    return _render_detail(request, rma, reject_form=form, open_reject=True)
