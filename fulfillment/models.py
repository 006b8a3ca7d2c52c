from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from core.models import TimeStampedModel
from inventory.models import Warehouse
from orders.models import Order, OrderLine

from .choices import CarrierAdapter, PickListStatus, ShipmentStatus


class Carrier(TimeStampedModel):
    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=100)
    adapter = models.CharField(
        max_length=20,
        choices=CarrierAdapter.choices,
        default=CarrierAdapter.MANUAL,
        help_text="How Orderline talks to the carrier: labels, tracking pushed by webhook or polled",
    )
    tracking_url_template = models.CharField(
        max_length=300,
        blank=True,
        help_text="Link to the carrier's tracking page; {tracking} is replaced",
    )
    webhook_secret = models.CharField(
        max_length=200,
        blank=True,
        help_text="Shared secret the carrier signs its webhooks with (EASYPOST_WEBHOOK_SECRET overrides it when set)",
    )
    poll_interval_minutes = models.PositiveIntegerField(
        default=60,
        help_text="For carriers that are polled: how often an open shipment's tracking is synced",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def tracking_url(self, tracking_number: str) -> str:
        if not self.tracking_url_template or not tracking_number:
            return ""
        return self.tracking_url_template.replace("{tracking}", tracking_number)


class CarrierService(TimeStampedModel):
    """A service a carrier sells (standard, express...). `shipping_method` ties it to the
    method a customer chose at checkout (the order's `shipping_method`)."""

    carrier = models.ForeignKey(Carrier, on_delete=models.CASCADE, related_name="services")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=100)
    shipping_method = models.CharField(
        max_length=50,
        blank=True,
        help_text="The order shipping method this service fulfils (e.g. standard, express)",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["carrier__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["carrier", "code"], name="carrier_service_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.carrier.name} {self.name}"


class ShippingZone(TimeStampedModel):
    """Where a carrier's prices apply: countries, optionally narrowed by postal-code prefixes."""

    carrier = models.ForeignKey(Carrier, on_delete=models.CASCADE, related_name="zones")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["carrier__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["carrier", "name"], name="shipping_zone_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.carrier.name}: {self.name}"


class ShippingZoneArea(models.Model):
    zone = models.ForeignKey(ShippingZone, on_delete=models.CASCADE, related_name="areas")
    country = models.CharField(max_length=2)
    postal_prefix = models.CharField(
        max_length=10,
        blank=True,
        help_text="Empty for the whole country; the longest matching prefix wins",
    )

    class Meta:
        ordering = ["country", "postal_prefix"]
        constraints = [
            models.UniqueConstraint(
                fields=["zone", "country", "postal_prefix"], name="zone_area_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.postal_prefix}*".strip()


class ShippingRate(models.Model):
    """One weight band of a service in a zone: parcels up to `max_weight_grams` (and above
    the band below) cost `price` and take `transit_days` working days."""

    service = models.ForeignKey(CarrierService, on_delete=models.CASCADE, related_name="rates")
    zone = models.ForeignKey(ShippingZone, on_delete=models.CASCADE, related_name="rates")
    max_weight_grams = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    transit_days = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["service", "zone", "max_weight_grams"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "zone", "max_weight_grams"], name="shipping_rate_band_unique"
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0), name="shipping_rate_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.zone.name} ≤{self.max_weight_grams} g: {self.price} {self.currency}"


class PickList(TimeStampedModel):
    """A batch of shipments of one warehouse picked in one walk, sorted by bin location.
    Each shipment gets a tote (T1, T2...) for the length of the walk."""

    number = models.CharField(max_length=40, unique=True)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="pick_lists")
    status = models.CharField(
        max_length=12, choices=PickListStatus.choices, default=PickListStatus.OPEN
    )
    filters = models.JSONField(
        default=dict, blank=True, help_text="The filters the batch was chosen with"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["warehouse", "status", "created_at"])]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("fulfillment:pick_list", args=[self.number])


class Manifest(TimeStampedModel):
    """End of day: what leaves a warehouse with one carrier, signed for by the driver."""

    number = models.CharField(max_length=40, unique=True)
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="manifests")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="manifests")
    ship_date = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-ship_date", "-created_at"]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("fulfillment:manifest", args=[self.number])


