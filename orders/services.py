"""Every write to orders: placement, holds, cancellation, the line counters that fulfillment
and returns move, the derived statuses, the timeline and the customer emails."""

import functools
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import roles
from core.errors import DomainError, InvalidTransition, OutOfStock, ValidationFailed
from core.money import quantize, tax_of
from core.sequences import sequence_next
from customers.models import Customer
from customers.services import address_errors, address_remember, customer_get_or_create
from inventory.models import Product
from inventory.services import Demand, stock_release, stock_reserve

from .choices import (
    ORDER_TRANSITIONS,
    EventSource,
    EventType,
    FulfillmentStatus,
    NotificationKind,
    NotificationStatus,
    OrderStatus,
)
from .models import Notification, Order, OrderEvent, OrderLine, SalesChannel, line_demand_ref

ORDER_NUMBER_START = 10000


@dataclass(frozen=True)
class LineInput:
    product: Product
    quantity: int
    unit_price: Decimal | None = None  # None: the catalogue price


# ---------------------------------------------------------------- timeline


def order_event_add(
    *,
    order: Order,
    type: str,
    message: str,
    actor=None,
    source: str = EventSource.STAFF,
    payload: dict | None = None,
    customer_message: str = "",
) -> OrderEvent:
    """One row of the timeline. ``customer_message`` (plain words) makes it visible to the customer."""
    return OrderEvent.objects.create(
        order=order,
        type=type,
        message=message,
        customer_message=customer_message,
        visible_to_customer=bool(customer_message),
        actor=actor if getattr(actor, "pk", None) else None,
        source=source,
        payload=payload or {},
    )


# ---------------------------------------------------------------- notifications


def notification_queue(*, order: Order, kind: str, key: str = "", payload: dict | None = None) -> Notification | None:
    """Write the durable row for a customer email and send it after commit. The same
    (order, kind, key) is queued once, however often this is called."""
    from .tasks import send_notification

    dedupe_key = f"{order.pk}:{kind}:{key}"
    notification, created = Notification.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={"order": order, "kind": kind, "recipient": order.email, "payload": payload or {}},
    )
    if created:
        transaction.on_commit(functools.partial(send_notification.delay, notification.pk))
    return notification if created else None


NOTIFICATION_MAX_ATTEMPTS = 8


def notification_send(*, notification_id: int) -> Notification | None:
    """Send one email, once. Locks the row; a row already sent is left alone.

    A failure is recorded outside the sending transaction (which rolls back), so attempts
    and the last error survive; after NOTIFICATION_MAX_ATTEMPTS the row is marked failed
    and shows on the dashboard instead of being retried for ever."""
    from .emails import render_notification

    try:
        with transaction.atomic():
            n = (
                Notification.objects.select_for_update(of=("self",))
                .select_related("order")
                .filter(pk=notification_id)
                .first()
            )
            if n is None or n.status == NotificationStatus.SENT:
                return n
            message = render_notification(n)
            message.send(fail_silently=False)
            n.status = NotificationStatus.SENT
            n.sent_at = timezone.now()
            n.subject = message.subject
            n.last_error = ""
            n.attempts = F("attempts") + 1
            n.save(update_fields=["status", "sent_at", "subject", "last_error", "attempts", "updated_at"])
            order_event_add(
                order=n.order,
                type=EventType.EMAIL_SENT,
                message=f"Email sent to {n.recipient}: {message.subject}",
                source=EventSource.SYSTEM,
                payload={"notification": n.pk, "kind": n.kind},
            )
            n.refresh_from_db(fields=["attempts"])
            return n
    except Exception as exc:
        Notification.objects.filter(pk=notification_id).exclude(status=NotificationStatus.SENT).update(
            attempts=F("attempts") + 1, last_error=f"{exc.__class__.__name__}: {exc}"[:2000], updated_at=timezone.now()
        )
        Notification.objects.filter(
            pk=notification_id, status=NotificationStatus.PENDING, attempts__gte=NOTIFICATION_MAX_ATTEMPTS
        ).update(status=NotificationStatus.FAILED)
        raise


# ---------------------------------------------------------------- derived statuses


