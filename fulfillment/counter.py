"""Counter sales: a customer in the store pays and takes the goods with them, at once.

``counter_sale`` is one transaction, or nothing happens:

1. the order is placed through the counter channel (``order_place``), shipped "to" the
   store's address, and its stock is reserved in the store's own warehouse (the goods are on
   its shelves; nothing is backordered at a counter);
2. the goods are handed over: a shipment from that warehouse with the "Handed over" carrier
   (code ``counter``, created on demand and inactive so the warehouse's ship form does not
   offer it), picked, packed, shipped and delivered in the same moment; stock leaves
   ``on_hand`` through the ledger;
3. the invoice is issued and the full total is recorded as paid (card or cash);

so the order ends closed, delivered and paid. Only the order confirmation is emailed (it is
the customer's receipt, with the status link to the invoice); no "shipped" or "delivered"
email is sent for goods the customer already holds.

The customer is optional. With an email the sale joins that customer's history (created if
new, named "Counter customer" when no name is given). Without one, a walk-in customer is
created for this sale alone, "Counter customer" <counter+<n>@<merchant domain>>, so two
strangers buying the same thing ten minutes apart are never taken for a duplicate order.

Counter staff (customer service, managers) may sell without the warehouse and finance roles
the separate steps need: this service checks its own role once and writes every step with
the acting user, so the ledger and the timeline still say who did it. An automatic hold
(a known customer's repeat purchase, a pay-first method) is released on the spot because the
customer is present and pays now; a sale above the review threshold needs a manager.
"""

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import roles
from core.errors import NotAllowed, ValidationFailed
from core.money import quantize
from core.sequences import sequence_next
from inventory.models import StockLevel, Warehouse
from inventory.services import stock_ship
from invoicing.choices import PaymentMethod
from invoicing.services import invoice_issue, payment_record
from orders.choices import EventSource, EventType, OrderStatus
from orders.models import Order, SalesChannel, line_demand_ref
from orders.services import (
    LineInput,
    order_event_add,
    order_lines_delivered,
    order_lines_shipped,
    order_place,
    order_recompute,
    order_release,
)

from .choices import ShipmentStatus
from .models import Carrier, Shipment, ShipmentLine

COUNTER_CARRIER_CODE = "counter"
COUNTER_CARRIER_NAME = "Handed over"
COUNTER_PAYMENT_METHODS = (PaymentMethod.CARD, PaymentMethod.CASH)
COUNTER_SHIPPING_METHOD = "Counter"
WALK_IN_NAME = "Counter customer"


def counter_warehouse() -> Warehouse | None:
    """The store's warehouse: ``settings.COUNTER_WAREHOUSE`` (a code) if set, else the
    highest-priority active warehouse."""
    code = settings.COUNTER_WAREHOUSE
    active = Warehouse.objects.filter(active=True)
    if code:
        found = active.filter(code__iexact=code).first()
        if found:
            return found
    return active.order_by("priority", "code").first()


def counter_carrier() -> Carrier:
    carrier, _ = Carrier.objects.get_or_create(
        code=COUNTER_CARRIER_CODE, defaults={"name": COUNTER_CARRIER_NAME, "active": False}
    )
    return carrier


def merchant_email_domain() -> str:
    sender = settings.DEFAULT_FROM_EMAIL
    address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    return address.rsplit("@", 1)[-1] if "@" in address else "example.com"


def _store_address(warehouse: Warehouse, name: str) -> dict:
    return {
        "name": name,
        "line1": warehouse.line1,
        "line2": f"Counter sale · {warehouse.name}",
        "city": warehouse.city,
        "region": "",
        "postal_code": warehouse.postal_code,
        "country": warehouse.country,
    }


def _precheck_shelves(lines: list[LineInput], warehouse: Warehouse) -> dict[str, list[str]]:
    """A friendly early answer when the store does not hold what is asked (the locked check
    in ``stock_reserve_at`` is the one that counts)."""
    wanted: dict[int, int] = {}
    for ln in lines:
        wanted[ln.product.pk] = wanted.get(ln.product.pk, 0) + (ln.quantity or 0)
    held = {
        lv.product_id: lv.on_hand - lv.reserved
        for lv in StockLevel.objects.filter(warehouse=warehouse, product_id__in=list(wanted))
    }
    errors = {}
    for i, ln in enumerate(lines):
        free = max(held.get(ln.product.pk, 0), 0)
        if ln.quantity and wanted[ln.product.pk] > free:
            errors[f"lines-{i}-quantity"] = [
                _short_message(ln.product.sku, free, ln.quantity, warehouse)
            ]
    return errors


def _short_message(sku: str, free: int, wanted: int, warehouse: Warehouse) -> str:
    if free <= 0:
        return f"No {sku} on the shelves in {warehouse.code}."
    return f"Only {free} of {sku} on the shelves in {warehouse.code}; {wanted} wanted."


