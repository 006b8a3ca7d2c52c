from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.models import TimeStampedModel

from .choices import MovementKind


class Product(TimeStampedModel):
    sku = models.CharField("SKU", max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, help_text="Net unit price")
    tax_rate = models.DecimalField(
        max_digits=5, decimal_places=4, default=0, help_text="A fraction: 0.2000 for 20 %"
    )
    barcode = models.CharField(max_length=64, blank=True, db_index=True)
    weight_grams = models.PositiveIntegerField(default=0)
    length_mm = models.PositiveIntegerField(default=0)
    width_mm = models.PositiveIntegerField(default=0)
    height_mm = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    allow_backorder = models.BooleanField(
        default=False, help_text="Take orders beyond stock; receipts fill them oldest order first"
    )
    reorder_point = models.PositiveIntegerField(
        default=0, help_text="Alert when available to promise falls to this (0: no alert)"
    )
    reorder_quantity = models.PositiveIntegerField(
        default=0, help_text="Usual quantity to order from the supplier"
    )
    lead_time_days = models.PositiveSmallIntegerField(
        default=7, help_text="Supplier lead time in days"
    )
    substitutes = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="substitute_for",
        help_text="Offered when this product is short",
    )

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(
                condition=Q(tax_rate__gte=0) & Q(tax_rate__lt=1), name="product_tax_rate_fraction"
            ),
            models.UniqueConstraint(
                fields=["barcode"], condition=~Q(barcode=""), name="product_barcode_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} · {self.name}"


class Warehouse(TimeStampedModel):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=120)
    priority = models.PositiveSmallIntegerField(
        default=10, help_text="Lower ships first when several warehouses can fill an order"
    )
    active = models.BooleanField(default=True)
    line1 = models.CharField("Address", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True)
    handling_days = models.PositiveSmallIntegerField(
        default=1,
        help_text="Working days from the order's cut-off to handing the parcel to the carrier",
    )

    class Meta:
        ordering = ["priority", "code"]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


class StockLevel(models.Model):
    """What a warehouse holds of a product. Changed only by inventory services, which write
    a StockMovement for every change: the ledger is the truth, this row is its running sum."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_levels")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stock_levels")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    bin_location = models.CharField(
        max_length=20,
        blank=True,
        help_text="Where the product sits in this warehouse (aisle-rack-shelf, e.g. A-03-2)",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse"], name="stock_level_unique"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(
                condition=Q(reserved__gte=0) & Q(reserved__lte=F("on_hand")),
                name="stock_reserved_within_on_hand",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.sku} @ {self.warehouse.code}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(models.Model):
    """One row per change of on_hand or reserved, with who and why."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="movements")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=20, choices=MovementKind.choices)
    on_hand_delta = models.IntegerField(default=0)
    reserved_delta = models.IntegerField(default=0)
    reference = models.CharField(max_length=100, blank=True, db_index=True)
    reason = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["product", "warehouse", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.product_id}@{self.warehouse_id} {self.on_hand_delta:+}/{self.reserved_delta:+}"


class Reservation(TimeStampedModel):
    """Stock held in one warehouse for one unit of demand (an order line, by reference).
    Inventory knows demand, not orders: ``demand_ref`` is an opaque string."""

    demand_ref = models.CharField(max_length=64, db_index=True)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="reservations")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField(default=0, help_text="Units held now")
    allocated = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="Of those, units already in an open shipment of this warehouse: a release never takes them",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["demand_ref", "warehouse"], name="reservation_unique"),
            models.CheckConstraint(
                condition=Q(allocated__lte=F("quantity")), name="reservation_allocated_within_held"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.demand_ref}: {self.quantity} × {self.product_id} @ {self.warehouse_id}"


class Backorder(TimeStampedModel):
    """Demand waiting for stock: a receipt fills the oldest first (created_at, id)."""

    demand_ref = models.CharField(max_length=64, unique=True)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="backorders")
    quantity = models.PositiveIntegerField(help_text="Units still waiting")

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["product", "created_at"],
                condition=Q(quantity__gt=0),
                name="backorder_waiting",
            )
        ]

    def __str__(self) -> str:
        return f"{self.demand_ref}: {self.quantity} × {self.product_id} waiting"


class ExpectedReceipt(TimeStampedModel):
    """Stock on its way from a supplier: counted in available-to-promise with its date."""

    class Status(models.TextChoices):
        OPEN = "open", "Expected"
        RECEIVED = "received", "Received"
        CANCELLED = "cancelled", "Cancelled"

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="expected_receipts")
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="expected_receipts"
    )
    quantity = models.PositiveIntegerField()
    quantity_received = models.PositiveIntegerField(default=0)
    expected_on = models.DateField()
    reference = models.CharField(max_length=100, blank=True, help_text="Supplier order number")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["expected_on", "id"]
        indexes = [models.Index(fields=["product", "status", "expected_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0) & Q(quantity_received__lte=F("quantity")),
                name="expected_receipt_quantities",
            )
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} due {self.expected_on}"

    @property
    def quantity_open(self) -> int:
        return self.quantity - self.quantity_received


class RestockAlert(models.Model):
    """Available to promise fell to the reorder point: one alert (and one email) per crossing."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="restock_alerts")
    opened_at = models.DateTimeField(auto_now_add=True)
    available_at_open = models.IntegerField()
    closed_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["product"],
                condition=Q(closed_at__isnull=True),
                name="restock_alert_one_open_per_product",
            )
        ]

    def __str__(self) -> str:
        return f"Restock {self.product_id} ({'open' if self.closed_at is None else 'closed'})"
