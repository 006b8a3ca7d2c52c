"""Invoices, credit notes, payments and refunds; the order's payment_status is derived here."""

import functools
from dataclasses import dataclass
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
from orders.models import Order, OrderEvent, OrderLine
from orders.services import (
    LineChange,
    notification_queue,
    order_cancel,
    order_edit,
    order_event_add,
    order_line_cancel,
    order_recompute,
    order_release,
)

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


def _invoice_write(
    *,
    order: Order,
    doc_lines: list,
    shipping: Decimal,
    actor,
    source: str,
    supplementary_for: str = "",
    payload: dict | None = None,
) -> Invoice:
    """Write an invoice with these lines (totals are theirs plus shipping), its timeline event
    and its PDF job. Every invoice is written here: the order's first, or a supplementary one
    for what a change added (``supplementary_for`` says which change)."""
    subtotal = sum((dl.net for dl in doc_lines), ZERO)
    tax_total = sum((dl.tax for dl in doc_lines), ZERO)
    invoice = Invoice.objects.create(
        number=_next_number("INV"),
        order=order,
        issued_at=timezone.now(),
        currency=order.currency,
        bill_to=_bill_to(order),
        customer_email=order.email,
        subtotal=subtotal,
        tax_total=tax_total,
        shipping_total=shipping,
        total=subtotal + tax_total + shipping,
        issued_by=actor if getattr(actor, "pk", None) else None,
    )
    for dl in doc_lines:
        dl.invoice = invoice
    InvoiceLine.objects.bulk_create(doc_lines)
    order_event_add(
        order=order,
        type=EventType.INVOICE_ISSUED,
        actor=actor,
        source=source,
        message=(
            f"Supplementary invoice {invoice.number} issued for {invoice.total} {invoice.currency}: "
            f"{supplementary_for}."
            if supplementary_for
            else f"Invoice {invoice.number} issued for {invoice.total} {invoice.currency}."
        )[:500],
        customer_message=f"Invoice {invoice.number} is available.",
        payload={"invoice": invoice.number, **(payload or {})},
    )
    _schedule_render(invoice)
    return invoice


def _credit_note_write(
    *,
    order: Order,
    invoice: Invoice,
    doc_lines: list,
    shipping: Decimal,
    reason: str,
    reference: str,
    actor,
    source: str,
    payload: dict | None = None,
) -> CreditNote:
    """Write a credit note against ``invoice`` with these lines (totals are theirs plus
    shipping), its timeline event and its PDF job. Every credit note is written here."""
    subtotal = sum((dl.net for dl in doc_lines), ZERO)
    tax_total = sum((dl.tax for dl in doc_lines), ZERO)
    note = CreditNote.objects.create(
        number=_next_number("CN"),
        order=order,
        invoice=invoice,
        issued_at=timezone.now(),
        currency=order.currency,
        bill_to=invoice.bill_to,
        customer_email=order.email,
        subtotal=subtotal,
        tax_total=tax_total,
        shipping_total=shipping,
        total=subtotal + tax_total + shipping,
        reason=reason[:255],
        reference=reference,
        issued_by=actor if getattr(actor, "pk", None) else None,
    )
    for dl in doc_lines:
        dl.credit_note = note
    CreditNoteLine.objects.bulk_create(doc_lines)
    order_event_add(
        order=order,
        type=EventType.CREDIT_NOTE_ISSUED,
        actor=actor,
        source=source,
        message=f"Credit note {note.number} issued for {note.total} {note.currency}: {reason}."[
            :500
        ],
        customer_message=f"Credit note {note.number} is available.",
        payload={"credit_note": note.number, "invoice": invoice.number, **(payload or {})},
    )
    _schedule_render(note)
    return note


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
    doc_lines = [
        InvoiceLine(
            order_line=ln,
            sku=ln.sku,
            name=ln.name,
            quantity=ln.quantity_effective,
            unit_price=ln.unit_price,
            tax_rate=ln.tax_rate,
            net=ln.net_total,
            tax=ln.tax_total,
            gross=ln.gross_total,
        )
        for ln in order.lines.all()
        if ln.quantity_effective
    ]
    return _invoice_write(
        order=order,
        doc_lines=doc_lines,
        shipping=order.shipping_total,
        actor=actor,
        source=source,
    )


