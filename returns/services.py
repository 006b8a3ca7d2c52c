"""Returns: request (staff or customer), receive and restock, refund with a credit note."""

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core import roles
from core.errors import DomainError, InvalidTransition, ValidationFailed
from core.sequences import sequence_next
from fulfillment.services import order_line_warehouse
from inventory.models import Warehouse
from inventory.services import stock_restock_return
from invoicing.selectors import order_paid_and_refunded
from invoicing.services import credit_note_issue, refund_record
from orders.choices import EventSource, EventType, NotificationKind
from orders.models import Order, OrderLine
from orders.services import notification_queue, order_event_add, order_lines_returned

from .choices import RETURN_TRANSITIONS, ReturnReason, ReturnStatus
from .models import ReturnLine, ReturnRequest


def returnable_quantities(*, order: Order) -> dict[int, int]:
    """Per order line: shipped units not yet returned nor waiting in an open return."""
    pending = dict(
        ReturnLine.objects.filter(
            order_line__order=order, return_request__status=ReturnStatus.REQUESTED
        )
        .values("order_line")
        .annotate(q=Sum("quantity"))
        .values_list("order_line", "q")
    )
    return {
        ln.pk: ln.quantity_shipped - ln.quantity_returned - pending.get(ln.pk, 0)
        for ln in order.lines.all()
        if ln.quantity_shipped - ln.quantity_returned - pending.get(ln.pk, 0) > 0
    }


def _lock(rma: ReturnRequest, new_status: str) -> ReturnRequest:
    locked = (
        ReturnRequest.objects.select_for_update(of=("self",)).select_related("order").get(pk=rma.pk)
    )
    if new_status not in RETURN_TRANSITIONS[locked.status]:
        raise InvalidTransition(
            f"Return {locked.number} is {locked.get_status_display().lower()}; "
            f"it cannot become {ReturnStatus(new_status).label.lower()}."
        )
    return locked


