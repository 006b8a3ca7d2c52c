from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from core.models import TimeStampedModel
from orders.choices import EventSource
from orders.models import Order, OrderLine

from .choices import ReturnReason, ReturnStatus


class ReturnRequest(TimeStampedModel):
    """A return merchandise authorisation (RMA)."""

    number = models.CharField(max_length=32, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="return_requests")
    status = models.CharField(
        max_length=20, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED
    )
    reason = models.CharField(max_length=30, choices=ReturnReason.choices)
    customer_note = models.TextField(blank=True)
    source = models.CharField(max_length=20, choices=EventSource.choices, default=EventSource.STAFF)
    restock = models.BooleanField(default=True, help_text="Put received items back on the shelf")
    received_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    refund_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("returns:detail", args=[self.number])


class ReturnLine(models.Model):
    return_request = models.ForeignKey(
        ReturnRequest, on_delete=models.CASCADE, related_name="lines"
    )
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines")
    quantity = models.PositiveIntegerField()
    quantity_received = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order_line__line_no"]
        constraints = [
            models.UniqueConstraint(
                fields=["return_request", "order_line"], name="return_line_unique"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0) & Q(quantity_received__lte=F("quantity")),
                name="return_line_quantities",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.return_request_id}: {self.quantity} × {self.order_line_id}"
