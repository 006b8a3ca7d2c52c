"""The staff home (KPIs, the exception inbox, recent orders) and the global search."""

from django.conf import settings
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from core import roles
from core.roles import staff_required
from inventory import selectors as inventory_selectors

from .selectors import (
    dashboard_kpis,
    exact_order,
    global_search,
    needs_attention,
    orders_per_day,
    recent_orders,
)


@staff_required
@require_GET
def home(request):
    attention, attention_counts = needs_attention(user=request.user)
    context = {
        "kpis": dashboard_kpis(user=request.user),
        "attention": attention,
        "attention_counts": attention_counts,
        "attention_total": sum(attention_counts.values()),
        "restock_alerts": inventory_selectors.open_restock_alerts(limit=10),
        "restock_alert_count": inventory_selectors.open_restock_alert_count(),
        "recent": recent_orders(user=request.user),
        "per_day": orders_per_day(user=request.user),
        "today": timezone.localdate(),
        "can_place": roles.has_role(request.user, roles.PLACE_ORDER),
    }
    return TemplateResponse(request, "dashboard/home.html", context)


@staff_required
@require_GET
def search(request):
    """One box for order numbers, emails, tracking numbers, SKUs and RMA numbers. An exact
    order number goes straight to the order."""
    text = request.GET.get("q", "").strip()[:200]
    order = exact_order(user=request.user, text=text) if text else None
    if order is not None:
        return redirect(order)
    results = global_search(user=request.user, text=text)
    context = {
        "q": text,
        "results": results,
        "total": sum(len(v) for v in results.values()),
        "currency": settings.DEFAULT_CURRENCY,
        "example_number": f"{settings.ORDER_NUMBER_PREFIX}10001",
    }
    return TemplateResponse(request, "dashboard/search.html", context)