@transaction.atomic
def return_request_create(
    *,
    order: Order,
    quantities: dict[int, int],
    reason: str,
    actor,
    note: str = "",
    source: str = EventSource.STAFF,
) -> ReturnRequest:
    if source == EventSource.STAFF:
        roles.check_role(actor, roles.REQUEST_RETURN)
    order = Order.objects.select_for_update().get(pk=order.pk)
    errors: dict[str, list[str]] = {}
    if reason not in ReturnReason.values:
        errors["reason"] = ["Choose why the items are coming back."]
    quantities = {int(k): int(v) for k, v in quantities.items() if v}
    if not quantities:
        errors["lines"] = ["Choose at least one item to return."]
    returnable = returnable_quantities(order=order)
    lines = {ln.pk: ln for ln in order.lines.all()}
    for line_id, qty in quantities.items():
        ln = lines.get(line_id)
        if ln is None:
            errors["lines"] = ["An item does not belong to this order."]
        elif qty < 0 or qty > returnable.get(line_id, 0):
            errors[f"line-{line_id}"] = [
                f"{ln.name}: up to {returnable.get(line_id, 0)} can be returned."
            ]
    if errors:
        raise ValidationFailed(errors)
    rma = ReturnRequest.objects.create(
        number=f"RMA-{sequence_next(name='return'):06d}",
        order=order,
        reason=reason,
        customer_note=note.strip(),
        source=source,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    ReturnLine.objects.bulk_create(
        [
            ReturnLine(return_request=rma, order_line_id=line_id, quantity=q)
            for line_id, q in quantities.items()
        ]
    )
    count = sum(quantities.values())
    order_event_add(
        order=order,
        type=EventType.RETURN_REQUESTED,
        actor=actor,
        source=source,
        message=f"Return {rma.number} requested for {count} item(s): {rma.get_reason_display()}.",
        customer_message=f"Return {rma.number} requested for {count} item(s).",
        payload={"return": rma.number, "lines": {str(k): v for k, v in quantities.items()}},
    )
    notification_queue(
        order=order,
        kind=NotificationKind.RETURN_REQUESTED,
        key=rma.number,
        payload={"rma": rma.number, "count": count},
    )
    return rma


@transaction.atomic
def return_receive(
    *,
    return_request: ReturnRequest,
    actor,
    restock: bool = True,
    quantities: dict[int, int] | None = None,
) -> ReturnRequest:
    """The parcel is back: count what arrived, put it back on the shelf, update the order."""
    roles.check_role(actor, roles.RECEIVE_RETURN)
    rma = _lock(return_request, ReturnStatus.RECEIVED)
    lines = list(rma.lines.select_related("order_line__product").order_by("order_line_id"))
    received: dict[int, int] = {}
    for rl in lines:
        qty = rl.quantity if quantities is None else int(quantities.get(rl.order_line_id, 0))
        if qty < 0 or qty > rl.quantity:
            raise DomainError(
                f"{rl.order_line.name}: between 0 and {rl.quantity} can be received.",
                field=f"line-{rl.order_line_id}",
            )
        if qty:
            received[rl.order_line_id] = qty
            ReturnLine.objects.filter(pk=rl.pk).update(quantity_received=qty)
    if not received:
        raise DomainError("Nothing was received. Reject the return instead.")
    fallback = Warehouse.objects.filter(active=True).order_by("priority", "code").first()
    for rl in lines:
        qty = received.get(rl.order_line_id)
        if qty and restock:
            wh_id = order_line_warehouse(order_line=rl.order_line) or fallback.pk
            stock_restock_return(
                product=rl.order_line.product,
                warehouse=Warehouse.objects.get(pk=wh_id),
                quantity=qty,
                actor=actor,
                reference=rma.number,
            )
    rma.status = ReturnStatus.RECEIVED
    rma.restock = restock
    rma.received_at = timezone.now()
    rma.save(update_fields=["status", "restock", "received_at", "updated_at"])
    count = sum(received.values())
    order_event_add(
        order=rma.order,
        type=EventType.RETURN_RECEIVED,
        actor=actor,
        message=f"Return {rma.number}: {count} item(s) received"
        + (" and restocked." if restock else ", not restocked."),
        customer_message=f"We received your return {rma.number}.",
        payload={"return": rma.number, "restocked": restock},
    )
    order_lines_returned(order=rma.order, quantities=received)
    notification_queue(
        order=rma.order,
        kind=NotificationKind.RETURN_RECEIVED,
        key=rma.number,
        payload={"rma": rma.number, "count": count},
    )
    return rma


@transaction.atomic
def return_refund(
    *, return_request: ReturnRequest, actor, include_shipping: bool = False
) -> ReturnRequest:
    """Credit what came back and pay it back. Only finance and managers may refund."""
    roles.check_role(actor, roles.REFUND, "Only Finance or a Manager may issue refunds.")
    rma = _lock(return_request, ReturnStatus.REFUNDED)
    received = {
        rl.order_line_id: rl.quantity_received for rl in rma.lines.all() if rl.quantity_received
    }
    note = credit_note_issue(
        order=rma.order,
        quantities=received,
        reason=f"Return {rma.number}",
        reference=rma.number,
        include_shipping=include_shipping,
        actor=actor,
    )
    paid, refunded = order_paid_and_refunded(order=rma.order)
    amount = min(note.total, paid - refunded)
    if amount > 0:
        refund_record(
            order=rma.order, amount=amount, credit_note=note, actor=actor, reference=rma.number
        )
    rma.status = ReturnStatus.REFUNDED
    rma.refunded_at = timezone.now()
    rma.refund_amount = amount if amount > 0 else 0
    rma.save(update_fields=["status", "refunded_at", "refund_amount", "updated_at"])
    return rma


@transaction.atomic
def return_reject(*, return_request: ReturnRequest, actor, reason: str) -> ReturnRequest:
    roles.check_role(actor, (*roles.RECEIVE_RETURN, *roles.REQUEST_RETURN))
    if not reason.strip():
        raise DomainError("Say why the return is rejected.", field="reason")
    rma = _lock(return_request, ReturnStatus.REJECTED)
    rma.status = ReturnStatus.REJECTED
    rma.save(update_fields=["status", "updated_at"])
    order_event_add(
        order=rma.order,
        type=EventType.NOTE,
        actor=actor,
        message=f"Return {rma.number} rejected: {reason.strip()}",
        customer_message=f"Return {rma.number} was declined: {reason.strip()}",
        payload={"return": rma.number},
    )
    return rma


def line_returnable(*, order_line: OrderLine) -> int:
    return returnable_quantities(order=order_line.order).get(order_line.pk, 0)
