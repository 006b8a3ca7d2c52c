from django.db import models


class DocumentStatus(models.TextChoices):
    """Rendering state of a document's PDF (the durable row behind the render task)."""

    PENDING = "pending", "Rendering"
    RENDERED = "rendered", "Ready"
    FAILED = "failed", "Failed"


class PaymentMethod(models.TextChoices):
    CARD = "card", "Card"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    CASH = "cash", "Cash"
    INVOICE = "invoice", "On invoice"
    MARKETPLACE = "marketplace", "Marketplace payout"
