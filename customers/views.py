"""Staff screens for customers (the customer-facing pages live in public_views)."""

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, Max, Sum
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.vary import vary_on_headers

from core.money import quantize
from core.roles import staff_required
from orders.choices import OrderStatus
from orders.models import Order

from . import selectors
from .models import Customer

PAGE_SIZE = 50
ORDERS_SHOWN = 50


@vary_on_headers("HX-Request")
@staff_required
def customer_list(request):
    q = (request.GET.get("q") or "").strip()
    customers = selectors.customer_list(search=q)
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "q": q,
        "page": page,
        "rows": page.object_list,
        "total": Customer.objects.count() if q else page.paginator.count,
    }
    template = "customers/list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return TemplateResponse(request, template, context)


@staff_required
def customer_detail(request, pk):
    customer = get_object_or_404(Customer, pk=pk)
    orders = Order.objects.visible_to(request.user).filter(customer=customer)
    kept = orders.exclude(status=OrderStatus.CANCELLED)
    # Lifetime value: totals of the orders that were not cancelled, per currency.
    lifetime = list(
        kept.values("currency").annotate(total=Sum("total"), n=Count("id")).order_by("-total")
    )
    for row in lifetime:
        row["average"] = quantize(row["total"] / row["n"])
    stats = orders.aggregate(n=Count("id"), last=Max("placed_at"))
    context = {
        "customer": customer,
        "addresses": list(customer.addresses.all()),
        "orders": orders.select_related("channel").order_by("-placed_at", "-id")[:ORDERS_SHOWN],
        "order_count": stats["n"],
        "kept_count": sum(row["n"] for row in lifetime),
        "last_order_at": stats["last"],
        "lifetime": lifetime,
        "orders_shown": ORDERS_SHOWN,
        "currency": settings.DEFAULT_CURRENCY,
    }
    return TemplateResponse(request, "customers/detail.html", context)