class Shipment(TimeStampedModel):
    number = models.CharField(max_length=40, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="shipments")
    status = models.CharField(
        max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.PENDING
    )
    carrier = models.ForeignKey(
        Carrier, null=True, blank=True, on_delete=models.PROTECT, related_name="shipments"
    )
    tracking_number = models.CharField(max_length=64, blank=True, db_index=True)
    service = models.ForeignKey(
        CarrierService, null=True, blank=True, on_delete=models.PROTECT, related_name="shipments"
    )
    shipping_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    expected_delivery_date = models.DateField(null=True, blank=True)
    label = models.FileField(upload_to="labels/%Y/%m/", blank=True)
    pick_list = models.ForeignKey(
        PickList, null=True, blank=True, on_delete=models.SET_NULL, related_name="shipments"
    )
    tote = models.CharField(
        max_length=16, blank=True, help_text="The tote the shipment is picked into"
    )
    manifest = models.ForeignKey(
        Manifest, null=True, blank=True, on_delete=models.SET_NULL, related_name="shipments"
    )
    last_event_at = models.DateTimeField(
        null=True, blank=True, help_text="When the carrier last said something about this parcel"
    )
    last_synced_at = models.DateTimeField(
        null=True, blank=True, help_text="When tracking was last polled"
    )
    picked_at = models.DateTimeField(null=True, blank=True)
    packed_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivery_note = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["warehouse", "status", "created_at"]),
            models.Index(fields=["status", "last_event_at"], name="shipment_status_last_event"),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("fulfillment:shipment", args=[self.number])

    @property
    def tracking_url(self) -> str:
        return self.carrier.tracking_url(self.tracking_number) if self.carrier else ""


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        OrderLine, on_delete=models.PROTECT, related_name="shipment_lines"
    )
    quantity = models.PositiveIntegerField()
    quantity_picked = models.PositiveIntegerField(default=0)
    quantity_packed = models.PositiveIntegerField(default=0)
    quantity_short = models.PositiveIntegerField(
        default=0, help_text="Units the picker did not find on the shelf (moved off this shipment)"
    )
    pick_confirmed = models.BooleanField(default=False, help_text="The picker confirmed this line")

    class Meta:
        ordering = ["order_line__line_no"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "order_line"], name="shipment_line_unique"),
            models.CheckConstraint(
                condition=Q(quantity_picked__lte=F("quantity"))
                & Q(quantity_packed__lte=F("quantity_picked")),
                name="shipment_line_quantities_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id}: {self.quantity} × {self.order_line_id}"


class Parcel(models.Model):
    """One box of a shipment: what it weighs and measures decides the rate and the label."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="parcels")
    number = models.PositiveSmallIntegerField(help_text="1, 2, 3... within the shipment")
    weight_grams = models.PositiveIntegerField()
    length_mm = models.PositiveIntegerField(default=0)
    width_mm = models.PositiveIntegerField(default=0)
    height_mm = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shipment", "number"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "number"], name="parcel_number_unique"),
            models.CheckConstraint(condition=Q(weight_grams__gt=0), name="parcel_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id} parcel {self.number}"


class TrackingEvent(models.Model):
    """What the carrier said about a shipment. Stored once (`dedupe_key`), in any order;
    `status` is the shipment status it means, blank for a message that changes nothing."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="tracking_events")
    status = models.CharField(max_length=20, choices=ShipmentStatus.choices, blank=True)
    carrier_status = models.CharField(
        max_length=40, blank=True, help_text="The carrier's own word for it"
    )
    occurred_at = models.DateTimeField()
    location = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=500, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=64)
    applied = models.BooleanField(default=False, help_text="Whether it moved the shipment's status")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "dedupe_key"], name="tracking_event_once"),
        ]
        indexes = [models.Index(fields=["shipment", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.shipment_id} {self.status or self.carrier_status} at {self.occurred_at:%Y-%m-%d %H:%M}"


class UnmatchedTrackingEvent(models.Model):
    """A carrier event for a tracking code Orderline does not know (yet): kept for matching."""

    carrier = models.ForeignKey(
        Carrier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tracking_code = models.CharField(max_length=64, db_index=True)
    dedupe_key = models.CharField(max_length=64, unique=True)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)
    matched_shipment = models.ForeignKey(
        Shipment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    matched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.tracking_code} ({self.received_at:%Y-%m-%d %H:%M})"


class DeliveryFeedback(models.Model):
    """The customer's rating of a delivered order, given through the status page."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="feedback")
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="feedback_rating_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.rating}/5"
