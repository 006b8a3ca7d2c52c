from django.db import models


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", "To pick"
    PICKING = "picking", "Picking"
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
# Handed to the carrier at some point: what carrier news can be about.
SHIPPED_STATUSES = {*IN_FLIGHT_STATUSES, S.DELIVERED, S.RETURNED_TO_SENDER}

# How far along a shipment is, for "never backwards": a tracking event whose status ranks
# below the shipment's current one is stored but does not move the shipment.
STATUS_RANK: dict[str, int] = {
    S.PENDING: 0,
    S.PICKING: 1,
    S.PACKED: 2,
    S.SHIPPED: 3,
    S.IN_TRANSIT: 4,
    S.EXCEPTION: 4,
    S.OUT_FOR_DELIVERY: 5,
    S.DELIVERED: 6,
    S.RETURNED_TO_SENDER: 7,
    S.CANCELLED: 0,
}


class CarrierAdapter(models.TextChoices):
    SIMULATED = "simulated", "Simulated (demo and tests)"
    EASYPOST = "easypost", "EasyPost (webhook)"
    MANUAL = "manual", "Manual (tracking typed in)"


class PickListStatus(models.TextChoices):
    OPEN = "open", "Picking"
    COMPLETED = "completed", "Picked"
    CANCELLED = "cancelled", "Cancelled"


class RateChoice(models.TextChoices):
    CHOSEN = "chosen", "The service the customer chose"
    CHEAPEST = "cheapest", "Cheapest"
    FASTEST = "fastest", "Fastest"