def _invoice_for(order: Order, line_ids) -> Invoice | None:
    """The invoice a credit note refers to: the latest one that billed one of these lines
    (a line added by an edit is on a supplementary invoice), else the order's first invoice."""
    billed = (
        Invoice.objects.filter(order=order, lines__order_line_id__in=list(line_ids))
        .order_by("-issued_at", "-id")
        .first()
    )
    return billed or Invoice.objects.filter(order=order).order_by("issued_at", "id").first()


@transaction.atomic
def credit_note_issue(
    *,
    order: Order,
    quantities: dict[int, int],
    reason: str,
    actor,
    reference: str = "",
    include_shipping: bool = False,
    source: str = EventSource.STAFF,
) -> CreditNote:
    """Credit returned (or otherwise refunded) units against the order's invoice."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    invoice = _invoice_for(order, quantities)
    if invoice is None:
        raise DomainError("The order has no invoice to credit yet. Issue the invoice first.")
    if reference and CreditNote.objects.filter(reference=reference).exists():
        return CreditNote.objects.get(reference=reference)
    lines = {ln.pk: ln for ln in OrderLine.objects.filter(order=order, pk__in=list(quantities))}
    # Units credited before; the corrections of edits (price differences, cancelled units)
    # are not units that came back.
    credited = dict(
        CreditNoteLine.objects.filter(credit_note__order=order)
        .exclude(credit_note__reference__contains=CHANGE_REFERENCE)
        .values("order_line")
        .annotate(q=Sum("quantity"))
        .values_list("order_line", "q")
    )
    doc_lines = []
    for line_id, qty in quantities.items():
        ln = lines.get(line_id)
        if ln is None:
            raise DomainError("A line does not belong to this order.")
        if qty <= 0 or qty + credited.get(line_id, 0) > ln.quantity:
            raise DomainError(f"Line {ln.line_no} ({ln.sku}): cannot credit {qty}.")
        net = quantize(ln.unit_price * qty)
        tax = tax_of(net, ln.tax_rate)
        doc_lines.append(
            CreditNoteLine(
                order_line=ln,
                sku=ln.sku,
                name=ln.name,
                quantity=qty,
                unit_price=ln.unit_price,
                tax_rate=ln.tax_rate,
                net=net,
                tax=tax,
                gross=net + tax,
            )
        )
    return _credit_note_write(
        order=order,
        invoice=invoice,
        doc_lines=doc_lines,
        shipping=order.shipping_total if include_shipping else ZERO,
        reason=reason,
        reference=reference,
        actor=actor,
        source=source,
    )


# ---------------------------------------------------------------- documents that follow order changes
#
# Issued documents never change. When an invoiced order is edited or (partly) cancelled, the
# difference is documented in the same transaction: a credit note for what it lost (units
# cancelled or removed, a lower price, less shipping; everything when the order is cancelled)
# and a supplementary invoice for what it gained (lines added, more units, a higher price,
# more shipping). So the order's invoices minus its correction credit notes always add up to
# the order's total (0 once cancelled). Each face (staff pages, API, admin) calls these
# ``*_documented`` services, never the bare orders services, once an invoice may exist.

CHANGE_REFERENCE = "/change-"


@dataclass(frozen=True)
class _Component:
    line: OrderLine
    name: str
    quantity: int
    unit_price: Decimal
    net: Decimal  # signed: positive adds value to the order, negative takes it away
    tax: Decimal


def _billable(order: Order) -> tuple[dict[int, OrderLine], Decimal]:
    """What the order is worth now, line by line, and its shipping; nothing once cancelled."""
    locked = Order.objects.get(pk=order.pk)
    if locked.status == OrderStatus.CANCELLED:
        return {}, ZERO
    return {ln.pk: ln for ln in OrderLine.objects.filter(order=locked)}, locked.shipping_total


def _components(before: dict[int, OrderLine], after: dict[int, OrderLine]) -> list[_Component]:
    """The change of each line in two exact parts: the quantity at the old price, then the
    price difference on the new quantity. Both are differences of the amounts the order
    itself rounds (per line), so the documents add up to the order's totals to the cent."""
    parts = []
    for pk in sorted(set(before) | set(after)):
        old, new = before.get(pk), after.get(pk)
        ln = new or old
        q0, p0 = (old.quantity_effective, old.unit_price) if old else (0, new.unit_price)
        q1, p1 = (new.quantity_effective, new.unit_price) if new else (0, p0)
        if q1 != q0:
            n0, n1 = quantize(p0 * q0), quantize(p0 * q1)
            what = "added" if q0 == 0 else ("removed" if q1 == 0 else f"{q0} → {q1}")
            parts.append(
                _Component(
                    ln,
                    f"{ln.name} ({what})",
                    abs(q1 - q0),
                    p0,
                    n1 - n0,
                    tax_of(n1, ln.tax_rate) - tax_of(n0, ln.tax_rate),
                )
            )
        if p1 != p0 and q1:
            n0, n1 = quantize(p0 * q1), quantize(p1 * q1)
            parts.append(
                _Component(
                    ln,
                    f"{ln.name} (price {p0} → {p1})",
                    q1,
                    abs(p1 - p0),
                    n1 - n0,
                    tax_of(n1, ln.tax_rate) - tax_of(n0, ln.tax_rate),
                )
            )
    return [c for c in parts if c.net or c.tax]


