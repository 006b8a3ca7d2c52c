"""Every write to orders: placement, holds, cancellation, the line counters that fulfillment
and returns move, the derived statuses, the timeline and the customer emails."""

import functools
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Sum
from django.db.models.functions import Greatest
from django.utils import timezone

from core import roles
from core.calendar import promised_ship_date
from core.errors import DomainError, InvalidTransition, OutOfStock, ValidationFailed
from core.money import quantize
from core.sequences import sequence_next
from customers.models import Address, Customer
from customers.services import (
    ADDRESS_FIELDS,
    address_errors,
    address_remember,
    address_values,
    customer_get_or_create,
)
from inventory.models import Product, Warehouse
from inventory.selectors import availability_for, waiting_backorders
from inventory.services import (
    Demand,
    ReservationPlan,
    backorder_cancel,
    reservations_allocate,
    stock_release,
    stock_reserve,
    stock_reserve_at,
)

from .choices import (
    ORDER_TRANSITIONS,
    EventSource,
    EventType,
    FulfillmentStatus,
    HoldCode,
    NotificationKind,
    NotificationStatus,
    OrderStatus,
)
from .models import Notification, Order, OrderEvent, OrderLine, SalesChannel, line_demand_ref

ORDER_NUMBER_START = 10000
DUPLICATE_EXTERNAL_ID = (
    "duplicate_external_id"  # DomainError.code: the channel has this external id
)
ORDER_NUMBER_SEQUENCE = "orders_order_number_seq"


def order_number_next() -> str:
    """The next order number. Unlike invoices, order numbers need not be gapless, so on
    PostgreSQL they come from a native sequence: no row lock held until commit, so
    concurrent placements do not queue behind each other. Elsewhere the Sequence table."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [ORDER_NUMBER_SEQUENCE])
            value = cursor.fetchone()[0]
    else:
        value = sequence_next(name="order")
    return f"{settings.ORDER_NUMBER_PREFIX}{ORDER_NUMBER_START + value}"


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


def notification_queue(
    *, order: Order, kind: str, key: str = "", payload: dict | None = None, fresh: bool = False
) -> Notification | None:
    """Write the durable row for a customer email and send it after commit. The same
    (order, kind, key) is queued once, however often this is called; ``fresh`` says the
    order was created in this transaction, so there is nothing to look up."""
    from .tasks import send_notification

    dedupe_key = f"{order.pk}:{kind}:{key}"
    fields = {"order": order, "kind": kind, "recipient": order.email, "payload": payload or {}}
    if fresh:
        notification, created = Notification(dedupe_key=dedupe_key, **fields), True
        _insert_new([notification])
    else:
        notification, created = Notification.objects.get_or_create(
            dedupe_key=dedupe_key, defaults=fields
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
            n.save(
                update_fields=[
                    "status",
                    "sent_at",
                    "subject",
                    "last_error",
                    "attempts",
                    "updated_at",
                ]
            )
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
        Notification.objects.filter(pk=notification_id).exclude(
            status=NotificationStatus.SENT
        ).update(
            attempts=F("attempts") + 1,
            last_error=f"{exc.__class__.__name__}: {exc}"[:2000],
            updated_at=timezone.now(),
        )
        Notification.objects.filter(
            pk=notification_id,
            status=NotificationStatus.PENDING,
            attempts__gte=NOTIFICATION_MAX_ATTEMPTS,
        ).update(status=NotificationStatus.FAILED)
        raise


# ---------------------------------------------------------------- derived statuses


def _derive_fulfillment(lines: list[OrderLine]) -> str:
    """From the line counts; cancelled units do not count. A fully cancelled line is ignored."""
    lines = [ln for ln in lines if ln.quantity - ln.quantity_cancelled > 0 or ln.quantity_shipped]
    total = sum(ln.quantity - ln.quantity_cancelled for ln in lines)
    returned = sum(ln.quantity_returned for ln in lines)
    shipped = sum(ln.quantity_shipped for ln in lines)
    delivered = sum(ln.quantity_delivered for ln in lines)
    covered = sum(
        min(ln.quantity - ln.quantity_cancelled, ln.quantity_shipped + ln.quantity_reserved)
        for ln in lines
    )
    reserved = sum(ln.quantity_reserved for ln in lines)
    if total and returned >= total:
        return FulfillmentStatus.RETURNED
    if returned:
        return FulfillmentStatus.PARTIALLY_RETURNED
    if total and delivered >= total:
        return FulfillmentStatus.DELIVERED
    if total and shipped >= total:
        return FulfillmentStatus.SHIPPED
    if shipped:
        return FulfillmentStatus.PARTIALLY_SHIPPED
    if total and covered >= total:
        return FulfillmentStatus.RESERVED
    if reserved:
        return FulfillmentStatus.PARTIALLY_RESERVED
    return FulfillmentStatus.UNFULFILLED


def _totals(lines: list[OrderLine], shipping_total: Decimal) -> dict[str, Decimal]:
    """Order totals from the lines still sold (cancelled units excluded). Rounds per line."""
    subtotal = sum((ln.net_total for ln in lines), Decimal("0.00"))
    tax_total = sum((ln.tax_total for ln in lines), Decimal("0.00"))
    return {
        "subtotal": subtotal,
        "tax_total": tax_total,
        "shipping_total": shipping_total,
        "total": subtotal + tax_total + shipping_total,
    }


FINISHED_FULFILLMENT = {
    FulfillmentStatus.DELIVERED,
    FulfillmentStatus.RETURNED,
    FulfillmentStatus.PARTIALLY_RETURNED,
}
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
        order_event_add(
            order=locked,
            type=EventType.CLOSED,
            message="Order closed: delivered and settled.",
            source=EventSource.SYSTEM,
        )
    if fields:
        locked.save(update_fields=[*fields, "updated_at"])
    _refresh(order, locked)
    return order


def _refresh(target: Order, source: Order) -> None:
    for f in (
        "status",
        "fulfillment_status",
        "payment_status",
        "hold_reason",
        "hold_code",
        "cancel_reason",
        "closed_at",
        "cancelled_at",
        "updated_at",
    ):
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


def _shortage_message(shortage: dict, substitutes: dict[int, list[tuple[Product, int]]]) -> str:
    text = f"Only {shortage['available']} of {shortage['sku']} available; {shortage['requested']} requested."
    offers = [
        f"{p.sku} ({n} available)" for p, n in substitutes.get(shortage["product_id"], []) if n > 0
    ]
    if offers:
        text += " Substitutes: " + ", ".join(offers) + "."
    return text


def substitutes_with_availability(*, product_ids) -> dict[int, list[tuple[Product, int]]]:
    """For each product, its active substitutes and what is available of them."""
    through = Product.substitutes.through
    pairs = list(
        through.objects.filter(
            from_product_id__in=list(product_ids), to_product__active=True
        ).select_related("to_product")
    )
    atp = availability_for(product_ids={p.to_product_id for p in pairs})
    result: dict[int, list[tuple[Product, int]]] = {}
    for pair in pairs:
        result.setdefault(pair.from_product_id, []).append(
            (pair.to_product, atp[pair.to_product_id].available)
        )
    return result


def _lines_digest(lines: list[LineInput]) -> str:
    """The same products in the same quantities give the same digest (order does not matter)."""
    import hashlib

    text = ";".join(f"{pid}x{q}" for pid, q in sorted((ln.product.pk, ln.quantity) for ln in lines))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class _Lookup:
    customer: Customer | None
    address_known: bool = False
    has_addresses: bool = False
    duplicate_of: str | None = None
    external_id_taken_by: str | None = None
    next_number: int | None = None  # the order number sequence's next value (PostgreSQL)


def model_from_row(model, fields: list, values) -> object:
    """A model instance from a row read with plain SQL (the hot paths of placement and the
    API): PostgreSQL's driver returns Python values already; elsewhere (SQLite) the fields'
    database converters run, as the ORM would run them."""
    if connection.vendor != "postgresql":
        converted = []
        for f, value in zip(fields, values, strict=True):
            col = f.get_col(model._meta.db_table)
            for convert in connection.ops.get_db_converters(col) + f.get_db_converters(connection):
                value = convert(value, col, connection)
            converted.append(value)
        values = converted
    return model.from_db(connection.alias, [f.attname for f in fields], values)


@functools.cache
def _customer_lookup_sql() -> tuple[str, list]:
    """The SQL of _customer_lookup, built once from the models' own table and column names."""
    qn = connection.ops.quote_name
    fields = list(Customer._meta.concrete_fields)
    columns = ", ".join(f"c.{qn(f.column)}" for f in fields)
    address = Address._meta.db_table
    order = Order._meta.db_table
    same_address = " AND ".join(f"a.{qn(k)} = %s" for k in ADDRESS_FIELDS)
    sql = (
        f"SELECT {columns}, "  # noqa: S608 (only model metadata is interpolated)
        f"EXISTS (SELECT 1 FROM {qn(address)} a WHERE a.customer_id = c.id AND {same_address}), "
        f"EXISTS (SELECT 1 FROM {qn(address)} b WHERE b.customer_id = c.id), "
        f"(SELECT o.number FROM {qn(order)} o WHERE o.customer_id = c.id AND o.lines_digest = %s "
        "AND o.placed_at >= %s AND o.status <> %s ORDER BY o.placed_at DESC LIMIT 1), "
        f"(SELECT t.number FROM {qn(order)} t WHERE t.channel_id = %s AND t.external_id = %s LIMIT 1), "
        # The next order number in the same round trip (numbers may have gaps: see order_number_next).
        + ("nextval(%s) " if connection.vendor == "postgresql" else "NULL ")
        + f"FROM (SELECT 1 AS one) AS one LEFT JOIN {qn(Customer._meta.db_table)} c ON "
    )
    return sql, fields


