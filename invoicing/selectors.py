from decimal import Decimal

from django.db.models import Sum

from core.money import ZERO
from orders.models import Order

from .models import CreditNote, Invoice


def order_paid_and_refunded(*, order: Order) -> tuple[Decimal, Decimal]:
    paid = order.payments.aggregate(s=Sum("amount"))["s"] or ZERO
    refunded = order.refunds.aggregate(s=Sum("amount"))["s"] or ZERO
    return paid, refunded


def invoice_list(*, user, search: str = ""):
    qs = Invoice.objects.filter(order__in=Order.objects.visible_to(user)).select_related("order")
    if search:
        qs = qs.filter(number__icontains=search) | qs.filter(order__number__icontains=search)
    return qs.order_by("-issued_at", "-id")


def credit_note_list(*, user):
    return CreditNote.objects.filter(order__in=Order.objects.visible_to(user)).select_related(
        "order", "invoice"
    )
