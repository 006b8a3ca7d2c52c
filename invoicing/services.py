"""Invoices, credit notes, payments and refunds; the order's payment_status is derived here."""

import functools
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from core import roles
from core.errors import DomainError
from core.money import ZERO, quantize, tax_of
from core.sequences import sequence_next
from orders.choices import (
    EventSource,
    EventType,
    HoldCode,
    NotificationKind,
    OrderStatus,
    PaymentStatus,
)
from orders.models import Order, OrderLine
from orders.services import notification_queue, order_event_add, order_recompute, order_release

from .choices import DocumentStatus, PaymentMethod
from .models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, Payment, Refund
from .selectors import order_paid_and_refunded


def _bill_to(order: Order) -> str:
    return "\n".join(order.shipping_address_lines)


def _next_number(prefix: str) -> str:
    year = timezone.now().year
    return f"{prefix}-{year}-{sequence_next(name=f'{prefix.lower()}-{year}'):06d}"


def _schedule_render(doc) -> None:
    from .tasks import render_document

    kind = "invoice" if isinstance(doc, Invoice) else "credit_note"
    transaction.on_commit(functools.partial(render_document.delay, kind, doc.pk))


@transaction.atomic
def invoice_issue(*, order: Order, actor, source: str = EventSource.STAFF) -> Invoice:
    """Issue the order's invoice with the next gapless number. An order has one invoice;
    asking again returns it."""
    if source == EventSource.STAFF:
        roles.check_role(actor, roles.ISSUE_INVOICE)
    order = Order.objects.select_for_update().get(pk=order.pk)
    existing = order.invoices.first()
    if existing:
        return existing
    if order.status == OrderStatus.CANCELLED:
        raise DomainError("A cancelled order is not invoiced.")
    lines = list(order.lines.all())
    invoice = Invoice.objects.create(
        number=_next_number("INV"), order=order, issued_at=timezone.now(), currency=order.currency,
        bill_to=_bill_to(order), customer_email=order.email, subtotal=order.subtotal,
        tax_total=order.tax_total, shipping_total=order.shipping_total, total=order.total,
        issued_by=actor if getattr(actor, "pk", None) else None,
    )
    InvoiceLine.objects.bulk_create([
        InvoiceLine(invoice=invoice, order_line=ln, sku=ln.sku, name=ln.name, quantity=ln.quantity_effective,
                    unit_price=ln.unit_price, tax_rate=ln.tax_rate, net=ln.net_total, tax=ln.tax_total,
                    gross=ln.gross_total)
        for ln in lines
        if ln.quantity_effective
    ])
    order_event_add(order=order, type=EventType.INVOICE_ISSUED, actor=actor, source=source,
                    message=f"Invoice {invoice.number} issued for {invoice.total} {invoice.currency}.",
                    customer_message=f"Invoice {invoice.number} is available.",
                    payload={"invoice": invoice.number})
    _schedule_render(invoice)
    return invoice