def _customer_lookup(
    *,
    customer: Customer | None,
    email: str,
    address: dict,
    digest: str,
    channel: SalesChannel,
    external_id: str,
) -> _Lookup:
    """One statement: the customer (by pk or email), whether the address is in their book,
    whether they placed the same lines moments ago (a probable duplicate), and which order
    of the channel has this external id already. Plain SQL because placement is the hot
    path: the same query through the ORM cost about 2 ms of CPU to compile."""
    sql, fields = _customer_lookup_sql()
    values = address_values(address)
    window = timezone.now() - timedelta(minutes=settings.DUPLICATE_ORDER_WINDOW_MINUTES)
    params = [
        *(values[k] for k in ADDRESS_FIELDS),
        digest,
        window,
        OrderStatus.CANCELLED,
        channel.pk,
        external_id or None,
    ]
    if connection.vendor == "postgresql":
        params.append(ORDER_NUMBER_SEQUENCE)
    if customer is not None:
        sql += "c.id = %s"
        params.append(customer.pk)
    else:  # lower(email) = ..., so the unique index on lower(email) is used
        sql += "lower(c.email) = %s"
        params.append(email.strip().lower())
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    n = len(fields)
    taken, next_number = row[n + 3], row[n + 4]
    if row[0] is None:
        return _Lookup(customer=None, external_id_taken_by=taken, next_number=next_number)
    found = customer if customer is not None else model_from_row(Customer, fields, row[:n])
    return _Lookup(
        customer=found,
        address_known=bool(row[n]),
        has_addresses=bool(row[n + 1]),
        duplicate_of=row[n + 2],
        external_id_taken_by=taken,
        next_number=next_number,
    )