def _derive_fulfillment(lines: list[OrderLine]) -> str:
    total = sum(ln.quantity for ln in lines)
    returned = sum(ln.quantity_returned for ln in lines)
    shipped = sum(ln.quantity_shipped for ln in lines)
    delivered = sum(ln.quantity_delivered for ln in lines)
    covered = sum(min(ln.quantity, ln.quantity_shipped + ln.quantity_reserved) for ln in lines)
    reserved = sum(ln.quantity_reserved for ln in lines)
    if total and returned == total:
        return FulfillmentStatus.RETURNED
    if returned:
        return FulfillmentStatus.PARTIALLY_RETURNED
    if total and delivered == total:
        return FulfillmentStatus.DELIVERED
    if total and shipped == total:
        return FulfillmentStatus.SHIPPED
    if shipped:
        return FulfillmentStatus.PARTIALLY_SHIPPED
    if total and covered == total:
        return FulfillmentStatus.RESERVED
    if reserved:
        return FulfillmentStatus.PARTIALLY_RESERVED
    return FulfillmentStatus.UNFULFILLED


FINISHED_FULFILLMENT = {FulfillmentStatus.DELIVERED, FulfillmentStatus.RETURNED, FulfillmentStatus.PARTIALLY_RETURNED}
SETTLED_PAYMENT = {"paid", "refunded", "partially_refunded"}