def _document_lines(model, parts: list[_Component]) -> list:
    return [
        model(
            order_line=c.line,
            sku=c.line.sku,
            name=c.name[:200],
            quantity=c.quantity,
            unit_price=c.unit_price,
            tax_rate=c.line.tax_rate,
            net=abs(c.net),
            tax=abs(c.tax),
            gross=abs(c.net) + abs(c.tax),
        )
        for c in parts
    ]


def _documents_follow(
    *, order: Order, before: tuple[dict, Decimal], actor, source: str, reason: str
) -> tuple[CreditNote | None, Invoice | None]:
    """Issue the credit note and the supplementary invoice that bring an invoiced order's
    documents in line with what it is worth now. Nothing when it has no invoice yet (the
    invoice, when issued, shows the order as it is then)."""
    if not Invoice.objects.filter(order=order).exists():
        return None, None
    after = _billable(order)
    parts = _components(before[0], after[0])
    shipping = after[1] - before[1]
    lost = [c for c in parts if c.net < 0 or c.tax < 0]
    gained = [c for c in parts if c.net > 0 or c.tax > 0]
    event = (
        OrderEvent.objects.filter(
            order=order, type__in=[EventType.EDITED, EventType.LINE_CANCELLED, EventType.CANCELLED]
        )
        .order_by("-id")
        .first()
    )
    reference = f"{order.number}{CHANGE_REFERENCE}{event.pk if event else 0}"
    order = Order.objects.get(pk=order.pk)
    note = invoice = None
    if lost or shipping < 0:
        note = _credit_note_write(
            order=order,
            invoice=_invoice_for(order, [c.line.pk for c in lost]),
            doc_lines=_document_lines(CreditNoteLine, lost),
            shipping=-shipping if shipping < 0 else ZERO,
            reason=reason,
            reference=reference,
            actor=actor,
            source=source,
            payload={"change": reference},
        )
    if gained or shipping > 0:
        invoice = _invoice_write(
            order=order,
            doc_lines=_document_lines(InvoiceLine, gained),
            shipping=shipping if shipping > 0 else ZERO,
            actor=actor,
            source=source,
            supplementary_for=reason,
            payload={"supplementary": True, "change": reference},
        )
    return note, invoice


def _lock_and_value(order: Order) -> tuple[dict, Decimal]:
    Order.objects.select_for_update().get(pk=order.pk)
    return _billable(order)


@transaction.atomic
def order_edit_documented(
    *,
    order: Order,
    actor,
    lines: list[LineChange] | None = None,
    address: dict | None = None,
    shipping_method: str | None = None,
    shipping_total: Decimal | None = None,
    source: str = EventSource.STAFF,
) -> Order:
    """``orders.services.order_edit``, then the invoice put right (credit note or supplementary
    invoice for the difference) and payment_status derived again, in one transaction."""
    before = _lock_and_value(order)
    order = order_edit(
        order=order,
        actor=actor,
        lines=lines,
        address=address,
        shipping_method=shipping_method,
        shipping_total=shipping_total,
        source=source,
    )
    _documents_follow(order=order, before=before, actor=actor, source=source, reason="Order edited")
    return payment_status_recompute(order=order)


