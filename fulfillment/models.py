from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from core.models import TimeStampedModel
from inventory.models import Warehouse
from orders.models import Order, OrderLine

from .choices import ShipmentStatus


class Carrier(TimeStampedModel):
    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=100)
    tracking_url_template = models.CharField(
        max_length=300, blank=True, help_text="Link to the carrier's tracking page; {tracking} is replaced"
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


class Shipment(TimeStampedModel):
    number = models.CharField(max_length=40, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="shipments")
    status = models.CharField(max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.PENDING)
    carrier = models.ForeignKey(Carrier, null=True, blank=True, on_delete=models.PROTECT, related_name="shipments")
    tracking_number = models.CharField(max_length=64, blank=True, db_index=True)
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
        indexes = [models.Index(fields=["warehouse", "status", "created_at"])]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("fulfillment:shipment", args=[self.number])

    @property
    def tracking_url(self) -> str:
        return self.carrier.tracking_url(self.tracking_number) if self.carrier else ""


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="shipment_lines")
    quantity = models.PositiveIntegerField()
    quantity_picked = models.PositiveIntegerField(default=0)
    quantity_packed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order_line__line_no"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "order_line"], name="shipment_line_unique"),
            models.CheckConstraint(
                condition=Q(quantity__gt=0) & Q(quantity_picked__lte=F("quantity")) & Q(quantity_packed__lte=F("quantity_picked")),
                name="shipment_line_quantities_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id}: {self.quantity} × {self.order_line_id}"