def _automatic_holds(
    order: Order, *, address_problems: dict, duplicate_of: str | None
) -> list[tuple[str, str]]:
    """Reasons to hold a new order before it ships, most pressing first."""
    holds = []
    if address_problems:
        missing = ", ".join(
            sorted(k.removeprefix("ship_").replace("_", " ") for k in address_problems)
        )
        holds.append((HoldCode.ADDRESS, f"Incomplete address: {missing}."))
    if duplicate_of:
        holds.append(
            (
                HoldCode.DUPLICATE,
                f"Probable duplicate of {duplicate_of} (same customer and lines "
                f"within {settings.DUPLICATE_ORDER_WINDOW_MINUTES} minutes).",
            )
        )
    if order.total > settings.HOLD_ORDERS_ABOVE:
        holds.append(
            (
                HoldCode.HIGH_VALUE,
                f"Total {order.total} {order.currency} is above the review "
                f"threshold of {settings.HOLD_ORDERS_ABOVE}.",
            )
        )
    if order.payment_method in settings.PAY_BEFORE_SHIPPING_METHODS:
        holds.append(
            (
                HoldCode.PAYMENT,
                f"Waiting for payment ({order.payment_method.replace('_', ' ')}) before shipping.",
            )
        )
    return holds


def _reserve_in(
    *, demands: list[Demand], warehouse: Warehouse, actor, reference: str
) -> ReservationPlan:
    """Reserve every demand in this one warehouse (no backorders), described as a plan."""
    stock_reserve_at(demands=demands, warehouse=warehouse, actor=actor, reference=reference)
    return ReservationPlan(
        allocations={d.ref: [(warehouse.pk, d.quantity)] for d in demands},
        explanation=f"Reserved in {warehouse.code} ({warehouse.name}), where the goods are taken from.",
        handling_days=warehouse.handling_days,
    )


_PLAIN_FIELD_TYPES = (
    models.CharField,
    models.TextField,
    models.EmailField,
    models.SlugField,
    models.IntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.SmallIntegerField,
    models.BigIntegerField,
    models.BooleanField,
    models.DecimalField,
    models.DateField,
    models.DateTimeField,
    models.ForeignKey,
)


