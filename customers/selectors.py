from django.db.models import Count, Max, Q

from .models import Customer


def customer_search(*, text: str, limit: int = 8):
    text = text.strip()
    if len(text) < 2:
        return Customer.objects.none()
    return (
        Customer.objects.filter(
            Q(name__icontains=text) | Q(email__icontains=text) | Q(phone__icontains=text)
        )
        .prefetch_related("addresses")
        .order_by("name")[:limit]
    )


def customer_list(*, search: str = ""):
    qs = Customer.objects.annotate(
        order_count=Count("orders"), last_order_at=Max("orders__placed_at")
    )
    if search:
        qs = qs.filter(
            Q(name__icontains=search) | Q(email__icontains=search) | Q(phone__icontains=search)
        )
    return qs.order_by("-last_order_at", "name")
