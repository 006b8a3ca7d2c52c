from django.db import models


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    RECEIVED = "received", "Received"
    REFUNDED = "refunded", "Refunded"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


R = ReturnStatus
RETURN_TRANSITIONS: dict[str, set[str]] = {
    R.REQUESTED: {R.RECEIVED, R.REJECTED, R.CANCELLED},
    R.RECEIVED: {R.REFUNDED},
    R.REFUNDED: set(),
    R.REJECTED: set(),
    R.CANCELLED: set(),
}
OPEN_RETURN_STATUSES = {R.REQUESTED, R.RECEIVED}


class ReturnReason(models.TextChoices):
    DAMAGED = "damaged", "Arrived damaged"
    WRONG_ITEM = "wrong_item", "Wrong item sent"
    NOT_AS_DESCRIBED = "not_as_described", "Not as described"
    SIZE = "size", "Wrong size or fit"
    NO_LONGER_NEEDED = "no_longer_needed", "No longer needed"
    OTHER = "other", "Other"
