"""Reads for the staff home and the global search. The dashboard sits on top of every layer,
so it may read every app's models and selectors; it writes nothing."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from customers.models import Customer
from fulfillment.models import Shipment
from fulfillment.selectors import orders_ready_to_pick
from inventory.models import Product
from inventory.selectors import availability_for
from invoicing.models import CreditNote, Invoice
from orders.choices import FulfillmentStatus, NotificationStatus, OrderStatus, PaymentStatus
from orders.models import Notification, Order, OrderLine
from returns.choices import OPEN_RETURN_STATUSES
from returns.models import ReturnRequest

UNPAID = [PaymentStatus.UNPAID, PaymentStatus.AUTHORIZED, PaymentStatus.PARTIALLY_PAID]
STUCK_EMAIL_AFTER = timedelta(minutes=15)


def start_of_today(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return timezone.make_aware(datetime.combine(now.date(), time.min), now.tzinfo)


def dashboard_kpis(*, user) -> dict:
    """The tiles on the staff home: a handful of cheap counts and one sum."""
    orders = Order.objects.visible_to(user)
    start = start_of_today()
    today = orders.filter(placed_at__gte=start).aggregate(
        count=Count("pk"),
        revenue=Sum(
            "total",
            filter=Q(currency=settings.DEFAULT_CURRENCY) & ~Q(status=OrderStatus.CANCELLED),
        ),
    )
    status_counts = dict(
        orders.filter(status__in=[OrderStatus.ON_HOLD])
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    unpaid = (
        Invoice.objects.filter(order__in=orders, order__payment_status__in=UNPAID)
        .exclude(order__status=OrderStatus.CANCELLED)
        .aggregate(n=Count("pk"), amount=Sum("total", filter=Q(currency=settings.DEFAULT_CURRENCY)))
    )
    return {
        "orders_today": today["count"],
        "revenue_today": today["revenue"] or Decimal("0.00"),
        "currency": settings.DEFAULT_CURRENCY,
        "to_ship": orders_ready_to_pick(user=user).count(),
        "on_hold": status_counts.get(OrderStatus.ON_HOLD, 0),
        "open_returns": ReturnRequest.objects.filter(
            order__in=orders, status__in=OPEN_RETURN_STATUSES
        ).count(),
        "unpaid_invoices": unpaid["n"],
        "unpaid_amount": unpaid["amount"] or Decimal("0.00"),
    }


def orders_per_day(*, user, days: int = 14) -> list[dict]:
    """Orders placed per day over the last ``days`` days (today included), for the bar chart."""
    start = start_of_today() - timedelta(days=days - 1)
    rows = dict(
        Order.objects.visible_to(user)
        .filter(placed_at__gte=start)
        .annotate(day=TruncDate("placed_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    out = []
    for i in range(days):
        day = (start + timedelta(days=i)).date()
        out.append({"day": day, "count": rows.get(day, 0)})
    peak = max((d["count"] for d in out), default=0) or 1
    for d in out:
        d["pct"] = round(100 * d["count"] / peak)
    return out


@dataclass
class AttentionItem:
    kind: str  # on_hold, short, email, pdf
    tone: str  # a badge tone: amber or red
    label: str
    title: str
    detail: str
    url: str
    at: datetime | None


def needs_attention(*, user, limit: int = 12) -> tuple[list[AttentionItem], dict[str, int]]:
    """The exception inbox: orders on hold, orders short of stock, customer emails that failed
    or are stuck, PDFs that failed to render. Returns (items, count per kind)."""
    orders = Order.objects.visible_to(user)
    items: list[AttentionItem] = []

    held = orders.filter(status=OrderStatus.ON_HOLD)
    for o in held.select_related("customer").order_by("updated_at")[:limit]:
        items.append(
            AttentionItem(
                "on_hold",
                "amber",
                "On hold",
                o.number,
                f"{o.hold_reason or 'No reason given'} · {o.customer.name}",
                o.get_absolute_url(),
                o.updated_at,
            )
        )

    backordered = OrderLine.objects.filter(order=OuterRef("pk"), quantity_backordered__gt=0)
    short = orders.filter(status=OrderStatus.OPEN).filter(
        Q(fulfillment_status=FulfillmentStatus.PARTIALLY_RESERVED) | Q(Exists(backordered))
    )
    short_rows = list(
        short.select_related("customer")
        .annotate(waiting=Sum("lines__quantity_backordered"))
        .order_by("placed_at")[:limit]
    )
    for o in short_rows:
        waiting = o.waiting or 0
        items.append(
            AttentionItem(
                "short",
                "amber",
                "Short of stock",
                o.number,
                (
                    f"{waiting} unit{'s' if waiting != 1 else ''} waiting for stock"
                    if waiting
                    else "Partly reserved"
                )
                + f" · {o.customer.name}",
                o.get_absolute_url(),
                o.placed_at,
            )
        )

    stuck_before = timezone.now() - STUCK_EMAIL_AFTER
    bad_mail = Notification.objects.filter(order__in=orders).filter(
        Q(status=NotificationStatus.FAILED)
        | Q(status=NotificationStatus.PENDING, updated_at__lt=stuck_before)
    )
    for n in bad_mail.select_related("order").order_by("-updated_at")[:limit]:
        failed = n.status == NotificationStatus.FAILED
        items.append(
            AttentionItem(
                "email",
                "red" if failed else "amber",
                "Email failed" if failed else "Email stuck",
                n.order.number,
                f"“{n.get_kind_display()}” email to {n.recipient}"
                + (f": {n.last_error[:90]}" if n.last_error else " · not sent yet"),
                n.order.get_absolute_url(),
                n.updated_at,
            )
        )

    bad_invoices = Invoice.objects.filter(order__in=orders, pdf_status="failed").select_related(
        "order"
    )
    bad_credit_notes = CreditNote.objects.filter(
        order__in=orders, pdf_status="failed"
    ).select_related("order")
    for doc in [
        *bad_invoices.order_by("-updated_at")[:limit],
        *bad_credit_notes.order_by("-updated_at")[:limit],
    ]:
        items.append(
            AttentionItem(
                "pdf",
                "red",
                "PDF failed",
                doc.number,
                f"Order {doc.order.number}" + (f": {doc.pdf_error[:90]}" if doc.pdf_error else ""),
                doc.order.get_absolute_url(),
                doc.updated_at,
            )
        )

    counts = {
        "on_hold": held.count(),
        "short": short.count(),
        "email": bad_mail.count(),
        "pdf": bad_invoices.count() + bad_credit_notes.count(),
    }
    red_first = {"red": 0, "amber": 1}
    items.sort(key=lambda it: (red_first.get(it.tone, 2), -(it.at.timestamp() if it.at else 0)))
    return items[:limit], counts


def recent_orders(*, user, limit: int = 10):
    return (
        Order.objects.visible_to(user)
        .select_related("customer", "channel")
        .order_by("-placed_at", "-id")[:limit]
    )


# ---------------------------------------------------------------- global search


def exact_order(*, user, text: str) -> Order | None:
    """The order whose number is ``text`` (with or without the number prefix), if any."""
    text = text.strip()
    if not text:
        return None
    numbers = [text]
    prefix = settings.ORDER_NUMBER_PREFIX
    if prefix and not text.upper().startswith(prefix.upper()):
        numbers.append(prefix + text)
    q = Q()
    for n in numbers:
        q |= Q(number__iexact=n)
    return Order.objects.visible_to(user).filter(q).first()


def global_search(*, user, text: str, limit: int = 20) -> dict:
    """Orders (number, email, customer, external id), customers, shipments (number, tracking
    number), products (SKU, barcode, name) and returns (RMA number) matching ``text``."""
    text = text.strip()
    empty = {"orders": [], "customers": [], "shipments": [], "products": [], "returns": []}
    if not text:
        return empty
    orders = Order.objects.visible_to(user)
    found = dict(empty)
    found["orders"] = list(
        orders.filter(
            Q(number__icontains=text)
            | Q(email__iexact=text)
            | Q(email__icontains=text)
            | Q(customer__name__icontains=text)
            | Q(external_id__iexact=text)
        )
        .select_related("customer", "channel")
        .order_by("-placed_at", "-id")[:limit]
    )
    if len(text) >= 2:
        found["customers"] = list(
            Customer.objects.filter(Q(email__icontains=text) | Q(name__icontains=text))
            .annotate(order_count=Count("orders"))
            .order_by("name")[:limit]
        )
    tracking = Q(tracking_number__iexact=text) | Q(number__iexact=text)
    if len(text) >= 4:
        tracking |= Q(tracking_number__icontains=text)
    found["shipments"] = list(
        Shipment.objects.filter(order__in=orders)
        .filter(tracking)
        .select_related("order", "carrier", "warehouse")
        .order_by("-created_at")[:limit]
    )
    products = list(
        Product.objects.filter(
            Q(sku__icontains=text) | Q(barcode=text) | Q(name__icontains=text)
        ).order_by("sku")[:limit]
    )
    avail = availability_for(product_ids=[p.pk for p in products])
    for p in products:
        p.available = avail[p.pk].available
    found["products"] = products
    found["returns"] = list(
        ReturnRequest.objects.filter(order__in=orders, number__icontains=text)
        .select_related("order", "order__customer")
        .order_by("-created_at")[:limit]
    )
    return found