@transaction.atomic
def counter_sale(
    *,
    channel: SalesChannel,
    lines: list[LineInput],
    payment_method: str,
    actor,
    customer=None,
    email: str = "",
    name: str = "",
    warehouse: Warehouse | None = None,
    payment_reference: str = "",
    cash_received: Decimal | None = None,
) -> Order:
    """Sell over the counter: place, hand over, invoice and take the full payment at once.

    Raises ValidationFailed with per-field messages (``lines-<i>-quantity``, ``payment_method``,
    ``cash_received``, ``warehouse``, ``email``) and NotAllowed; nothing is saved then."""
    roles.check_role(
        actor, roles.PLACE_ORDER, "Only Customer service or a Manager may sell at the counter."
    )
    warehouse = warehouse or counter_warehouse()
    errors: dict[str, list[str]] = {}
    if payment_method not in COUNTER_PAYMENT_METHODS:
        errors["payment_method"] = ["Choose how the customer pays: card or cash."]
    if cash_received is not None and payment_method != PaymentMethod.CASH:
        cash_received = None
    if cash_received is not None and cash_received <= 0:
        errors["cash_received"] = ["Enter the cash handed over, or leave it empty."]
    if warehouse is None or not warehouse.active:
        errors["warehouse"] = ["Choose the store's warehouse: the goods leave its shelves."]
    elif not (warehouse.line1 and warehouse.city and warehouse.postal_code and warehouse.country):
        errors["warehouse"] = [
            f"{warehouse.code} has no complete address; fill it in the back office (Warehouses) first."
        ]
    if not lines:
        errors["lines"] = ["Scan or type at least one product."]
    if customer is None and email.strip() and "@" not in email:
        errors["email"] = ["Enter a valid email address, or leave it empty for a walk-in customer."]
    if warehouse is not None and "warehouse" not in errors:
        errors.update(
            {k: v for k, v in _precheck_shelves(lines, warehouse).items() if k not in errors}
        )
    if errors:
        raise ValidationFailed(errors)

    email = customer.email if customer is not None else email.strip()
    name = name.strip()
    if customer is None and not email:
        email = f"counter+{sequence_next(name='counter-customer')}@{merchant_email_domain()}"
    display_name = name or (customer.name if customer else "") or WALK_IN_NAME
    order = order_place(
        channel=channel,
        customer=customer,
        email=email,
        name=display_name,
        address=_store_address(warehouse, display_name),
        lines=lines,
        actor=actor,
        shipping_method=COUNTER_SHIPPING_METHOD,
        shipping_total=Decimal("0.00"),
        payment_method=payment_method,
        notes=f"Counter sale in {warehouse.code} ({warehouse.name}).",
        warehouse=warehouse,  # reserved on the store's shelves: one reservation row per line
    )
    if order.status == OrderStatus.ON_HOLD:
        if order.total > settings.HOLD_ORDERS_ABOVE and not roles.has_role(
            actor, getattr(roles, "RELEASE_HIGH_VALUE_HOLD", (roles.MANAGER,))
        ):
            raise NotAllowed(
                f"Sales above {settings.HOLD_ORDERS_ABOVE} {order.currency} need a manager: "
                "ask one to take this payment."
            )
        order_release(order=order, actor=actor)
    if cash_received is not None and quantize(cash_received) < order.total:
        raise ValidationFailed(
            {"cash_received": [f"Less than the total of {order.total} {order.currency}."]}
        )

    order_lines = order.placed_lines

    # Hand over: one shipment from the store, delivered in the same moment.
    now = timezone.now()
    quantities = {ln.pk: ln.quantity for ln in order_lines}
    shipment = Shipment.objects.create(
        number=f"SH-{sequence_next(name='shipment'):06d}",
        order=order,
        warehouse=warehouse,
        status=ShipmentStatus.DELIVERED,
        carrier=counter_carrier(),
        picked_at=now,
        packed_at=now,
        shipped_at=now,
        delivered_at=now,
        delivery_note="Handed over at the counter",
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    ShipmentLine.objects.bulk_create(
        [
            ShipmentLine(
                shipment=shipment,
                order_line=ln,
                quantity=ln.quantity,
                quantity_picked=ln.quantity,
                quantity_packed=ln.quantity,
            )
            for ln in order_lines
        ]
    )
    for ln in order_lines:
        stock_ship(
            demand_ref=line_demand_ref(order.number, ln.line_no),
            warehouse_id=warehouse.pk,
            quantity=ln.quantity,
            actor=actor,
            reference=shipment.number,
        )
    order_lines_shipped(order=order, quantities=quantities)
    units = sum(quantities.values())
    order_event_add(
        order=order,
        type=EventType.SHIPPED,
        actor=actor,
        message=f"Handed over at the counter in {warehouse.code}: {units} unit(s), shipment {shipment.number}.",
        payload={"shipment": shipment.number, "carrier": COUNTER_CARRIER_CODE, "counter": True},
    )

    invoice = invoice_issue(order=order, actor=actor, source=EventSource.SYSTEM)
    reference = payment_reference.strip()
    if cash_received is not None:
        change = quantize(cash_received) - order.total
        reference = f"Cash received {quantize(cash_received)} {order.currency}, change {change} {order.currency}"
    payment_record(
        order=order,
        amount=order.total,
        method=payment_method,
        actor=actor,
        reference=reference[:100],
        source=EventSource.SYSTEM,
    )
    order_event_add(
        order=order,
        type=EventType.DELIVERED,
        actor=actor,
        message=f"Shipment {shipment.number} delivered: the customer took the goods at the counter.",
        customer_message=f"Handed over to you at the counter ({warehouse.name}).",
        payload={"shipment": shipment.number, "invoice": invoice.number},
    )
    order_lines_delivered(order=order, quantities=quantities)
    order.refresh_from_db()
    order_recompute(order=order)
    return order