def order_recompute(*, order: Order, actor=None) -> Order:
    """Derive fulfillment_status from the line counts, under the order's row lock, and close
    an open order once it is delivered and settled. The only place these are set."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    lines = list(OrderLine.objects.filter(order=locked))
    fields = []
    new = _derive_fulfillment(lines)
    if new != locked.fulfillment_status:
        locked.fulfillment_status = new
        fields.append("fulfillment_status")
    if (
        locked.status == OrderStatus.OPEN
        and locked.fulfillment_status in FINISHED_FULFILLMENT
        and locked.payment_status in SETTLED_PAYMENT
    ):
        locked.status = OrderStatus.CLOSED
        locked.closed_at = timezone.now()
        fields += ["status", "closed_at"]
        order_event_add(order=locked, type=EventType.CLOSED, message="Order closed: delivered and settled.",
                        source=EventSource.SYSTEM)
    if fields:
        locked.save(update_fields=[*fields, "updated_at"])
    _refresh(order, locked)
    return order


def _refresh(target: Order, source: Order) -> None:
    for f in ("status", "fulfillment_status", "payment_status", "hold_reason", "cancel_reason",
              "closed_at", "cancelled_at", "updated_at"):
        setattr(target, f, getattr(source, f))


def _transition(order: Order, new_status: str) -> Order:
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if new_status not in ORDER_TRANSITIONS[locked.status]:
        raise InvalidTransition(
            f"Order {locked.number} is {locked.get_status_display().lower()}; it cannot become "
            f"{OrderStatus(new_status).label.lower()}."
        )
    locked.status = new_status
    return locked


# ---------------------------------------------------------------- placement


def _validate_lines(lines: list[LineInput]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not lines:
        errors["lines"] = ["Add at least one line."]
    for i, ln in enumerate(lines):
        if ln.quantity is None or ln.quantity <= 0:
            errors[f"lines-{i}-quantity"] = ["Quantity must be at least 1."]
        if not ln.product.active:
            errors[f"lines-{i}-sku"] = [f"{ln.product.sku} is no longer sold."]
        if ln.unit_price is not None and ln.unit_price < 0:
            errors[f"lines-{i}-unit_price"] = ["A price cannot be negative."]
    return errors


@transaction.atomic
def order_place(
    *,
    channel: SalesChannel,
    customer: Customer | None = None,
    email: str = "",
    name: str = "",
    phone: str = "",
    address: dict,
    lines: list[LineInput],
    actor,
    source: str = EventSource.STAFF,
    currency: str | None = None,
    shipping_method: str = "",
    shipping_total: Decimal = Decimal("0"),
    payment_method: str = "",
    notes: str = "",
    external_id: str = "",
) -> Order:
    """Place an order and reserve its stock in the same transaction, or change nothing.

    Raises ValidationFailed with per-field messages (``lines-<i>-quantity``, ``ship_city``...)
    and OutOfStock naming each short line."""
    if source == EventSource.STAFF:
        roles.check_role(actor, roles.PLACE_ORDER)
    errors = _validate_lines(lines)
    errors.update(address_errors(address, prefix="ship_"))
    if customer is None:
        if not email.strip() or "@" not in email:
            errors["email"] = ["Enter the customer's email address."]
        if not name.strip() and not Customer.objects.filter(email__iexact=email.strip()).exists():
            errors["name"] = ["Enter the customer's name."]
    if shipping_total is None or shipping_total < 0:
        errors["shipping_total"] = ["Shipping cannot be negative."]
    if errors:
        raise ValidationFailed(errors)

    if customer is None:
        customer = customer_get_or_create(email=email, name=name, phone=phone)
    address_remember(customer=customer, data=address)

    number = f"{settings.ORDER_NUMBER_PREFIX}{ORDER_NUMBER_START + sequence_next(name='order')}"
    demands = [
        Demand(ref=line_demand_ref(number, i + 1), product_id=ln.product.pk, quantity=ln.quantity, label=ln.product.sku)
        for i, ln in enumerate(lines)
    ]
    try:
        plan = stock_reserve(demands=demands, actor=actor, reference=number)
    except OutOfStock as exc:
        by_ref = {d.ref: i for i, d in enumerate(demands)}
        field_errors = {
            f"lines-{by_ref[s['ref']]}-quantity": [
                f"Only {s['available']} of {s['sku']} available; {s['requested']} requested."
            ]
            for s in exc.shortages
        }
        raise ValidationFailed(field_errors) from exc

    order_lines = []
    subtotal = tax_total = Decimal("0.00")
    for i, ln in enumerate(lines):
        price = quantize(ln.product.price if ln.unit_price is None else ln.unit_price)
        net = quantize(price * ln.quantity)
        subtotal += net
        tax_total += tax_of(net, ln.product.tax_rate)
        order_lines.append(
            OrderLine(
                line_no=i + 1, product=ln.product, sku=ln.product.sku, name=ln.product.name,
                unit_price=price, tax_rate=ln.product.tax_rate, quantity=ln.quantity,
                quantity_reserved=sum(q for _, q in plan.allocations[demands[i].ref]),
            )
        )
    shipping_total = quantize(shipping_total)
    order = Order.objects.create(
        number=number, channel=channel, external_id=external_id, customer=customer,
        email=customer.email, phone=phone or customer.phone,
        ship_name=address["name"].strip(), ship_line1=address["line1"].strip(),
        ship_line2=(address.get("line2") or "").strip(), ship_city=address["city"].strip(),
        ship_region=(address.get("region") or "").strip(),
        ship_postal_code=address["postal_code"].strip(), ship_country=address["country"].strip().upper(),
        currency=currency or settings.DEFAULT_CURRENCY, subtotal=subtotal, tax_total=tax_total,
        shipping_total=shipping_total, total=subtotal + tax_total + shipping_total,
        status=OrderStatus.OPEN, shipping_method=shipping_method, payment_method=payment_method,
        notes=notes, placed_at=timezone.now(), created_by=actor if getattr(actor, "pk", None) else None,
    )
    for ol in order_lines:
        ol.order = order
    OrderLine.objects.bulk_create(order_lines)
    order.fulfillment_status = _derive_fulfillment(order_lines)
    order.save(update_fields=["fulfillment_status"])

    order_event_add(
        order=order, type=EventType.PLACED, actor=actor, source=source,
        message=f"Order placed through {channel.name}: {len(lines)} line(s), total {order.total} {order.currency}.",
        customer_message="Order placed. Thank you!",
        payload={"channel": channel.slug, "lines": [{"sku": ol.sku, "quantity": ol.quantity} for ol in order_lines]},
    )
    order_event_add(order=order, type=EventType.RESERVED, actor=actor, source=EventSource.SYSTEM,
                    message=plan.explanation, payload={"allocations": plan.allocations})
    notification_queue(order=order, kind=NotificationKind.ORDER_CONFIRMATION)
    return order


# ---------------------------------------------------------------- holds and cancellation


@transaction.atomic
def order_hold(*, order: Order, reason: str, actor, source: str = EventSource.STAFF) -> Order:
    roles.check_role(actor, roles.CANCEL_ORDER)
    if not reason.strip():
        raise DomainError("Say why the order is held.", field="reason")
    locked = _transition(order, OrderStatus.ON_HOLD)
    locked.hold_reason = reason.strip()
    locked.save(update_fields=["status", "hold_reason", "updated_at"])
    order_event_add(order=locked, type=EventType.HELD, actor=actor, source=source,
                    message=f"Put on hold: {locked.hold_reason}")
    _refresh(order, locked)
    return order


@transaction.atomic
def order_release(*, order: Order, actor, source: str = EventSource.STAFF) -> Order:
    roles.check_role(actor, roles.CANCEL_ORDER)
    locked = _transition(order, OrderStatus.OPEN)
    reason = locked.hold_reason
    locked.hold_reason = ""
    locked.save(update_fields=["status", "hold_reason", "updated_at"])
    order_event_add(order=locked, type=EventType.RELEASED, actor=actor, source=source,
                    message=f"Hold released (was: {reason})." if reason else "Hold released.")
    _refresh(order, locked)
    return order


@transaction.atomic
def order_cancel(*, order: Order, reason: str, actor, source: str = EventSource.STAFF) -> Order:
    """Cancel an order that has not shipped: every reserved unit goes back to stock."""
    roles.check_role(actor, roles.CANCEL_ORDER)
    if not reason.strip():
        raise DomainError("Say why the order is cancelled.", field="reason")
    locked = _transition(order, OrderStatus.CANCELLED)
    lines = list(OrderLine.objects.select_for_update().filter(order=locked).order_by("pk"))
    if any(ln.quantity_shipped for ln in lines):
        raise DomainError("Part of this order has shipped already; it can no longer be cancelled.")
    released = 0
    for ln in lines:
        released += stock_release(
            demand_ref=line_demand_ref(locked.number, ln.line_no), actor=actor,
            reference=locked.number, reason=f"Order cancelled: {reason.strip()}",
        )
    OrderLine.objects.filter(order=locked).update(quantity_reserved=0, quantity_backordered=0)
    locked.cancel_reason = reason.strip()
    locked.cancelled_at = timezone.now()
    locked.save(update_fields=["status", "cancel_reason", "cancelled_at", "updated_at"])
    order_event_add(
        order=locked, type=EventType.CANCELLED, actor=actor, source=source,
        message=f"Cancelled: {locked.cancel_reason}. {released} reserved unit(s) released.",
        customer_message="Your order was cancelled.",
        payload={"released": released, "refund_due": locked.payment_status in SETTLED_PAYMENT | {"partially_paid"}},
    )
    notification_queue(order=locked, kind=NotificationKind.ORDER_CANCELLED, payload={"reason": locked.cancel_reason})
    order_recompute(order=locked)
    _refresh(order, locked)
    return order


# ---------------------------------------------------------------- line counters moved by fulfillment and returns


def _lock_lines(order: Order, quantities: dict[int, int]) -> dict[int, OrderLine]:
    lines = {
        ln.pk: ln
        for ln in OrderLine.objects.select_for_update().filter(order=order, pk__in=list(quantities)).order_by("pk")
    }
    missing = set(quantities) - set(lines)
    if missing:
        raise DomainError("A line does not belong to this order.")
    for line_id, qty in quantities.items():
        if qty <= 0:
            raise DomainError("Quantities must be at least 1.", field=f"line-{line_id}")
    return lines


@transaction.atomic
def order_lines_shipped(*, order: Order, quantities: dict[int, int]) -> Order:
    """Reserved units of these lines left the warehouse. Called by fulfillment."""
    lines = _lock_lines(order, quantities)
    for line_id, qty in quantities.items():
        ln = lines[line_id]
        if qty > ln.quantity_reserved:
            raise DomainError(f"Line {ln.line_no} ({ln.sku}) has only {ln.quantity_reserved} reserved.")
        OrderLine.objects.filter(pk=line_id).update(
            quantity_shipped=F("quantity_shipped") + qty, quantity_reserved=F("quantity_reserved") - qty
        )
    return order_recompute(order=order)


@transaction.atomic
def order_lines_delivered(*, order: Order, quantities: dict[int, int]) -> Order:
    lines = _lock_lines(order, quantities)
    for line_id, qty in quantities.items():
        ln = lines[line_id]
        if ln.quantity_delivered + qty > ln.quantity_shipped:
            raise DomainError(f"Line {ln.line_no} ({ln.sku}): more delivered than shipped.")
        OrderLine.objects.filter(pk=line_id).update(quantity_delivered=F("quantity_delivered") + qty)
    return order_recompute(order=order)


@transaction.atomic
def order_lines_returned(*, order: Order, quantities: dict[int, int]) -> Order:
    lines = _lock_lines(order, quantities)
    for line_id, qty in quantities.items():
        ln = lines[line_id]
        if ln.quantity_returned + qty > ln.quantity_shipped:
            raise DomainError(f"Line {ln.line_no} ({ln.sku}): more returned than shipped.")
        OrderLine.objects.filter(pk=line_id).update(quantity_returned=F("quantity_returned") + qty)
    return order_recompute(order=order)
