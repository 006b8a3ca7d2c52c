from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from core.money import format_money, to_decimal

register = template.Library()

# One meaning per colour, everywhere (UI.md).
STATUS_TONES = {
    "draft": "neutral",
    "pending": "neutral",
    "unfulfilled": "neutral",
    "unpaid": "neutral",
    "requested": "blue",
    "open": "blue",
    "picking": "blue",
    "packed": "blue",
    "reserved": "blue",
    "partially_reserved": "amber",
    "authorized": "blue",
    "approved": "blue",
    "in_transit": "blue",
    "out_for_delivery": "blue",
    "received": "blue",
    "issued": "green",
    "on_hold": "amber",
    "backordered": "amber",
    "late": "amber",
    "partially_paid": "amber",
    "partially_shipped": "blue",
    "attention": "amber",
    "shipped": "green",
    "delivered": "green",
    "paid": "green",
    "closed": "green",
    "sent": "green",
    "rendered": "green",
    "refunded": "purple",
    "cancelled": "red",
    "failed": "red",
    "exception": "red",
    "rejected": "red",
    "returned_to_sender": "red",
    "partially_returned": "purple",
    "returned": "purple",
    "partially_refunded": "purple",
}


@register.filter
def money(amount, currency="EUR"):
    if amount is None or amount == "":
        return ""
    return format_money(amount, currency or "EUR")


@register.simple_tag
def status_badge(value, label=None):
    value = value or ""
    tone = STATUS_TONES.get(value, "neutral")
    text = label or value.replace("_", " ").capitalize()
    return format_html('<span class="badge badge-{}" data-status="{}">{}</span>', tone, value, text)


@register.filter
def when(value):
    """Relative time for recent moments, the exact time on hover."""
    if not value:
        return ""
    now = timezone.now()
    local = timezone.localtime(value)
    exact = local.strftime("%Y-%m-%d %H:%M %Z")
    delta = now - value
    if timedelta(0) <= delta < timedelta(days=7):
        if delta < timedelta(minutes=1):
            text = "just now"
        else:
            text = timesince(value, now, depth=1) + " ago"
    else:
        text = local.strftime("%d %b %Y")
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), exact, text)


@register.filter
def humanize_status(value):
    return (value or "").replace("_", " ").capitalize()


@register.filter
def percent(rate):
    """A tax rate fraction as people write it: 0.1900 -> "19 %", 0.0550 -> "5.5 %"."""
    if rate is None or rate == "":
        return ""
    value = (to_decimal(rate) * 100).normalize()
    text = f"{value:f}"
    return f"{text} %"