@transaction.atomic
def credit_note_issue(*, order: Order, quantities: dict[int, int], reason: str, actor, reference: str = "",
                      include_shipping: bool = False, source: str = EventSource.STAFF) -> CreditNote:
    """Credit returned (or otherwise refunded) units against the order's invoice."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    invoice = order.invoices.first()
    if invoice is None:
        raise DomainError("The order has no invoice to credit yet. Issue the invoice first.")
    if reference and CreditNote.objects.filter(reference=reference).exists():
        return CreditNote.objects.get(reference=reference)
    lines = {ln.pk: ln for ln in OrderLine.objects.filter(order=order, pk__in=list(quantities))}
    credited = dict(
        CreditNoteLine.objects.filter(credit_note__order=order)
        .values("order_line").annotate(q=Sum("quantity")).values_list("order_line", "q")
    )
    doc_lines = []
    subtotal = tax_total = ZERO
    for line_id, qty in quantities.items():
        ln = lines.get(line_id)
        if ln is None:
            raise DomainError("A line does not belong to this order.")
        if qty <= 0 or qty + credited.get(line_id, 0) > ln.quantity:
            raise DomainError(f"Line {ln.line_no} ({ln.sku}): cannot credit {qty}.")
        net = quantize(ln.unit_price * qty)
        tax = tax_of(net, ln.tax_rate)
        subtotal += net
        tax_total += tax
        doc_lines.append(CreditNoteLine(order_line=ln, sku=ln.sku, name=ln.name, quantity=qty,
                                        unit_price=ln.unit_price, tax_rate=ln.tax_rate, net=net, tax=tax,
                                        gross=net + tax))
    shipping = order.shipping_total if include_shipping else ZERO
    note = CreditNote.objects.create(
        number=_next_number("CN"), order=order, invoice=invoice, issued_at=timezone.now(),
        currency=order.currency, bill_to=invoice.bill_to, customer_email=order.email, subtotal=subtotal,
        tax_total=tax_total, shipping_total=shipping, total=subtotal + tax_total + shipping,
        reason=reason, reference=reference, issued_by=actor if getattr(actor, "pk", None) else None,
    )
    for dl in doc_lines:
        dl.credit_note = note
    CreditNoteLine.objects.bulk_create(doc_lines)
    order_event_add(order=order, type=EventType.CREDIT_NOTE_ISSUED, actor=actor, source=source,
                    message=f"Credit note {note.number} issued for {note.total} {note.currency}: {reason}.",
                    customer_message=f"Credit note {note.number} is available.",
                    payload={"credit_note": note.number, "invoice": invoice.number})
    _schedule_render(note)
    return note


def payment_status_recompute(*, order: Order) -> Order:
    """Derive payment_status from payments and refunds, under the order's row lock."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    paid, refunded = order_paid_and_refunded(order=locked)
    if refunded > 0:
        status = PaymentStatus.REFUNDED if refunded >= paid else PaymentStatus.PARTIALLY_REFUNDED
    elif paid > 0 and paid >= locked.total:
        status = PaymentStatus.PAID
    elif paid > 0:
        status = PaymentStatus.PARTIALLY_PAID
    else:
        status = PaymentStatus.UNPAID
    if status != locked.payment_status:
        locked.payment_status = status
        locked.save(update_fields=["payment_status", "updated_at"])
    order.payment_status = status
    if status == PaymentStatus.PAID and locked.status == OrderStatus.ON_HOLD and locked.hold_code == HoldCode.PAYMENT:
        order_release(order=order, actor=None, source=EventSource.SYSTEM)
    return order_recompute(order=order)


@transaction.atomic
def payment_record(*, order: Order, amount: Decimal, method: str, actor, reference: str = "",
                   source: str = EventSource.STAFF) -> Payment:
    if source == EventSource.STAFF:
        roles.check_role(actor, roles.RECORD_PAYMENT)
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.status == OrderStatus.CANCELLED:
        raise DomainError("The order is cancelled; no payment can be taken.")
    if method not in PaymentMethod.values:
        raise DomainError("Choose how the customer paid.", field="method")
    amount = quantize(amount) if amount is not None else None
    if amount is None or amount <= 0:
        raise DomainError("Enter an amount greater than zero.", field="amount")
    paid, _ = order_paid_and_refunded(order=locked)
    outstanding = locked.total - paid
    if amount > outstanding:
        raise DomainError(f"Only {outstanding} {locked.currency} is outstanding.", field="amount")
    payment = Payment.objects.create(order=locked, amount=amount, method=method, reference=reference.strip(),
                                     received_at=timezone.now(),
                                     recorded_by=actor if getattr(actor, "pk", None) else None)
    order_event_add(order=locked, type=EventType.PAYMENT_RECORDED, actor=actor, source=source,
                    message=f"Payment of {amount} {locked.currency} recorded ({payment.get_method_display()}).",
                    customer_message="Payment received. Thank you!",
                    payload={"payment": payment.pk, "amount": str(amount)})
    payment_status_recompute(order=order)
    return payment


