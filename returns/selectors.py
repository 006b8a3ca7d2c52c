from orders.models import Order

from .models import ReturnRequest


def return_list(*, user, status: str = ""):
    qs = ReturnRequest.objects.filter(order__in=Order.objects.visible_to(user)).select_related(
        "order", "order__customer"
    )
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at")