def _insert_new(objs: list) -> None:
    """INSERT new rows of one model in one plain statement and give them their primary keys:
    what ``bulk_create`` does, without its query machinery (placement is the hot path, and
    for a handful of rows that machinery cost more CPU than the rows). Fields are prepared
    by the model's own fields (defaults, auto_now, JSON, decimals)."""
    if not objs:
        return
    model = type(objs[0])
    if not connection.features.can_return_rows_from_bulk_insert:
        model.objects.bulk_create(objs)
        return
    opts = model._meta
    fields = [f for f in opts.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    # psycopg adapts str, int, bool, Decimal, date and aware datetimes as Django would, so on
    # PostgreSQL those fields pass their value as is (auto_now fields still stamp it).
    plain = _PLAIN_FIELD_TYPES if connection.vendor == "postgresql" else ()

    def prep(f, obj):
        if (
            type(f) in plain
            and not getattr(f, "auto_now", False)
            and not getattr(f, "auto_now_add", False)
        ):
            return getattr(obj, f.attname)
        return f.get_db_prep_save(f.pre_save(obj, True), connection)

    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {qn(opts.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608 (metadata only)
        f"VALUES {', '.join([row] * len(objs))} RETURNING {qn(opts.pk.column)}"
    )
    params = [prep(f, obj) for obj in objs for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pks = cursor.fetchall()
    for obj, (pk,) in zip(objs, pks, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


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
    warehouse: Warehouse | None = None,
) -> Order:
    """Place an order and reserve its stock in the same transaction, or change nothing.

    ``warehouse`` reserves every line in that one warehouse (a counter sale: the goods are on
    the store's shelves) instead of choosing by priority; nothing is backordered there, so a
    short line fails the placement as any other shortage does. The order returned carries its
    lines as written in ``placed_lines`` (line order), so a caller need not read them back.

    Products that may be backordered reserve what exists and backorder the rest; any other
    short line fails the whole placement with ValidationFailed naming each short line and its
    substitutes (``lines-<i>-quantity``). Staff get per-field address errors; orders from the
    API and channels with an incomplete address are kept and put on hold instead, as are
    probable duplicates, orders above the review threshold and orders to be paid first."""
    staff = source == EventSource.STAFF
    if staff:
        roles.check_role(actor, roles.PLACE_ORDER)
    errors = _validate_lines(lines)
    address_problems = address_errors(address, prefix="ship_")
    if staff:
        errors.update(address_problems)
    if customer is None and (not email.strip() or "@" not in email):
        errors["email"] = ["Enter the customer's email address."]
    if shipping_total is None or shipping_total < 0:
        errors["shipping_total"] = ["Shipping cannot be negative."]
    if errors:
        raise ValidationFailed(errors)
    overridden = [
        ln
        for ln in lines
        if ln.unit_price is not None and quantize(ln.unit_price) != ln.product.price
    ]
    if overridden and staff:
        roles.check_role(
            actor, roles.OVERRIDE_PRICE, "Only a Manager may change prices or give discounts."
        )

    digest = _lines_digest(lines)
    lookup = _customer_lookup(
        customer=customer,
        email=email,
        address=address,
        digest=digest,
        channel=channel,
        external_id=external_id,
    )
    if lookup.external_id_taken_by:
        raise DomainError(
            f"Order {lookup.external_id_taken_by} already has external id {external_id!r} in "
            f"{channel.name}; it was not placed again.",
            field="external_id",
            code=DUPLICATE_EXTERNAL_ID,
        )
    found = lookup.customer
    if found is None and not name.strip():
        raise ValidationFailed({"name": ["Enter the customer's name."]})
    customer = customer_get_or_create(
        email=email, name=name, phone=phone, existing=found, looked_up=True
    )
    if not address_problems:
        address_remember(
            customer=customer,
            data=address,
            known=lookup.address_known,
            first=not lookup.has_addresses,
        )

    if lookup.next_number is not None:  # taken by the lookup: one round trip fewer
        number = f"{settings.ORDER_NUMBER_PREFIX}{ORDER_NUMBER_START + lookup.next_number}"
    else:
        number = order_number_next()
    demands = [
        Demand(
            ref=line_demand_ref(number, i + 1),
            product_id=ln.product.pk,
            quantity=ln.quantity,
            label=ln.product.sku,
            allow_backorder=ln.product.allow_backorder,
        )
        for i, ln in enumerate(lines)
    ]
    try:
        if warehouse is None:
            plan = stock_reserve(demands=demands, actor=actor, reference=number, fresh=True)
        else:
            plan = _reserve_in(demands=demands, warehouse=warehouse, actor=actor, reference=number)
    except OutOfStock as exc:
        by_ref = {d.ref: i for i, d in enumerate(demands)}
        subs = substitutes_with_availability(product_ids={s["product_id"] for s in exc.shortages})
        raise ValidationFailed(
            {
                f"lines-{by_ref[s['ref']]}-quantity": [_shortage_message(s, subs)]
                for s in exc.shortages
            }
        ) from exc

    order_lines = []
    for i, ln in enumerate(lines):
        price = quantize(ln.product.price if ln.unit_price is None else ln.unit_price)
        ref = demands[i].ref
        order_lines.append(
            OrderLine(
                line_no=i + 1,
                product=ln.product,
                sku=ln.product.sku,
                name=ln.product.name,
                unit_price=price,
                list_price=ln.product.price if price != ln.product.price else None,
                tax_rate=ln.product.tax_rate,
                quantity=ln.quantity,
                quantity_reserved=sum(q for _, q in plan.allocations[ref]),
                quantity_backordered=plan.backordered.get(ref, 0),
            )
        )
    shipping_total = quantize(shipping_total)
    totals = _totals(order_lines, shipping_total)
    placed_at = timezone.now()
    order = Order(
        number=number,
        channel=channel,
        external_id=external_id,
        customer=customer,
        email=customer.email,
        phone=phone or customer.phone,
        ship_name=(address.get("name") or "").strip(),
        ship_line1=(address.get("line1") or "").strip(),
        ship_line2=(address.get("line2") or "").strip(),
        ship_city=(address.get("city") or "").strip(),
        ship_region=(address.get("region") or "").strip(),
        ship_postal_code=(address.get("postal_code") or "").strip(),
        ship_country=(address.get("country") or "").strip().upper(),
        currency=currency or settings.DEFAULT_CURRENCY,
        **totals,
        status=OrderStatus.OPEN,
        shipping_method=shipping_method,
        payment_method=payment_method,
        notes=notes,
        placed_at=placed_at,
        created_by=actor if getattr(actor, "pk", None) else None,
        promised_ship_date=promised_ship_date(
            placed_at=placed_at, cutoff=channel.cutoff_time, handling_days=plan.handling_days
        ),
        fulfillment_status=_derive_fulfillment(order_lines),
        lines_digest=digest,
    )
    holds = _automatic_holds(
        order, address_problems=address_problems, duplicate_of=lookup.duplicate_of
    )
    if holds:  # decided before the insert, so a held order is written once
        order.status = OrderStatus.ON_HOLD
        order.hold_code = holds[0][0]
        order.hold_reason = " ".join(r for _, r in holds)
    _insert_new([order])
    for ol in order_lines:
        ol.order = order
    _insert_new(order_lines)
    order.placed_lines = (
        order_lines  # as written, in line order: the caller's answer needs no read-back
    )
    actor_row = actor if getattr(actor, "pk", None) else None
    events = [
        OrderEvent(
            order=order,
            type=EventType.PLACED,
            actor=actor_row,
            source=source,
            message=f"Order placed through {channel.name}: {len(lines)} line(s), total {order.total} {order.currency}."
            + (
                f" Prices set by hand on {', '.join(ln.product.sku for ln in overridden)}."
                if overridden
                else ""
            ),
            customer_message="Order placed. Thank you!",
            visible_to_customer=True,
            payload={
                "channel": channel.slug,
                "lines": [{"sku": ol.sku, "quantity": ol.quantity} for ol in order_lines],
            },
        ),
        OrderEvent(
            order=order,
            type=EventType.RESERVED,
            actor=actor_row,
            source=EventSource.SYSTEM,
            message=plan.explanation,
            payload={"allocations": plan.allocations, "backordered": plan.backordered},
        ),
    ]
    waiting_items = []
    if plan.backordered:
        expected = _expected_dates([ln.product_id for ln in order_lines if ln.quantity_backordered])
        waiting_items = [
            {
                "name": ol.name,
                "quantity": ol.quantity_backordered,
                "expected": expected[ol.product_id].strftime("%d %b")
                if expected.get(ol.product_id)
                else "",
            }
            for ol in order_lines
            if ol.quantity_backordered
        ]
        waiting = ", ".join(
            f"{ol.quantity_backordered} × {ol.name}"
            + (
                f" (expected {expected[ol.product_id]:%d %b})"
                if expected.get(ol.product_id)
                else ""
            )
            for ol in order_lines
            if ol.quantity_backordered
        )
        events.append(
            OrderEvent(
                order=order,
                type=EventType.BACKORDERED,
                actor=actor_row,
                source=EventSource.SYSTEM,
                message=f"Backordered: {waiting}.",
                visible_to_customer=True,
                customer_message=f"Some items are on their way to us and will follow: {waiting}.",
                payload={"backordered": plan.backordered},
            )
        )
    if holds:
        events.append(
            OrderEvent(
                order=order,
                type=EventType.HELD,
                source=EventSource.SYSTEM,
                message=f"Put on hold automatically: {order.hold_reason}",
                payload={"codes": [c for c, _ in holds]},
            )
        )
    _insert_new(events)
    notification_queue(
        order=order,
        kind=NotificationKind.ORDER_CONFIRMATION,
        fresh=True,
        payload={"backordered": waiting_items} if waiting_items else None,
    )
    return order


def _expected_dates(product_ids) -> dict:
    from inventory.models import ExpectedReceipt

    dates = {}
    for pid, day in (
        ExpectedReceipt.objects.filter(product_id__in=list(product_ids), status="open")
        .order_by("expected_on")
        .values_list("product_id", "expected_on")
    ):
        dates.setdefault(pid, day)
    return dates


# ---------------------------------------------------------------- holds and cancellation


@transaction.atomic
def order_hold(
    *,
    order: Order,
    reason: str,
    actor,
    source: str = EventSource.STAFF,
    code: str = HoldCode.MANUAL,
) -> Order:
    if source == EventSource.STAFF:
        roles.check_role(actor, roles.CANCEL_ORDER)
    if not reason.strip():
        raise DomainError("Say why the order is held.", field="reason")
    locked = _transition(order, OrderStatus.ON_HOLD)
    locked.hold_reason = reason.strip()
    locked.hold_code = code
    locked.save(update_fields=["status", "hold_reason", "hold_code", "updated_at"])
    order_event_add(
        order=locked,
        type=EventType.HELD,
        actor=actor,
        source=source,
        message=f"Put on hold: {locked.hold_reason}",
    )
    _refresh(order, locked)
    order.hold_code = locked.hold_code
    return order


@transaction.atomic
def order_release(*, order: Order, actor, source: str = EventSource.STAFF) -> Order:
    """Release a hold. Orders held for their value need a manager; a payment hold is
    released by the payment itself (source system) or by staff who know it was paid."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if source == EventSource.STAFF:
        needed = (
            roles.RELEASE_HIGH_VALUE_HOLD
            if locked.hold_code == HoldCode.HIGH_VALUE
            else roles.RELEASE_HOLD
        )
        roles.check_role(
            actor,
            needed,
            "Only a Manager may release an order held for its value."
            if locked.hold_code == HoldCode.HIGH_VALUE
            else None,
        )
    locked = _transition(order, OrderStatus.OPEN)
    reason = locked.hold_reason
    locked.hold_reason = ""
    locked.hold_code = ""
    locked.save(update_fields=["status", "hold_reason", "hold_code", "updated_at"])
    order_event_add(
        order=locked,
        type=EventType.RELEASED,
        actor=actor,
        source=source,
        message=f"Hold released (was: {reason})." if reason else "Hold released.",
    )
    _refresh(order, locked)
    order.hold_code = ""
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
    allocated = [ln for ln in lines if ln.quantity_allocated]
    if allocated:
        units = sum(ln.quantity_allocated for ln in allocated)
        which = ", ".join(
            f"line {ln.line_no} ({ln.sku}): {ln.quantity_allocated}" for ln in allocated
        )
        raise DomainError(
            f"{units} unit(s) of order {locked.number} are {IN_OPEN_SHIPMENT} ({which}). "
            "Cancel the open shipments first, then the order.",
            code="in_shipment",
        )
    released = 0
    for ln in lines:
        ref = line_demand_ref(locked.number, ln.line_no)
        released += stock_release(
            demand_ref=ref,
            actor=actor,
            reference=locked.number,
            reason=f"Order cancelled: {reason.strip()}",
        )
        backorder_cancel(demand_ref=ref)
    OrderLine.objects.filter(order=locked).update(quantity_reserved=0, quantity_backordered=0)
    locked.cancel_reason = reason.strip()
    locked.cancelled_at = timezone.now()
    locked.save(update_fields=["status", "cancel_reason", "cancelled_at", "updated_at"])
    order_event_add(
        order=locked,
        type=EventType.CANCELLED,
        actor=actor,
        source=source,
        message=f"Cancelled: {locked.cancel_reason}. {released} reserved unit(s) released.",
        customer_message="Your order was cancelled.",
        payload={
            "released": released,
            "refund_due": locked.payment_status in SETTLED_PAYMENT | {"partially_paid"},
        },
    )
    notification_queue(
        order=locked,
        kind=NotificationKind.ORDER_CANCELLED,
        payload={"reason": locked.cancel_reason},
    )
    order_recompute(order=locked)
    _refresh(order, locked)
    return order


# ---------------------------------------------------------------- line counters moved by fulfillment and returns


def _lock_lines(order: Order, quantities: dict[int, int]) -> dict[int, OrderLine]:
    lines = {
        ln.pk: ln
        for ln in OrderLine.objects.select_for_update()
        .filter(order=order, pk__in=list(quantities))
        .order_by("pk")
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
            raise DomainError(
                f"Line {ln.line_no} ({ln.sku}) has only {ln.quantity_reserved} reserved."
            )
        # Units leaving in a shipment were allocated to it; a counter sale's were not.
        OrderLine.objects.filter(pk=line_id).update(
            quantity_shipped=F("quantity_shipped") + qty,
            quantity_reserved=F("quantity_reserved") - qty,
            quantity_allocated=Greatest(F("quantity_allocated") - qty, 0),
        )
    return order_recompute(order=order)


@transaction.atomic
def order_lines_allocated(*, order: Order, deltas: dict[int, int], warehouse_id: int) -> None:
    """Units of these lines went into (positive) or came out of (negative) open shipments of
    one warehouse. Called by fulfillment, so edits and cancellations can refuse to take them
    away: counted on the line, and on the warehouse's reservation (a release never takes
    allocated units, so it frees the units of the other warehouse of a split line)."""
    lines = {
        ln.pk: ln
        for ln in OrderLine.objects.select_for_update()
        .filter(order=order, pk__in=list(deltas))
        .order_by("pk")
    }
    if set(deltas) - set(lines):
        raise DomainError("A line does not belong to this order.")
    for line_id, delta in deltas.items():
        ln = lines[line_id]
        if not 0 <= ln.quantity_allocated + delta <= ln.quantity_reserved:
            raise DomainError(
                f"Line {ln.line_no} ({ln.sku}): {ln.quantity_reserved} reserved, "
                f"{ln.quantity_allocated} already in shipments."
            )
        if delta:
            OrderLine.objects.filter(pk=line_id).update(
                quantity_allocated=F("quantity_allocated") + delta
            )
    reservations_allocate(
        warehouse_id=warehouse_id,
        deltas={line_demand_ref(order.number, lines[i].line_no): d for i, d in deltas.items()},
    )


@transaction.atomic
def order_lines_delivered(*, order: Order, quantities: dict[int, int]) -> Order:
    lines = _lock_lines(order, quantities)
    for line_id, qty in quantities.items():
        ln = lines[line_id]
        if ln.quantity_delivered + qty > ln.quantity_shipped:
            raise DomainError(f"Line {ln.line_no} ({ln.sku}): more delivered than shipped.")
        OrderLine.objects.filter(pk=line_id).update(
            quantity_delivered=F("quantity_delivered") + qty
        )
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


# ---------------------------------------------------------------- receipts fill backorders


def _parse_demand_ref(ref: str) -> tuple[str, int] | None:
    parts = ref.split(":")
    if len(parts) != 3 or parts[0] != "order":
        return None
    return parts[1], int(parts[2])


@transaction.atomic
def stock_receipt_record(
    *,
    product: Product,
    warehouse,
    quantity: int,
    actor,
    reference: str = "",
    reason: str = "",
    expected_receipt=None,
):
    """Receive stock and fill waiting backorders, oldest order first; each order's lines,
    timeline and customer hear of it. The way every face receives stock.

    Lock order: the orders waiting for this product first (primary-key order), then the stock
    level, backorders and reservations: the same order as a cancellation takes, so a receipt
    and a cancel of the same order never deadlock."""
    from inventory.services import backorders_fill, stock_receive

    waiting = {}
    for ref in waiting_backorders(product_id=product.pk):
        parsed = _parse_demand_ref(ref)
        if parsed:
            waiting[ref] = parsed
    orders = {
        o.number: o
        for o in Order.objects.select_for_update()
        .filter(
            number__in={n for n, _ in waiting.values()},
            status__in=[OrderStatus.OPEN, OrderStatus.ON_HOLD],
        )
        .order_by("pk")
    }
    level = stock_receive(
        product=product,
        warehouse=warehouse,
        quantity=quantity,
        actor=actor,
        reference=reference,
        reason=reason,
    )
    if expected_receipt is not None:
        from inventory.services import expected_receipt_mark_received

        expected_receipt_mark_received(expected_receipt=expected_receipt, quantity=quantity)
    fillable = [ref for ref, (number, _) in waiting.items() if number in orders]
    fills = backorders_fill(
        product=product,
        warehouse=warehouse,
        actor=actor,
        reference=reference or f"receipt {warehouse.code}",
        demand_refs=fillable,
    )
    by_order: dict[str, list[tuple[int, int]]] = {}
    for ref, qty in fills:
        number, line_no = waiting[ref]
        by_order.setdefault(number, []).append((line_no, qty))
    for number, filled in by_order.items():
        order = orders[number]
        items = []
        for line_no, qty in filled:
            OrderLine.objects.filter(order=order, line_no=line_no).update(
                quantity_reserved=F("quantity_reserved") + qty,
                quantity_backordered=F("quantity_backordered") - qty,
            )
            items.append({"name": product.name, "sku": product.sku, "quantity": qty})
        still_waiting = OrderLine.objects.filter(order=order, quantity_backordered__gt=0).exists()
        text = ", ".join(f"{i['quantity']} × {i['name']}" for i in items)
        order_event_add(
            order=order,
            type=EventType.BACKORDER_FILLED,
            actor=actor,
            source=EventSource.SYSTEM,
            message=f"Backorder filled from receipt in {warehouse.code}: {text}.",
            customer_message=f"Backordered items arrived: {text}.",
            payload={"items": items, "warehouse": warehouse.code},
        )
        notification_queue(
            order=order,
            kind=NotificationKind.BACKORDER_FILLED,
            key=f"{number}:{product.sku}:{level.on_hand}:{sum(q for _, q in filled)}",
            payload={"items": items, "complete": not still_waiting},
        )
        order_recompute(order=order)
    return level


# ---------------------------------------------------------------- cancel a line, edit before shipping


def _reduce_line(
    order: Order, line: OrderLine, quantity: int, *, actor, reason: str
) -> tuple[int, int]:
    """Take ``quantity`` unshipped units off a line: backordered ones first, then reserved.
    Returns (from backorder, from reservation)."""
    ref = line_demand_ref(order.number, line.line_no)
    from_backorder = backorder_cancel(
        demand_ref=ref, quantity=min(quantity, line.quantity_backordered)
    )
    from_reserved = quantity - from_backorder
    if from_reserved:
        released = stock_release(
            demand_ref=ref,
            quantity=min(from_reserved, line.quantity_reserved),
            actor=actor,
            reference=order.number,
            reason=reason,
        )
        from_reserved = released
    return from_backorder, from_reserved


IN_OPEN_SHIPMENT = "in an open shipment (to pick, being picked or packed)"


def _in_shipment_error(ln: OrderLine, *, wanted: int) -> str:
    """Why units of a line cannot be taken away: they sit in an open shipment. Orders cannot
    read shipments (layers), so this names the counts; the order page names the shipments."""
    free = ln.quantity_open - ln.quantity_allocated
    text = (
        f"{ln.quantity_allocated} of {ln.quantity_open} unshipped unit(s) of line {ln.line_no} ({ln.sku}) "
        f"are {IN_OPEN_SHIPMENT}; cancel that shipment first"
    )
    if free > 0 and wanted > free:
        text += f", or take away at most {free}"
    return text + "."


def _recompute_totals(order: Order) -> None:
    lines = list(OrderLine.objects.filter(order=order))
    totals = _totals(lines, order.shipping_total)
    Order.objects.filter(pk=order.pk).update(**totals)
    for k, v in totals.items():
        setattr(order, k, v)


def _refund_due(order: Order) -> bool:
    paid = order.payments.aggregate(s=Sum("amount"))["s"] or Decimal("0")
    refunded = order.refunds.aggregate(s=Sum("amount"))["s"] or Decimal("0")
    return paid - refunded > order.total


@transaction.atomic
def order_line_cancel(
    *,
    order: Order,
    line: OrderLine,
    quantity: int,
    reason: str,
    actor,
    source: str = EventSource.STAFF,
) -> Order:
    """Cancel unshipped units of one line: stock goes back, totals shrink, the customer is told.
    Cancelling everything left on the order cancels the order."""
    if source == EventSource.STAFF:
        roles.check_role(actor, roles.CANCEL_ORDER)
    if not reason.strip():
        raise DomainError("Say why the line is cancelled.", field="reason")
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.status not in (OrderStatus.OPEN, OrderStatus.ON_HOLD):
        raise InvalidTransition(
            f"Order {locked.number} is {locked.get_status_display().lower()}; its lines cannot change."
        )
    lines = {
        x.pk: x for x in OrderLine.objects.select_for_update().filter(order=locked).order_by("pk")
    }
    ln = lines.get(line.pk)
    if ln is None:
        raise DomainError("That line is not on this order.")
    cancellable = ln.quantity_open
    if quantity is None or quantity <= 0:
        raise DomainError("Cancel at least one unit.", field="quantity")
    if quantity > cancellable:
        raise DomainError(
            f"Only {cancellable} of {ln.sku} can still be cancelled (the rest has shipped).",
            field="quantity",
        )
    if quantity > cancellable - ln.quantity_allocated:
        raise DomainError(
            _in_shipment_error(ln, wanted=quantity), field="quantity", code="in_shipment"
        )
    nothing_else_left = all(x.quantity_open == 0 for x in lines.values() if x.pk != ln.pk)
    if (
        quantity == cancellable
        and nothing_else_left
        and not any(x.quantity_shipped for x in lines.values())
    ):
        # Nothing would be left to ship and nothing has shipped: this cancels the order.
        return order_cancel(order=order, reason=reason, actor=actor, source=source)
    from_backorder, from_reserved = _reduce_line(
        locked, ln, quantity, actor=actor, reason=f"Line cancelled: {reason.strip()}"
    )
    OrderLine.objects.filter(pk=ln.pk).update(
        quantity_cancelled=F("quantity_cancelled") + quantity,
        quantity_backordered=F("quantity_backordered") - from_backorder,
        quantity_reserved=F("quantity_reserved") - from_reserved,
    )
    _recompute_totals(locked)
    refund_due = _refund_due(locked)
    change = f"{quantity} × {ln.name} cancelled"
    order_event_add(
        order=locked,
        type=EventType.LINE_CANCELLED,
        actor=actor,
        source=source,
        message=f"{quantity} × {ln.sku} cancelled: {reason.strip()}. New total {locked.total} {locked.currency}."
        + (" Paid more than the new total: refund due." if refund_due else ""),
        customer_message=f"{change}.",
        payload={"line": ln.line_no, "quantity": quantity, "refund_due": refund_due},
    )
    notification_queue(
        order=locked,
        kind=NotificationKind.ORDER_CHANGED,
        key=f"cancel:{ln.pk}:{ln.quantity_cancelled + quantity}",
        payload={"changes": [f"{change}."], "refund_due": refund_due},
    )
    order_recompute(order=locked)
    _refresh(order, locked)
    for k in ("subtotal", "tax_total", "total"):
        setattr(order, k, getattr(locked, k))
    return order


@dataclass(frozen=True)
class LineChange:
    """An edit: an existing line's new quantity (``line_id``), or a new line (``product``)."""

    line_id: int | None
    product: Product | None
    quantity: int
    unit_price: Decimal | None = None


ADDRESS_KEYS = ("name", "line1", "line2", "city", "region", "postal_code", "country")


@transaction.atomic
def order_edit(
    *,
    order: Order,
    actor,
    lines: list[LineChange] | None = None,
    address: dict | None = None,
    shipping_method: str | None = None,
    shipping_total: Decimal | None = None,
    source: str = EventSource.STAFF,
) -> Order:
    """Change an order before it ships: quantities, new lines, address, shipping. Stock is
    re-reserved exactly (or backordered where allowed); the timeline records the difference
    and the customer is emailed it. Nothing changes if any part is refused."""
    if source == EventSource.STAFF:
        roles.check_role(actor, roles.PLACE_ORDER)
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.status not in (OrderStatus.OPEN, OrderStatus.ON_HOLD):
        raise InvalidTransition(
            f"Order {locked.number} is {locked.get_status_display().lower()}; it can no longer be edited."
        )
    existing = {
        ln.pk: ln
        for ln in OrderLine.objects.select_for_update().filter(order=locked).order_by("pk")
    }
    errors: dict[str, list[str]] = {}
    changes: list[str] = []
    lines = lines or []
    for i, ch in enumerate(lines):
        if ch.quantity is None or ch.quantity < 0:
            errors[f"lines-{i}-quantity"] = ["Quantity cannot be negative."]
        elif ch.line_id is not None:
            ln = existing.get(ch.line_id)
            if ln is None:
                errors[f"lines-{i}-quantity"] = ["That line is not on this order."]
            elif ch.quantity < ln.quantity_shipped:
                errors[f"lines-{i}-quantity"] = [
                    f"{ln.quantity_shipped} of {ln.sku} have shipped already."
                ]
            elif ch.quantity < ln.quantity_shipped + ln.quantity_allocated:
                errors[f"lines-{i}-quantity"] = [
                    _in_shipment_error(ln, wanted=ln.quantity_effective - ch.quantity)
                    + f" The quantity cannot go below {ln.quantity_shipped + ln.quantity_allocated} until then."
                ]
        elif ch.product is None:
            errors[f"lines-{i}-sku"] = ["Choose a product."]
        elif ch.quantity == 0:
            errors[f"lines-{i}-quantity"] = ["Quantity must be at least 1."]
        elif not ch.product.active:
            errors[f"lines-{i}-sku"] = [f"{ch.product.sku} is no longer sold."]
        if ch.unit_price is not None and source == EventSource.STAFF:
            base = (
                existing[ch.line_id].unit_price
                if ch.line_id in existing
                else (ch.product.price if ch.product else None)
            )
            if base is not None and quantize(ch.unit_price) != base:
                roles.check_role(
                    actor,
                    roles.OVERRIDE_PRICE,
                    "Only a Manager may change prices or give discounts.",
                )
    if address is not None:
        errors.update(address_errors(address, prefix="ship_"))
    if shipping_total is not None and shipping_total < 0:
        errors["shipping_total"] = ["Shipping cannot be negative."]
    if errors:
        raise ValidationFailed(errors)

    increases: list[Demand] = []
    increase_lines: dict[str, tuple[OrderLine, int, int]] = {}
    next_no = max((ln.line_no for ln in existing.values()), default=0)
    new_lines: list[OrderLine] = []
    for i, ch in enumerate(lines):
        if ch.line_id is not None:
            ln = existing[ch.line_id]
            current = ln.quantity_effective
            if ch.quantity < current:
                cut = current - ch.quantity
                from_b, from_r = _reduce_line(locked, ln, cut, actor=actor, reason="Order edited")
                OrderLine.objects.filter(pk=ln.pk).update(
                    quantity_cancelled=F("quantity_cancelled") + cut,
                    quantity_backordered=F("quantity_backordered") - from_b,
                    quantity_reserved=F("quantity_reserved") - from_r,
                )
                changes.append(
                    f"{ln.name}: {current} → {ch.quantity}" if ch.quantity else f"{ln.name} removed"
                )
            elif ch.quantity > current:
                ref = line_demand_ref(locked.number, ln.line_no)
                increases.append(
                    Demand(
                        ref=ref,
                        product_id=ln.product_id,
                        quantity=ch.quantity - current,
                        label=ln.sku,
                        allow_backorder=ln.product.allow_backorder,
                    )
                )
                increase_lines[ref] = (ln, i, ch.quantity - current)
                changes.append(f"{ln.name}: {current} → {ch.quantity}")
            if ch.unit_price is not None and quantize(ch.unit_price) != ln.unit_price:
                OrderLine.objects.filter(pk=ln.pk).update(
                    unit_price=quantize(ch.unit_price), list_price=ln.list_price or ln.unit_price
                )
                changes.append(f"{ln.name}: price {ln.unit_price} → {quantize(ch.unit_price)}")
        else:
            next_no += 1
            price = quantize(ch.product.price if ch.unit_price is None else ch.unit_price)
            ln = OrderLine(
                order=locked,
                line_no=next_no,
                product=ch.product,
                sku=ch.product.sku,
                name=ch.product.name,
                unit_price=price,
                list_price=ch.product.price if price != ch.product.price else None,
                tax_rate=ch.product.tax_rate,
                quantity=ch.quantity,
            )
            new_lines.append(ln)
            ref = line_demand_ref(locked.number, next_no)
            increases.append(
                Demand(
                    ref=ref,
                    product_id=ch.product.pk,
                    quantity=ch.quantity,
                    label=ch.product.sku,
                    allow_backorder=ch.product.allow_backorder,
                )
            )
            increase_lines[ref] = (ln, i, ch.quantity)
            changes.append(f"{ch.product.name} added ({ch.quantity})")
    if increases:
        try:
            plan = stock_reserve(demands=increases, actor=actor, reference=locked.number)
        except OutOfStock as exc:
            subs = substitutes_with_availability(
                product_ids={s["product_id"] for s in exc.shortages}
            )
            raise ValidationFailed(
                {
                    f"lines-{increase_lines[s['ref']][1]}-quantity": [_shortage_message(s, subs)]
                    for s in exc.shortages
                }
            ) from exc
        for ln in new_lines:
            ref = line_demand_ref(locked.number, ln.line_no)
            ln.quantity_reserved = sum(q for _, q in plan.allocations.get(ref, []))
            ln.quantity_backordered = plan.backordered.get(ref, 0)
        OrderLine.objects.bulk_create(new_lines)
        for ref, (ln, _, extra) in increase_lines.items():
            if ln.pk and ln not in new_lines:
                reserved = sum(q for _, q in plan.allocations.get(ref, []))
                OrderLine.objects.filter(pk=ln.pk).update(
                    quantity=F("quantity") + extra,
                    quantity_reserved=F("quantity_reserved") + reserved,
                    quantity_backordered=F("quantity_backordered") + plan.backordered.get(ref, 0),
                )
    fields = []
    if address is not None:
        new = {f"ship_{k}": (address.get(k) or "").strip() for k in ADDRESS_KEYS}
        new["ship_country"] = new["ship_country"].upper()
        if any(getattr(locked, k) != v for k, v in new.items()):
            for k, v in new.items():
                setattr(locked, k, v)
            fields += list(new)
            changes.append(
                "Delivery address: " + ", ".join(p for p in locked.shipping_address_lines)
            )
    if shipping_method is not None and shipping_method != locked.shipping_method:
        changes.append(f"Shipping method: {locked.shipping_method or '—'} → {shipping_method}")
        locked.shipping_method = shipping_method
        fields.append("shipping_method")
    if shipping_total is not None and quantize(shipping_total) != locked.shipping_total:
        changes.append(f"Shipping: {locked.shipping_total} → {quantize(shipping_total)}")
        locked.shipping_total = quantize(shipping_total)
        fields.append("shipping_total")
    if not changes:
        raise DomainError("Nothing to change: the order already looks like this.")
    if fields:
        locked.save(update_fields=[*fields, "updated_at"])
    _recompute_totals(locked)
    refund_due = _refund_due(locked)
    event = order_event_add(
        order=locked,
        type=EventType.EDITED,
        actor=actor,
        source=source,
        message="Order edited: "
        + "; ".join(changes)
        + f". New total {locked.total} {locked.currency}.",
        customer_message="Your order was updated.",
        payload={"changes": changes, "total": str(locked.total), "refund_due": refund_due},
    )
    notification_queue(
        order=locked,
        kind=NotificationKind.ORDER_CHANGED,
        key=f"edit:{event.pk}",
        payload={"changes": changes, "refund_due": refund_due},
    )
    order_recompute(order=locked)
    _refresh(order, locked)
    for k in (
        "subtotal",
        "tax_total",
        "shipping_total",
        "total",
        "shipping_method",
        *[f"ship_{k}" for k in ADDRESS_KEYS],
    ):
        setattr(order, k, getattr(locked, k))
    return order