@transaction.atomic
def refund_record(*, order: Order, amount: Decimal, actor, credit_note: CreditNote | None = None,
                  method: str = "", reference: str = "", source: str = EventSource.STAFF) -> Refund:
    """Money goes back to the customer. Only finance and managers may refund."""
    roles.check_role(actor, roles.REFUND, "Only Finance or a Manager may issue refunds.")
    locked = Order.objects.select_for_update().get(pk=order.pk)
    amount = quantize(amount) if amount is not None else None
    if amount is None or amount <= 0:
        raise DomainError("Enter an amount greater than zero.", field="amount")
    paid, refunded = order_paid_and_refunded(order=locked)
    if amount > paid - refunded:
        raise DomainError(f"Only {paid - refunded} {locked.currency} was paid and not yet refunded.", field="amount")
    if not method:
        last = locked.payments.order_by("-received_at").first()
        method = last.method if last else PaymentMethod.BANK_TRANSFER
    refund = Refund.objects.create(order=locked, amount=amount, credit_note=credit_note, method=method,
                                   reference=reference, refunded_at=timezone.now(),
                                   refunded_by=actor if getattr(actor, "pk", None) else None)
    order_event_add(order=locked, type=EventType.REFUNDED, actor=actor, source=source,
                    message=f"Refunded {amount} {locked.currency}"
                    + (f" against {credit_note.number}." if credit_note else "."),
                    customer_message=f"Refund of {amount} {locked.currency} issued.",
                    payload={"refund": refund.pk, "amount": str(amount)})
    notification_queue(order=locked, kind=NotificationKind.REFUND_ISSUED, key=str(refund.pk),
                       payload={"amount": str(amount), "credit_note": credit_note.number if credit_note else ""})
    payment_status_recompute(order=order)
    return refund


DOCUMENT_MAX_ATTEMPTS = 5


def _document_model(kind: str):
    return Invoice if kind == "invoice" else CreditNote


def document_render(*, kind: str, pk: int):
    """Render a document's PDF once; a rendered document is left alone.

    A failure is recorded outside the rendering transaction (which rolls back); after
    DOCUMENT_MAX_ATTEMPTS the document is marked failed for staff to look at."""
    from .pdf import render_pdf

    model = _document_model(kind)
    try:
        with transaction.atomic():
            doc = model.objects.select_for_update().filter(pk=pk).first()
            if doc is None or doc.pdf_status == DocumentStatus.RENDERED:
                return doc
            content = render_pdf(doc)
            doc.pdf.save(f"{doc.number}.pdf", ContentFile(content), save=False)
            doc.pdf_status = DocumentStatus.RENDERED
            doc.pdf_error = ""
            doc.pdf_attempts = F("pdf_attempts") + 1
            doc.save(update_fields=["pdf", "pdf_status", "pdf_error", "pdf_attempts", "updated_at"])
            doc.refresh_from_db(fields=["pdf_attempts"])
            return doc
    except Exception as exc:
        model.objects.filter(pk=pk).exclude(pdf_status=DocumentStatus.RENDERED).update(
            pdf_attempts=F("pdf_attempts") + 1, pdf_error=f"{exc.__class__.__name__}: {exc}"[:2000],
            updated_at=timezone.now(),
        )
        model.objects.filter(pk=pk, pdf_status=DocumentStatus.PENDING, pdf_attempts__gte=DOCUMENT_MAX_ATTEMPTS).update(
            pdf_status=DocumentStatus.FAILED
        )
        raise


@transaction.atomic
def document_rerender(*, kind: str, pk: int, actor) -> None:
    """Give a failed document another go (a back-office correction)."""
    roles.check_role(actor, (roles.MANAGER, roles.FINANCE))
    model = _document_model(kind)
    model.objects.filter(pk=pk).exclude(pdf_status=DocumentStatus.RENDERED).update(
        pdf_status=DocumentStatus.PENDING, pdf_attempts=0, pdf_error=""
    )
    _schedule_render(model.objects.get(pk=pk))
