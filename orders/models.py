import datetime
import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from core.models import TimeStampedModel
from core.money import quantize, tax_of
from customers.models import Customer
from inventory.models import Product

from .choices import (
    ChannelKind,
    EventSource,
    EventType,
    FulfillmentStatus,
    HoldCode,
    NotificationKind,
    NotificationStatus,
    OrderStatus,
    PaymentStatus,
)


def new_status_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


class SalesChannel(TimeStampedModel):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    active = models.BooleanField(default=True)
    cutoff_time = models.TimeField(
        default=datetime.time(14, 0),
        help_text="Orders placed before this local time count from today for the promised ship date",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrderQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Orders the acting user may see: every staff role sees every order."""
        from core.roles import is_staff_member

        return self if is_staff_member(user) else self.none()


class Order(TimeStampedModel):
    number = models.CharField(max_length=32, unique=True)
    channel = models.ForeignKey(SalesChannel, on_delete=models.PROTECT, related_name="orders")
    external_id = models.CharField(max_length=100, blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)

    ship_name = models.CharField("Recipient", max_length=200)
    ship_line1 = models.CharField("Address line 1", max_length=200)
    ship_line2 = models.CharField("Address line 2", max_length=200, blank=True)
    ship_city = models.CharField("City", max_length=100)
    ship_region = models.CharField("Region", max_length=100, blank=True)
    ship_postal_code = models.CharField("Postal code", max_length=20)
    ship_country = models.CharField("Country", max_length=2)

    currency = models.CharField(max_length=3, default="EUR")
    subtotal = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    tax_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    shipping_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)

    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.OPEN)
    fulfillment_status = models.CharField(
        max_length=20, choices=FulfillmentStatus.choices, default=FulfillmentStatus.UNFULFILLED
    )
    payment_status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID
    )
    hold_reason = models.CharField(max_length=255, blank=True)
    hold_code = models.CharField(
        max_length=20,
        choices=HoldCode.choices,
        blank=True,
        help_text="What put the order on hold (manual, or an automatic check)",
    )
    cancel_reason = models.CharField(max_length=255, blank=True)

    shipping_method = models.CharField(max_length=50, blank=True)
    payment_method = models.CharField(max_length=50, blank=True)
    notes = models.TextField(blank=True)
    lines_digest = models.CharField(
        max_length=64, blank=True, editable=False, help_text="What was ordered, to spot duplicates"
    )
    status_token = models.CharField(
        max_length=64, unique=True, default=new_status_token, editable=False
    )
    placed_at = models.DateTimeField(db_index=True)
    promised_ship_date = models.DateField(
        null=True,
        blank=True,
        help_text="From the channel's cut-off and the warehouse's handling days",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~Q(external_id=""),
                name="order_external_id_per_channel",
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
        ]
        indexes = [
            models.Index(fields=["status", "-placed_at"]),
            models.Index(fields=["fulfillment_status", "-placed_at"]),
            models.Index(fields=["payment_status", "-placed_at"]),
            models.Index(fields=["customer", "-placed_at"]),
            models.Index(
                fields=["customer", "lines_digest", "placed_at"], name="order_duplicate_check"
            ),
            models.Index(fields=["channel", "updated_at", "id"], name="order_channel_updated"),
            models.Index(fields=["total", "id"], name="order_total_id"),
            models.Index(
                fields=["promised_ship_date"],
                condition=Q(status="open"),
                name="order_open_promised",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("orders:detail", args=[self.number])

    def status_path(self) -> str:
        return reverse("status:page", args=[self.status_token])

    def status_url(self) -> str:
        return settings.SITE_URL + self.status_path()

    @property
    def shipping_address_lines(self) -> list[str]:
        city = " ".join(p for p in [self.ship_postal_code, self.ship_city] if p)
        return [
            p
            for p in [
                self.ship_name,
                self.ship_line1,
                self.ship_line2,
                city,
                self.ship_region,
                self.ship_country,
            ]
            if p
        ]


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveSmallIntegerField()
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    # Snapshot at the moment of sale.
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    list_price = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Catalogue price when it was overridden",
    )
    tax_rate = models.DecimalField(max_digits=5, decimal_places=4)

    quantity = models.PositiveIntegerField()
    quantity_cancelled = models.PositiveIntegerField(default=0)
    quantity_reserved = models.PositiveIntegerField(default=0)
    quantity_backordered = models.PositiveIntegerField(default=0)
    quantity_shipped = models.PositiveIntegerField(default=0)
    quantity_delivered = models.PositiveIntegerField(default=0)
    quantity_returned = models.PositiveIntegerField(default=0)
    quantity_allocated = models.PositiveIntegerField(
        default=0,
        help_text="Units in open shipments (to pick, picking, packed): edits may not take them away",
    )

    class Meta:
        ordering = ["order", "line_no"]
        indexes = [
            # The order list's quick views "backordered" and "to ship".
            models.Index(
                fields=["order"],
                condition=Q(quantity_backordered__gt=0),
                name="orderline_backordered",
            ),
            models.Index(
                fields=["order"], condition=Q(quantity_reserved__gt=0), name="orderline_reserved"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="order_line_no_unique"),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="order_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=F("quantity"))
                & Q(quantity_delivered__lte=F("quantity_shipped"))
                & Q(quantity_returned__lte=F("quantity_shipped"))
                & Q(quantity_reserved__lte=F("quantity"))
                & Q(quantity_cancelled__lte=F("quantity"))
                & Q(quantity_allocated__lte=F("quantity_reserved")),
                name="order_line_quantities_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_no} {self.quantity} × {self.sku}"

    @property
    def demand_ref(self) -> str:
        """How inventory knows this line's reservations."""
        return line_demand_ref(self.order.number, self.line_no)

    @property
    def quantity_effective(self) -> int:
        """Ordered and still wanted: cancelled units do not count."""
        return self.quantity - self.quantity_cancelled

    @property
    def net_total(self):
        return quantize(self.unit_price * self.quantity_effective)

    @property
    def tax_total(self):
        return tax_of(self.net_total, self.tax_rate)

    @property
    def gross_total(self):
        return self.net_total + self.tax_total

    @property
    def quantity_open(self) -> int:
        """Still to ship: ordered, not cancelled, not shipped."""
        return self.quantity - self.quantity_cancelled - self.quantity_shipped


def line_demand_ref(order_number: str, line_no: int) -> str:
    return f"order:{order_number}:{line_no}"


class OrderEvent(models.Model):
    """The timeline. Every change of an order's state writes one, in the same transaction."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=30, choices=EventType.choices)
    source = models.CharField(max_length=20, choices=EventSource.choices, default=EventSource.STAFF)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.CharField(max_length=500)
    customer_message = models.CharField(max_length=500, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    visible_to_customer = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["order", "created_at"])]

    def __str__(self) -> str:
        return f"{self.order_id} {self.type}"


class Notification(TimeStampedModel):
    """A customer email to send: the durable row behind the Celery task."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    recipient = models.EmailField()
    dedupe_key = models.CharField(max_length=120, unique=True)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    subject = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient} ({self.status})"


class ApiToken(TimeStampedModel):
    """A bearer token for one integration, bound to a sales channel. Only its hash is stored."""

    name = models.CharField(max_length=100)
    channel = models.ForeignKey(SalesChannel, on_delete=models.PROTECT, related_name="api_tokens")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        max_length=12, editable=False, help_text="First characters, to recognise it"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class IdempotencyKey(models.Model):
    """One POST per (token, key): replays return the first answer."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        DONE = "done", "Done"

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="idempotency_key_per_token")
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.token_id}:{self.key} ({self.state})"


class ImportBatch(TimeStampedModel):
    """A CSV of orders: previewed, then imported by the worker, each order all-or-nothing."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", "Previewed"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(SalesChannel, on_delete=models.PROTECT, related_name="imports")
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    content = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEWED)
    total_orders = models.PositiveIntegerField(default=0)
    processed_orders = models.PositiveIntegerField(default=0)
    created_orders = models.PositiveIntegerField(default=0)
    skipped_orders = models.PositiveIntegerField(
        default=0, help_text="Already imported (same external id)"
    )
    errors = models.JSONField(default=list, blank=True, help_text="[{line, field, message}]")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"
