from django.db import models


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    ADJUSTMENT = "adjustment", "Adjustment"
    RESERVATION = "reservation", "Reservation"
    RELEASE = "release", "Release"
    SHIPMENT = "shipment", "Shipment"
    RETURN_RESTOCK = "return_restock", "Return restock"
    COUNT = "count", "Count"
    TRANSFER_IN = "transfer_in", "Transfer in"
    TRANSFER_OUT = "transfer_out", "Transfer out"
