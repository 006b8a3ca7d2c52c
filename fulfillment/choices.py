from django.db import models


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", "To pick"
    PICKING = "picking", "Picked"
    PACKED = "packed", "Packed"
    SHIPPED = "shipped", "Shipped"
    IN_TRANSIT = "in_transit", "In transit"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    EXCEPTION = "exception", "Exception"
    RETURNED_TO_SENDER = "returned_to_sender", "Returned to sender"
    CANCELLED = "cancelled", "Cancelled"


S = ShipmentStatus
# A shipment never goes backwards. `delivered` is final unless the parcel is returned to sender.
SHIPMENT_TRANSITIONS: dict[str, set[str]] = {
    S.PENDING: {S.PICKING, S.CANCELLED},
    S.PICKING: {S.PACKED, S.CANCELLED},
    S.PACKED: {S.SHIPPED, S.CANCELLED},
    S.SHIPPED: {S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED, S.EXCEPTION, S.RETURNED_TO_SENDER},
    S.IN_TRANSIT: {S.OUT_FOR_DELIVERY, S.DELIVERED, S.EXCEPTION, S.RETURNED_TO_SENDER},
    S.OUT_FOR_DELIVERY: {S.DELIVERED, S.EXCEPTION, S.RETURNED_TO_SENDER},
    S.EXCEPTION: {S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED, S.RETURNED_TO_SENDER},
    S.DELIVERED: {S.RETURNED_TO_SENDER},
    S.RETURNED_TO_SENDER: set(),
    S.CANCELLED: set(),
}
OPEN_STATUSES = {S.PENDING, S.PICKING, S.PACKED}
IN_FLIGHT_STATUSES = {S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.EXCEPTION}
