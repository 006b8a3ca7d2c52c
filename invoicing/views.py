"""Staff screens for invoices, credit notes and payments."""

import logging

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from core import roles
from core.errors import DomainError
from core.http import apply_domain_error, flash_domain_error
from core.money import ZERO, format_money, quantize
from core.roles import staff_required
from orders.choices import OrderStatus, PaymentStatus
from orders.models import Order

from . import selectors, services
from .choices import DocumentStatus
from .forms import PaymentForm
from .models import CreditNote, Invoice, Payment
from .pdf import render_pdf

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
UNPAID_STATUSES = (PaymentStatus.UNPAID, PaymentStatus.AUTHORIZED, PaymentStatus.PARTIALLY_PAID)
MONEY = DecimalField(max_digits=12, decimal_places=2)


def _paid_for_order():
    """Sum of the payments of each row's order (a subquery: no join fan-out)."""
    paid = (
        Payment.objects.filter(order=OuterRef("order"))
        .values("order")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    return Coalesce(Subquery(paid, output_field=MONEY), Value(ZERO), output_field=MONEY)


def _visible_orders(user):
    return Order.objects.visible_to(user)


# ------------------------------------------------------------------ list

VIEWS = {
    "invoices": "Invoices",
    "unpaid": "Unpaid",
    "credit-notes": "Credit notes",
}


@vary_on_headers("HX-Request")
@staff_required
def document_list(request):
    """Invoices and credit notes: search by document or order number, quick views."""
    view = request.GET.get("view") or "invoices"
    if view not in VIEWS:
        view = "invoices"
    q = (request.GET.get("q") or "").strip()

    invoices = selectors.invoice_list(user=request.user, search=q)
    unpaid = invoices.filter(order__payment_status__in=UNPAID_STATUSES).exclude(
        order__status=OrderStatus.CANCELLED
    )
    notes = selectors.credit_note_list(user=request.user)
    if q:
        notes = notes.filter(
            Q(number__icontains=q) | Q(order__number__icontains=q) | Q(invoice__number__icontains=q)
        )
    notes = notes.order_by("-issued_at", "-id")

    counts = {"invoices": invoices.count(), "unpaid": unpaid.count(), "credit-notes": notes.count()}
    if view == "credit-notes":
        rows = notes.select_related("order__customer", "invoice")
    else:
        rows = (unpaid if view == "unpaid" else invoices).select_related("order__customer")
        rows = rows.annotate(paid=_paid_for_order()).annotate(
            outstanding=ExpressionWrapper(F("total") - F("paid"), output_field=MONEY)
        )
    outstanding_totals = []
    if view == "unpaid":
        outstanding_totals = list(
            rows.order_by()
            .values("currency")
            .annotate(total=Sum("outstanding"))
            .order_by("currency")
        )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))

    context = {
        "view": view,
        "views": [(key, label, counts[key]) for key, label in VIEWS.items()],
        "q": q,
        "page": page,
        "rows": page.object_list,
        "is_credit_notes": view == "credit-notes",
        "outstanding_totals": outstanding_totals,
    }
    template = "invoicing/list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return TemplateResponse(request, template, context)


# ------------------------------------------------------------------ PDFs


def _serve_pdf(request, doc, kind: str):
    """Stream the stored PDF. If the worker has not rendered it yet, render it now, so
    staff never meet a broken link."""
    if doc.pdf_status != DocumentStatus.RENDERED or not doc.pdf:
        try:
            doc = services.document_render(kind=kind, pk=doc.pk) or doc
        except Exception:
            logger.exception("Rendering %s %s failed", kind, doc.number)
            response = TemplateResponse(
                request, "invoicing/pdf_unavailable.html", {"doc": doc, "kind": kind}, status=503
            )
            response["Retry-After"] = "30"
            return response
    filename = f"{doc.number}.pdf"
    try:
        handle = doc.pdf.open("rb")
    except (FileNotFoundError, ValueError):
        # The stored file went missing (e.g. a wiped media volume): the snapshot can
        # always be rendered again, identically.
        logger.warning("Stored PDF of %s is missing; rendering it on the fly", doc.number)
        response = HttpResponse(render_pdf(doc), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{filename}"'
        return response
    response = FileResponse(handle, content_type="application/pdf", filename=filename)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=300"
    return response


@staff_required
def invoice_pdf(request, number):
    doc = get_object_or_404(
        Invoice.objects.filter(order__in=_visible_orders(request.user)).select_related("order"),
        number=number,
    )
    return _serve_pdf(request, doc, "invoice")


@staff_required
def credit_note_pdf(request, number):
    doc = get_object_or_404(
        CreditNote.objects.filter(order__in=_visible_orders(request.user)).select_related(
            "order", "invoice"
        ),
        number=number,
    )
    return _serve_pdf(request, doc, "credit_note")


# ------------------------------------------------------------------ actions


@require_POST
@staff_required(roles=roles.ISSUE_INVOICE)
def issue(request, number):
    order = get_object_or_404(_visible_orders(request.user), number=number)
    existing = order.invoices.first()
    try:
        invoice = services.invoice_issue(order=order, actor=request.user)
    except DomainError as exc:
        flash_domain_error(request, exc)
    else:
        if existing:
            messages.info(request, f"Invoice {invoice.number} was already issued for this order.")
        else:
            messages.success(
                request, f"Invoice {invoice.number} issued. The PDF is ready in a moment."
            )
    return redirect("orders:detail", number=order.number)


@staff_required(roles=roles.RECORD_PAYMENT)
def record_payment(request, number):
    order = get_object_or_404(
        _visible_orders(request.user).select_related("customer"), number=number
    )
    paid, refunded = (quantize(v) for v in selectors.order_paid_and_refunded(order=order))
    outstanding = max(order.total - paid, ZERO)

    if request.method == "POST":
        form = PaymentForm(request.POST, currency=order.currency)
        if form.is_valid():
            try:
                payment = services.payment_record(
                    order=order,
                    amount=form.cleaned_data["amount"],
                    method=form.cleaned_data["method"],
                    reference=form.cleaned_data["reference"],
                    actor=request.user,
                )
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    f"Payment of {format_money(payment.amount, order.currency)} recorded "
                    f"({payment.get_method_display().lower()}).",
                )
                return redirect("orders:detail", number=order.number)
    else:
        form = PaymentForm(
            initial={"amount": outstanding if outstanding > 0 else None}, currency=order.currency
        )

    context = {
        "order": order,
        "form": form,
        "paid": paid,
        "refunded": refunded,
        "outstanding": outstanding,
        "payments": order.payments.select_related("recorded_by").order_by("-received_at"),
        "invoice": order.invoices.first(),
        "can_pay": outstanding > 0 and order.status != OrderStatus.CANCELLED,
    }
    return TemplateResponse(request, "invoicing/record_payment.html", context)
