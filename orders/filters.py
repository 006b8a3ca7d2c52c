"""Filters of the staff order list (django-filter), its quick views and its keyset cursor."""

from datetime import UTC, datetime

import django_filters
from django import forms
from django.db.models import Count, Exists, OuterRef, Q

from fulfillment.choices import OPEN_STATUSES as OPEN_SHIPMENT_STATUSES
from fulfillment.models import Shipment
from invoicing.models import Invoice

from .choices import FulfillmentStatus, OrderStatus, PaymentStatus
from .models import Order, OrderLine, SalesChannel

UNPAID = [PaymentStatus.UNPAID, PaymentStatus.AUTHORIZED, PaymentStatus.PARTIALLY_PAID]


def ready_to_ship_q() -> Q:
    """Open orders with reserved units and no open shipment yet (the warehouse's pick queue)."""
    reserved = OrderLine.objects.filter(order=OuterRef("pk"), quantity_reserved__gt=0)
    open_shipment = Shipment.objects.filter(order=OuterRef("pk"), status__in=OPEN_SHIPMENT_STATUSES)
    return Q(status=OrderStatus.OPEN) & Q(Exists(reserved)) & ~Q(Exists(open_shipment))


def quick_views() -> list[tuple[str, str, Q]]:
    """(key, label, condition) of the quick views above the order list."""
    return [
        ("all", "All", Q()),
        ("open", "Open", Q(status=OrderStatus.OPEN)),
        ("on_hold", "On hold", Q(status=OrderStatus.ON_HOLD)),
        ("to_ship", "To ship", ready_to_ship_q()),
        (
            "unpaid",
            "Unpaid",
            Q(payment_status__in=UNPAID)
            & ~Q(status__in=[OrderStatus.CANCELLED, OrderStatus.DRAFT]),
        ),
    ]


def quick_view_counts(qs) -> dict[str, int]:
    """Every quick view's count in one query (one pass over the orders)."""
    views = quick_views()
    return qs.aggregate(
        **{key: Count("pk") if not cond else Count("pk", filter=cond) for key, _, cond in views}
    )


class OrderFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Number, email, customer, external id…"}
        ),
    )
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices, empty_label="Any status")
    fulfillment_status = django_filters.ChoiceFilter(
        label="Fulfillment", choices=FulfillmentStatus.choices, empty_label="Any fulfillment"
    )
    payment_status = django_filters.ChoiceFilter(
        label="Payment", choices=PaymentStatus.choices, empty_label="Any payment"
    )
    channel = django_filters.ModelChoiceFilter(
        queryset=SalesChannel.objects.all(), to_field_name="slug", empty_label="Any channel"
    )
    placed_from = django_filters.DateFilter(
        field_name="placed_at",
        lookup_expr="date__gte",
        label="Placed from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    placed_to = django_filters.DateFilter(
        field_name="placed_at",
        lookup_expr="date__lte",
        label="Placed to",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    invoiced = django_filters.BooleanFilter(
        method="filter_invoiced",
        label="Invoiced",
        widget=forms.Select(
            choices=[("", "Invoiced or not"), ("true", "Invoiced"), ("false", "Not invoiced")]
        ),
    )

    class Meta:
        model = Order
        fields = ["q", "status", "fulfillment_status", "payment_status", "channel"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__icontains=value)
            | Q(email__icontains=value)
            | Q(customer__name__icontains=value)
            | Q(external_id__icontains=value)
        )

    def filter_invoiced(self, queryset, name, value):
        if value is None:
            return queryset
        has_invoice = Exists(Invoice.objects.filter(order=OuterRef("pk")))
        return queryset.filter(has_invoice if value else ~has_invoice)


# ---------------------------------------------------------------- keyset pagination

CURSOR_FORMAT = "%Y%m%dT%H%M%S.%fZ"


def cursor_for(order: Order) -> str:
    return f"{order.placed_at.astimezone(UTC).strftime(CURSOR_FORMAT)},{order.pk}"


def parse_cursor(value: str | None) -> tuple[datetime, int] | None:
    if not value or "," not in value:
        return None
    stamp, _, pk = value.partition(",")
    try:
        return datetime.strptime(stamp, CURSOR_FORMAT).replace(tzinfo=UTC), int(pk)
    except ValueError:
        return None


def keyset_page(qs, *, after: str | None = None, before: str | None = None, size: int = 50):
    """One page of ``qs`` (newest first: -placed_at, -id) after or before a cursor; no OFFSET.

    Returns (rows, newer_cursor, older_cursor); a cursor is None when there is no such page."""
    after_key, before_key = parse_cursor(after), parse_cursor(before)
    if before_key and not after_key:
        ts, pk = before_key
        rows = list(
            qs.filter(Q(placed_at__gt=ts) | Q(placed_at=ts, pk__gt=pk)).order_by("placed_at", "pk")[
                : size + 1
            ]
        )
        has_newer = len(rows) > size
        rows = list(reversed(rows[:size]))
        newer = cursor_for(rows[0]) if has_newer and rows else None
        older = cursor_for(rows[-1]) if rows else None
        return rows, newer, older
    if after_key:
        ts, pk = after_key
        qs = qs.filter(Q(placed_at__lt=ts) | Q(placed_at=ts, pk__lt=pk))
    rows = list(qs.order_by("-placed_at", "-pk")[: size + 1])
    has_older = len(rows) > size
    rows = rows[:size]
    older = cursor_for(rows[-1]) if has_older else None
    newer = cursor_for(rows[0]) if after_key and rows else None
    return rows, newer, older
