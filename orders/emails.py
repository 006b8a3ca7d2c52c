"""Customer emails: an HTML and a plain-text twin rendered from templates/emails/<kind>.*"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils.dateparse import parse_date

from .choices import NotificationKind
from .models import Notification

SUBJECTS = {
    NotificationKind.ORDER_CONFIRMATION: "Order {number} received",
    NotificationKind.ORDER_SHIPPED: "Order {number} is on its way",
    NotificationKind.ORDER_OUT_FOR_DELIVERY: "Order {number} is out for delivery today",
    NotificationKind.ORDER_DELIVERED: "Order {number} has been delivered",
    NotificationKind.SHIPMENT_DELAYED: "Order {number}: your delivery is delayed",
    NotificationKind.FEEDBACK_REQUEST: "How was the delivery of order {number}?",
    NotificationKind.ORDER_CANCELLED: "Order {number} has been cancelled",
    NotificationKind.RETURN_REQUESTED: "Return {rma} for order {number}: next steps",
    NotificationKind.RETURN_RECEIVED: "We received your return {rma} (order {number})",
    NotificationKind.REFUND_ISSUED: "Refund for order {number}",
    NotificationKind.ORDER_CHANGED: "Order {number} has changed",
    NotificationKind.BACKORDER_FILLED: "Good news: backordered items for order {number} are in",
}


def render_notification(n: Notification) -> EmailMultiAlternatives:
    order = n.order
    payload = n.payload or {}
    context = {
        "order": order,
        "lines": list(order.lines.all()),
        "status_url": order.status_url(),
        "merchant_name": settings.MERCHANT_NAME,
        "merchant_address": settings.MERCHANT_ADDRESS,
        "site_url": settings.SITE_URL,
        "payload": payload,
        "kind": n.kind,
        # An ISO date in the payload (shipped, out for delivery, delayed), as a date for |date.
        "expected_delivery_date": parse_date(str(payload.get("expected_delivery_date") or "")[:10]),
    }
    subject = f"{SUBJECTS[n.kind].format(number=order.number, rma=payload.get('rma', ''))} · {settings.MERCHANT_NAME}"
    text = render_to_string(f"emails/{n.kind}.txt", context)
    html = render_to_string(f"emails/{n.kind}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[n.recipient])
    message.attach_alternative(html, "text/html")
    return message