@transaction.atomic
def order_line_cancel_documented(
    *,
    order: Order,
    line: OrderLine,
    quantity: int,
    reason: str,
    actor,
    source: str = EventSource.STAFF,
) -> Order:
    """``orders.services.order_line_cancel``, then a credit note for the cancelled units when
    the order was invoiced, and payment_status derived again."""
    before = _lock_and_value(order)
    order = order_line_cancel(
        order=order, line=line, quantity=quantity, reason=reason, actor=actor, source=source
    )
    what = (
        "Order cancelled"
        if order.status == OrderStatus.CANCELLED
        else f"{quantity} × {line.sku} cancelled"
    )
    _documents_follow(
        order=order, before=before, actor=actor, source=source, reason=f"{what}: {reason.strip()}"
    )
    return payment_status_recompute(order=order)


@transaction.atomic
def order_cancel_documented(
    *, order: Order, reason: str, actor, source: str = EventSource.STAFF
) -> Order:
    """``orders.services.order_cancel``, then a credit note for everything invoiced and not yet
    credited, and payment_status derived again (a paid order stays paid until refunded)."""
    before = _lock_and_value(order)
    order = order_cancel(order=order, reason=reason, actor=actor, source=source)
    _documents_follow(
        order=order,
        before=before,
        actor=actor,
        source=source,
        reason=f"Order cancelled: {reason.strip()}",
    )
    return payment_status_recompute(order=order)


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
    if (
        status == PaymentStatus.PAID
        and locked.status == OrderStatus.ON_HOLD
        and locked.hold_code == HoldCode.PAYMENT
    ):
        order_release(order=order, actor=None, source=EventSource.SYSTEM)
    return order_recompute(order=order)


@transaction.atomic
def payment_record(
    *,
    order: Order,
    amount: Decimal,
    method: str,
    actor,
    reference: str = "",
    source: str = EventSource.STAFF,
) -> Payment:
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
    payment = Payment.objects.create(
        order=locked,
        amount=amount,
        method=method,
        reference=reference.strip(),
        received_at=timezone.now(),
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    order_event_add(
        order=locked,
        type=EventType.PAYMENT_RECORDED,
        actor=actor,
        source=source,
        message=f"Payment of {amount} {locked.currency} recorded ({payment.get_method_display()}).",
        customer_message="Payment received. Thank you!",
        payload={"payment": payment.pk, "amount": str(amount)},
    )
    payment_status_recompute(order=order)
    return payment


@transaction.atomic
def refund_record(
    *,
    order: Order,
    amount: Decimal,
    actor,
    credit_note: CreditNote | None = None,
    method: str = "",
    reference: str = "",
    source: str = EventSource.STAFF,
) -> Refund:
    """Money goes back to the customer. Only finance and managers may refund."""
    roles.check_role(actor, roles.REFUND, "Only Finance or a Manager may issue refunds.")
    locked = Order.objects.select_for_update().get(pk=order.pk)
    amount = quantize(amount) if amount is not None else None
    if amount is None or amount <= 0:
        raise DomainError("Enter an amount greater than zero.", field="amount")
    paid, refunded = order_paid_and_refunded(order=locked)
    if amount > paid - refunded:
        raise DomainError(
            f"Only {paid - refunded} {locked.currency} was paid and not yet refunded.",
            field="amount",
        )
    if not method:
        last = locked.payments.order_by("-received_at").first()
        method = last.method if last else PaymentMethod.BANK_TRANSFER
    refund = Refund.objects.create(
        order=locked,
        amount=amount,
        credit_note=credit_note,
        method=method,
        reference=reference,
        refunded_at=timezone.now(),
        refunded_by=actor if getattr(actor, "pk", None) else None,
    )
    order_event_add(
        order=locked,
        type=EventType.REFUNDED,
        actor=actor,
        source=source,
        message=f"Refunded {amount} {locked.currency}"
        + (f" against {credit_note.number}." if credit_note else "."),
        customer_message=f"Refund of {amount} {locked.currency} issued.",
        payload={"refund": refund.pk, "amount": str(amount)},
    )
    notification_queue(
        order=locked,
        kind=NotificationKind.REFUND_ISSUED,
        key=str(refund.pk),
        payload={"amount": str(amount), "credit_note": credit_note.number if credit_note else ""},
    )
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
            pdf_attempts=F("pdf_attempts") + 1,
            pdf_error=f"{exc.__class__.__name__}: {exc}"[:2000],
            updated_at=timezone.now(),
        )
        model.objects.filter(
            pk=pk, pdf_status=DocumentStatus.PENDING, pdf_attempts__gte=DOCUMENT_MAX_ATTEMPTS
        ).update(pdf_status=DocumentStatus.FAILED)
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
