"""Filters of the staff order list (django-filter), its quick views, its sorts and keyset cursors.

Built for a million orders: every filter is a plain column comparison or an EXISTS subquery
(never a function of an indexed column), pages are found by keyset — the cursor carries the
sort key and the id, never an OFFSET — and the quick-view counts stop at ``QUICK_VIEW_CAP``
instead of counting the whole table.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import django_filters
from django import forms
from django.db import connections
from django.db.models import CharField, Exists, OuterRef, Q, Value
from django.db.models.functions import Lower, StrIndex, Substr
from django.utils import timezone

from customers.models import Customer
from fulfillment.choices import OPEN_STATUSES as OPEN_SHIPMENT_STATUSES
from fulfillment.models import Shipment
from inventory.models import Reservation, Warehouse
from invoicing.models import Invoice

from .choices import FulfillmentStatus, OrderStatus, PaymentStatus
from .models import Order, OrderLine, SalesChannel
from .selectors import late_q

UNPAID = [PaymentStatus.UNPAID, PaymentStatus.AUTHORIZED, PaymentStatus.PARTIALLY_PAID]

QUICK_VIEW_CAP = 1000


def ready_to_ship_q() -> Q:
    """Open orders with reserved units and no open shipment yet (the warehouse's pick queue)."""
    reserved = OrderLine.objects.filter(order=OuterRef("pk"), quantity_reserved__gt=0)
    open_shipment = Shipment.objects.filter(order=OuterRef("pk"), status__in=OPEN_SHIPMENT_STATUSES)
    return Q(status=OrderStatus.OPEN) & Q(Exists(reserved)) & ~Q(Exists(open_shipment))


def start_of_day(day: date) -> datetime:
    """Midnight of ``day`` in the merchant's time zone, as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, time.min))


def new_today_q() -> Q:
    return Q(placed_at__gte=start_of_day(timezone.localdate()))


def backordered_q() -> Q:
    """Orders with units waiting for stock (a line with quantity_backordered > 0)."""
    return Q(Exists(OrderLine.objects.filter(order=OuterRef("pk"), quantity_backordered__gt=0)))


def quick_views() -> list[tuple[str, str, Q]]:
    """(key, label, condition) of the quick views above the order list."""
    return [
        ("all", "All", Q()),
        ("new_today", "New today", new_today_q()),
        ("open", "Open", Q(status=OrderStatus.OPEN)),
        ("on_hold", "On hold", Q(status=OrderStatus.ON_HOLD)),
        ("backordered", "Backordered", backordered_q()),
        ("late", "Late", late_q()),
        ("to_ship", "To ship", ready_to_ship_q()),
        (
            "unpaid",
            "Unpaid",
            Q(payment_status__in=UNPAID)
            & ~Q(status__in=[OrderStatus.CANCELLED, OrderStatus.DRAFT]),
        ),
    ]


def quick_view_counts(qs, *, cap: int | None = None) -> dict[str, int]:
    """Every quick view's count in ONE query, each counting at most ``cap + 1`` rows
    (``SELECT (SELECT COUNT(*) FROM (… LIMIT cap+1)), …``): a number above ``cap``
    means "more than cap", shown as "1000+". Never a count over the whole table."""
    cap = QUICK_VIEW_CAP if cap is None else cap
    views = quick_views()
    if qs.query.is_empty():
        return {key: 0 for key, _, _ in views}
    connection = connections[qs.db]
    parts, params = [], []
    for key, _, cond in views:
        sub = qs.filter(cond).order_by().values("pk")[: cap + 1]
        sql, sub_params = sub.query.get_compiler(using=qs.db).as_sql()
        # Only Django's compiled SQL and our own keys go into the string; values are params.
        alias = connection.ops.quote_name(f"qv_{key}")
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) {alias})")  # noqa: S608
        params.extend(sub_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {key: int(n) for (key, _, _), n in zip(views, row, strict=True)}


def count_label(n: int, *, cap: int | None = None) -> str:
    cap = QUICK_VIEW_CAP if cap is None else cap
    return f"{cap}+" if n > cap else str(n)


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """The channel and warehouse options of the filter bar, in one query (a UNION)."""
    text = CharField()
    channels = (
        SalesChannel.objects.order_by()
        .annotate(kind_=Value("channel", output_field=text))
        .values_list("slug", "name", "kind_")
    )
    warehouses = (
        Warehouse.objects.order_by()
        .annotate(kind_=Value("warehouse", output_field=text))
        .values_list("code", "name", "kind_")
    )
    result: dict[str, list[tuple[str, str]]] = {"channel": [], "warehouse": []}
    for key, name, kind in channels.union(warehouses, all=True):
        result[kind].append((key, name))
    for options in result.values():
        options.sort(key=lambda option: option[1].lower())
    return result


def _demand_order_number():
    """The order number inside an inventory demand reference ``order:<number>:<line_no>``."""
    rest = Substr("demand_ref", len("order:") + 1)
    return Substr(rest, 1, StrIndex(rest, Value(":")) - 1)


def in_warehouse_q(code: str) -> Q:
    """Orders with stock reserved in, or a shipment from, the warehouse ``code``.

    Inventory knows demand, not orders: a reservation names its order line only by
    ``demand_ref``. The order number is cut out of that reference and compared for equality,
    so the database can run the EXISTS as a hash semi-join instead of a LIKE per order."""
    reserved = (
        Reservation.objects.filter(warehouse__code=code, demand_ref__startswith="order:")
        .annotate(order_number=_demand_order_number())
        .filter(order_number=OuterRef("number"))
    )
    shipped = Shipment.objects.filter(order=OuterRef("pk"), warehouse__code=code)
    return Q(Exists(reserved)) | Q(Exists(shipped))


class OptionSelect(forms.Select):
    """A select whose options are given by the view (one query for all the filter bar's lists)."""


class OrderFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Order number, external id, email, name…",
                "data-live": "",
            }
        ),
    )
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices, empty_label="Any status")
    fulfillment_status = django_filters.ChoiceFilter(
        label="Fulfillment", choices=FulfillmentStatus.choices, empty_label="Any fulfillment"
    )
    payment_status = django_filters.ChoiceFilter(
        label="Payment", choices=PaymentStatus.choices, empty_label="Any payment"
    )
    channel = django_filters.CharFilter(
        method="filter_channel", label="Channel", widget=OptionSelect
    )
    warehouse = django_filters.CharFilter(
        method="filter_warehouse", label="Warehouse", widget=OptionSelect
    )
    customer = django_filters.CharFilter(
        method="filter_customer",
        label="Customer",
        widget=forms.TextInput(attrs={"placeholder": "Email or customer id", "data-live": ""}),
    )
    sku = django_filters.CharFilter(
        method="filter_sku",
        label="SKU",
        widget=forms.TextInput(
            attrs={"placeholder": "e.g. TEE-BLK-M", "class": "mono", "data-live": ""}
        ),
    )
    placed_from = django_filters.DateFilter(
        method="filter_placed_from",
        label="Placed from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    placed_to = django_filters.DateFilter(
        method="filter_placed_to",
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

    def __init__(self, *args, choices: dict[str, list[tuple[str, str]]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if choices is not None:
            for name, empty in (("channel", "Any channel"), ("warehouse", "Any warehouse")):
                self.form.fields[name].widget.choices = [("", empty), *choices.get(name, [])]

    def search(self, queryset, name, value):
        """Number, external id, email and name, all columns of the order itself (the name is
        the recipient's, on the order): no join, so on PostgreSQL a GIN trigram index on
        UPPER(column) per column answers it. The customer filter finds a customer's orders."""
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__icontains=value)
            | Q(external_id__icontains=value)
            | Q(email__icontains=value)
            | Q(ship_name__icontains=value)
        )

    def filter_channel(self, queryset, name, value):
        return queryset.filter(channel__slug=value.strip()) if value.strip() else queryset

    def filter_warehouse(self, queryset, name, value):
        return queryset.filter(in_warehouse_q(value.strip())) if value.strip() else queryset

    def filter_customer(self, queryset, name, value):
        """A customer by id, or by email (any case: matches the unique index on LOWER(email))."""
        value = value.strip()
        if not value:
            return queryset
        if value.isdigit():
            return queryset.filter(customer_id=int(value))
        by_email = Customer.objects.annotate(email_lower=Lower("email")).filter(
            email_lower=value.lower()
        )
        return queryset.filter(customer__in=by_email.values("pk"))

    def filter_sku(self, queryset, name, value):
        """Orders with a line of this product (through the product's unique SKU index)."""
        value = value.strip()
        if not value:
            return queryset
        lines = OrderLine.objects.filter(
            order=OuterRef("pk"), product__sku__in=sorted({value, value.upper()})
        )
        return queryset.filter(Exists(lines))

    def filter_placed_from(self, queryset, name, value):
        return queryset.filter(placed_at__gte=start_of_day(value)) if value else queryset

    def filter_placed_to(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(placed_at__lt=start_of_day(value + timedelta(days=1)))

    def filter_invoiced(self, queryset, name, value):
        if value is None:
            return queryset
        has_invoice = Exists(Invoice.objects.filter(order=OuterRef("pk")))
        return queryset.filter(has_invoice if value else ~has_invoice)


# ---------------------------------------------------------------- sorts and keyset pagination


@dataclass(frozen=True)
class Sort:
    key: str  # "placed", "total", "number"
    field: str  # the model field
    descending: bool

    @property
    def param(self) -> str:
        return f"-{self.key}" if self.descending else self.key

    @property
    def order_by(self) -> list[str]:
        return [f"-{self.field}", "-pk"] if self.descending else [self.field, "pk"]

    def toggled(self, key: str) -> str:
        """The ``sort`` parameter of a column header: the other direction when it is the current
        sort, else that column's natural first direction (newest, largest, highest first)."""
        if key == self.key:
            return key if self.descending else f"-{key}"
        return f"-{key}"


SORT_FIELDS = {"placed": "placed_at", "total": "total", "number": "number"}
DEFAULT_SORT = "-placed"


def parse_sort(value: str | None) -> Sort:
    value = (value or DEFAULT_SORT).strip()
    key = value.removeprefix("-")
    if key not in SORT_FIELDS:
        value, key = DEFAULT_SORT, DEFAULT_SORT.removeprefix("-")
    return Sort(key=key, field=SORT_FIELDS[key], descending=value.startswith("-"))


CURSOR_TIME = "%Y%m%dT%H%M%S.%fZ"


def _encode(sort: Sort, value) -> str:
    if sort.field == "placed_at":
        return value.astimezone(UTC).strftime(CURSOR_TIME)
    return str(value)


def _decode(sort: Sort, text: str):
    if sort.field == "placed_at":
        return datetime.strptime(text, CURSOR_TIME).replace(tzinfo=UTC)
    if sort.field == "total":
        number = Decimal(text)
        if not number.is_finite():
            raise ValueError(text)
        return number
    return text


def cursor_for(order: Order, sort: Sort) -> str:
    """``<sort>~<key>~<id>``: the sort the page was cut by, the row's sort key and its id."""
    return f"{sort.param}~{_encode(sort, getattr(order, sort.field))}~{order.pk}"


def parse_cursor(value: str | None, sort: Sort):
    """(key, id) of a cursor made for ``sort``; None when absent, malformed or of another sort."""
    if not value or value.count("~") < 2:
        return None
    param, rest = value.split("~", 1)
    text, _, pk = rest.rpartition("~")
    if param != sort.param:
        return None
    try:
        return _decode(sort, text), int(pk)
    except (ValueError, InvalidOperation):
        return None


def _beyond(sort: Sort, key, pk: int, *, forward: bool) -> Q:
    """Rows after (``forward``) or before the cursor in the display order."""
    smaller = forward == sort.descending
    op = "lt" if smaller else "gt"
    return Q(**{f"{sort.field}__{op}": key}) | Q(**{sort.field: key, f"pk__{op}": pk})


def keyset_page(
    qs,
    *,
    sort: Sort | None = None,
    after: str | None = None,
    before: str | None = None,
    size: int = 50,
):
    """One page of ``qs`` in ``sort`` order after or before a cursor; no OFFSET.

    Returns (rows, newer_cursor, older_cursor): "newer" is the previous page, "older" the next
    one, whatever the sort; a cursor is None when there is no such page."""
    sort = sort or parse_sort(None)
    after_key, before_key = parse_cursor(after, sort), parse_cursor(before, sort)
    if before_key and not after_key:
        reverse = [f.removeprefix("-") if f.startswith("-") else f"-{f}" for f in sort.order_by]
        rows = list(
            qs.filter(_beyond(sort, *before_key, forward=False)).order_by(*reverse)[: size + 1]
        )
        has_previous = len(rows) > size
        rows = list(reversed(rows[:size]))
        previous = cursor_for(rows[0], sort) if has_previous and rows else None
        following = cursor_for(rows[-1], sort) if rows else None
        return rows, previous, following
    if after_key:
        qs = qs.filter(_beyond(sort, *after_key, forward=True))
    rows = list(qs.order_by(*sort.order_by)[: size + 1])
    has_next = len(rows) > size
    rows = rows[:size]
    following = cursor_for(rows[-1], sort) if has_next else None
    previous = cursor_for(rows[0], sort) if after_key and rows else None
    return rows, previous, following
