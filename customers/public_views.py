"""The customer's pages (no login): the order status page reached by the token link in every
email, the documents on it, the return request, and the rate-limited order lookup.

Every bad token, and every document that is not the token's order's, gets the same 404."""

import datetime
import logging
import math
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import FileResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError
from core.http import apply_domain_error
from fulfillment.choices import IN_FLIGHT_STATUSES, ShipmentStatus
from fulfillment.feedback import feedback_can_rate, feedback_submit
from fulfillment.models import DeliveryFeedback
from fulfillment.tracking import customer_words
from invoicing.choices import DocumentStatus
from invoicing.models import CreditNote, Invoice
from invoicing.services import document_render
from orders.choices import EventSource, OrderStatus, PaymentStatus
from orders.models import Order
from returns.choices import ReturnStatus
from returns.services import return_request_create, returnable_quantities

from .public_forms import FeedbackForm, LookupForm, ReturnForm

logger = logging.getLogger(__name__)

LOOKUP_FAILED = "We couldn't find an order with that number and email."

# ---------------------------------------------------------------- plain words

STEPS = [
    ("placed", "Placed"),
    ("packed", "Packed"),
    ("shipped", "Shipped"),
    ("out_for_delivery", "Out for delivery"),
    ("delivered", "Delivered"),
]
S = ShipmentStatus
SHIPMENT_STAGE = {
    S.PENDING: 0,
    S.PICKING: 0,
    S.PACKED: 1,
    S.SHIPPED: 2,
    S.IN_TRANSIT: 2,
    S.EXCEPTION: 2,
    S.RETURNED_TO_SENDER: 2,
    S.OUT_FOR_DELIVERY: 3,
    S.DELIVERED: 4,
}
SHIPMENT_WORDS = {
    S.PENDING: ("Being prepared", "neutral"),
    S.PICKING: ("Being packed", "blue"),
    S.PACKED: ("Packed, leaving soon", "blue"),
    S.SHIPPED: ("On its way", "blue"),
    S.IN_TRANSIT: ("On its way", "blue"),
    S.OUT_FOR_DELIVERY: ("Out for delivery", "blue"),
    S.DELIVERED: ("Delivered", "green"),
    S.EXCEPTION: ("Delayed", "amber"),
    S.RETURNED_TO_SENDER: ("Coming back to us", "red"),
}
RETURN_WORDS = {
    ReturnStatus.REQUESTED: ("Waiting for your parcel", "blue"),
    ReturnStatus.RECEIVED: ("Received, being checked", "blue"),
    ReturnStatus.REFUNDED: ("Refunded", "purple"),
    ReturnStatus.REJECTED: ("Declined", "red"),
    ReturnStatus.CANCELLED: ("Cancelled", "neutral"),
}
PAYMENT_WORDS = {
    PaymentStatus.UNPAID: ("Not paid yet", "neutral"),
    PaymentStatus.AUTHORIZED: ("Payment authorised", "blue"),
    PaymentStatus.PARTIALLY_PAID: ("Partly paid", "amber"),
    PaymentStatus.PAID: ("Paid", "green"),
    PaymentStatus.PARTIALLY_REFUNDED: ("Partly refunded", "purple"),
    PaymentStatus.REFUNDED: ("Refunded", "purple"),
}


@dataclass
class Step:
    key: str
    label: str
    state: str  # "done", "partial" or "todo"
    current: bool = False


@dataclass
class Progress:
    steps: list[Step]
    headline: str
    detail: str
    arrived: bool = False  # at least one parcel was delivered


def _progress(order: Order, lines, shipments) -> Progress:
    """The order's stepper and its headline in plain words, from the parcels' statuses.
    A step is done when every unit reached it, partial when some did."""
    total = sum(ln.quantity for ln in lines)
    reached = [total, 0, 0, 0, 0]
    for s in shipments:
        units = sum(sl.quantity for sl in s.lines.all())
        for i in range(1, SHIPMENT_STAGE.get(s.status, 0) + 1):
            reached[i] += units
    reached = [min(r, total) for r in reached]
    top = max((i for i, r in enumerate(reached) if r > 0), default=0)
    low = max((i for i, r in enumerate(reached) if total and r >= total), default=0)
    steps = [
        Step(
            key,
            label,
            "done" if total and reached[i] >= total else "partial" if reached[i] else "todo",
            current=i == top,
        )
        for i, (key, label) in enumerate(STEPS)
    ]
    parcels = sum(1 for s in shipments if SHIPMENT_STAGE.get(s.status, 0) >= 2)
    if order.fulfillment_status == "returned":
        headline, detail = "Returned", "Everything in this order came back to us."
    elif low == top:
        headline, detail = {
            0: (
                "We've received your order",
                "We're getting it ready and will email you as soon as it's on its way.",
            ),
            1: ("Packed and ready to go", "Your order leaves our warehouse soon."),
            2: (
                "On its way",
                "Your parcels are with the carrier."
                if parcels > 1
                else "Your parcel is with the carrier.",
            ),
            3: ("Out for delivery", "It should arrive today."),
            4: ("Delivered", "Your order has arrived. Enjoy!"),
        }[low]
    elif top == 4:
        headline = "Partly delivered"
        detail = (
            "Part of your order has arrived; the rest is on its way."
            if low >= 2
            else "Part of your order has arrived; the rest follows in a separate parcel."
        )
    elif top >= 2:
        headline = "Partly on its way"
        detail = "Part of your order is on its way; the rest follows in a separate parcel."
    else:
        headline, detail = (
            "Being packed",
            "Part of your order is packed; we're getting the rest ready.",
        )
    return Progress(steps=steps, headline=headline, detail=detail, arrived=top == 4)


# ---------------------------------------------------------------- helpers


@dataclass
class TrackingLine:
    at: object
    words: str
    detail: str = ""
    tone: str = "neutral"


TRACKING_TONES = {
    S.DELIVERED: "green",
    S.EXCEPTION: "amber",
    S.RETURNED_TO_SENDER: "red",
    S.OUT_FOR_DELIVERY: "blue",
}


HEADLINE_STATUSES = {S.OUT_FOR_DELIVERY, S.DELIVERED, S.EXCEPTION, S.RETURNED_TO_SENDER}


def _tracking_lines(shipment) -> list[TrackingLine]:
    """The parcel's journey in plain words, newest first: what the carrier said, then
    "Handed to <carrier>" when it left us. Carrier codes stay out of sight."""
    lines = []
    for e in shipment.tracking_events.all():  # newest first (model ordering)
        if e.status in HEADLINE_STATUSES:  # big news: our words first, the carrier's below
            words = customer_words(e.status, e.message)
            detail_parts = [e.message] if e.message and e.status != S.EXCEPTION else []
        else:  # a scan on the way: what the carrier said is the news
            words = e.message or customer_words(e.status)
            detail_parts = []
        if e.location:
            detail_parts.append(e.location)
        lines.append(
            TrackingLine(
                e.occurred_at,
                words,
                " · ".join(detail_parts),
                TRACKING_TONES.get(e.status, "neutral"),
            )
        )
    if shipment.shipped_at:
        carrier = shipment.carrier.name if shipment.carrier else "the carrier"
        lines.append(
            TrackingLine(shipment.shipped_at, f"Handed to {carrier}", "Left our warehouse")
        )
    return lines


def _expected(shipment, today) -> dict | None:
    """When the parcel should arrive, and whether that has passed."""
    if shipment.status not in IN_FLIGHT_STATUSES and shipment.status not in (
        S.PACKED,
        S.PICKING,
        S.PENDING,
    ):
        return None
    if not shipment.expected_delivery_date:
        return None
    date = shipment.expected_delivery_date
    return {
        "date": date,
        "late": date < today and shipment.status in IN_FLIGHT_STATUSES,
        "today": date == today,
        "tomorrow": date == today + datetime.timedelta(days=1),
    }


def _customer_timeline(order: Order) -> list:
    """What the customer sees of the timeline, newest first; one line for the same news told
    twice in a row (two parcels packed together)."""
    events = []
    for e in order.events.filter(visible_to_customer=True).order_by("-created_at", "-id"):
        if events and events[-1].customer_message == e.customer_message:
            continue
        events.append(e)
    return events


def _private(view):
    """Customer pages are personal: never cached, never indexed."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return never_cache(wrapped)


class _NotFound(Exception):
    pass


def _not_found(request) -> TemplateResponse:
    """The one answer for every unknown token or document: it says nothing about why."""
    return TemplateResponse(request, "status/not_found.html", {}, status=404)


def _order_for(token: str) -> Order:
    if not token or len(token) > 64:
        raise _NotFound
    order = Order.objects.filter(status_token=token).first()
    if order is None:
        raise _NotFound
    return order


def _token_view(view):
    @wraps(view)
    def wrapped(request, token, *args, **kwargs):
        try:
            order = _order_for(token)
            return view(request, order, *args, **kwargs)
        except _NotFound:
            return _not_found(request)

    return wrapped


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def _lookup_attempts(request) -> int:
    return cache.get(f"status-lookup:{_client_ip(request)}", 0)


def _count_lookup_attempt(request) -> int:
    key = f"status-lookup:{_client_ip(request)}"
    cache.add(key, 0, timeout=settings.STATUS_LOOKUP_WINDOW)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.STATUS_LOOKUP_WINDOW)
        return 1


def _rate_limited(request) -> TemplateResponse:
    minutes = max(1, math.ceil(settings.STATUS_LOOKUP_WINDOW / 60))
    response = TemplateResponse(
        request, "status/rate_limited.html", {"minutes": minutes}, status=429
    )
    response["Retry-After"] = str(settings.STATUS_LOOKUP_WINDOW)
    return response


def _find_order(number: str, email: str) -> Order | None:
    candidates = [number]
    prefix = settings.ORDER_NUMBER_PREFIX.upper()
    if prefix and not number.startswith(prefix):
        candidates.append(prefix + number)
    return (
        Order.objects.filter(number__in=candidates, email__iexact=email)
        .exclude(status=OrderStatus.DRAFT)
        .first()
    )


# ---------------------------------------------------------------- views


@_private
@require_http_methods(["GET", "POST"])
def lookup(request):
    """Order number + email -> the status page. Rate limited per client address."""
    if _lookup_attempts(request) >= settings.STATUS_LOOKUP_RATE:
        return _rate_limited(request)
    form = LookupForm(request.POST or None)
    if request.method == "POST":
        _count_lookup_attempt(request)
        if form.is_valid():
            order = _find_order(form.cleaned_data["number"], form.cleaned_data["email"])
            if order is not None:
                return redirect("status:page", token=order.status_token)
            form.add_error(None, LOOKUP_FAILED)
    return TemplateResponse(
        request,
        "status/lookup.html",
        {"form": form, "example_number": f"{settings.ORDER_NUMBER_PREFIX}10042"},
    )


@_private
@require_GET
@_token_view
def page(request, order: Order):
    lines = list(order.lines.all())
    shipments = list(
        order.shipments.exclude(status=ShipmentStatus.CANCELLED)
        .select_related("carrier")
        .prefetch_related("lines__order_line", "tracking_events")
        .order_by("created_at", "id")
    )
    today = timezone.localdate()
    returns = list(
        order.return_requests.prefetch_related("lines__order_line").order_by("-created_at", "-id")
    )
    cancelled = order.status == OrderStatus.CANCELLED
    returnable = {} if cancelled else returnable_quantities(order=order)
    parcels = [
        {
            "shipment": s,
            "index": i,
            "words": SHIPMENT_WORDS.get(s.status, (s.get_status_display(), "neutral"))[0],
            "tone": SHIPMENT_WORDS.get(s.status, ("", "neutral"))[1],
            "items": [(sl.order_line, sl.quantity) for sl in s.lines.all()],
            "tracking": _tracking_lines(s),
            "problem": next(
                (e.message for e in s.tracking_events.all() if e.status == S.EXCEPTION), ""
            ).rstrip("."),
            "expected": _expected(s, today),
        }
        for i, s in enumerate(shipments, start=1)
    ]
    context = {
        "order": order,
        "lines": lines,
        "progress": None if cancelled else _progress(order, lines, shipments),
        "cancelled": cancelled,
        "parcels": parcels,
        "delayed": [p for p in parcels if p["shipment"].status == ShipmentStatus.EXCEPTION],
        "backordered": not cancelled and any(ln.quantity_backordered for ln in lines),
        "returns": [
            {"rma": r, "words": RETURN_WORDS[r.status][0], "tone": RETURN_WORDS[r.status][1]}
            for r in returns
        ],
        "waiting_returns": [r for r in returns if r.status == ReturnStatus.REQUESTED],
        "invoices": list(order.invoices.all()),
        "credit_notes": list(order.credit_notes.all()),
        "events": _customer_timeline(order),
        "can_return": bool(returnable),
        "payment_words": PAYMENT_WORDS.get(order.payment_status, ("", "neutral")),
        "merchant_address": settings.MERCHANT_ADDRESS,
        "returned_to_sender": [
            p for p in parcels if p["shipment"].status == ShipmentStatus.RETURNED_TO_SENDER
        ],
        "feedback": _feedback_of(order),
        "can_rate": not cancelled and any(s.status == ShipmentStatus.DELIVERED for s in shipments),
        "feedback_form": FeedbackForm(),
    }
    return TemplateResponse(request, "status/page.html", context)


@_private
@require_GET
@_token_view
def document(request, order: Order, kind: str, number: str):
    """An invoice or credit note PDF of the token's order, rendered now if the worker has not yet."""
    models = {"invoice": (Invoice, "invoice"), "credit-note": (CreditNote, "credit_note")}
    if kind not in models:
        return _not_found(request)
    model, render_kind = models[kind]
    doc = model.objects.filter(order=order, number=number).first()
    if doc is None:
        return _not_found(request)
    if doc.pdf_status != DocumentStatus.RENDERED or not doc.pdf:
        try:
            doc = document_render(kind=render_kind, pk=doc.pk)
        except Exception:
            logger.exception("Rendering %s %s for the status page failed", kind, number)
            response = TemplateResponse(
                request, "status/document_pending.html", {"order": order, "doc": doc}, status=503
            )
            response["Retry-After"] = "60"
            return response
    return FileResponse(
        doc.pdf.open("rb"), content_type="application/pdf", filename=f"{doc.number}.pdf"
    )


@_private
@require_http_methods(["GET", "POST"])
@_token_view
def return_request(request, order: Order):
    """Choose what goes back and why; the return is created as the customer's own request."""
    returnable = {} if order.status == OrderStatus.CANCELLED else returnable_quantities(order=order)
    if not returnable:
        messages.info(request, "Nothing in this order can be returned right now.")
        return redirect("status:page", token=order.status_token)
    lines = list(order.lines.all())
    form = ReturnForm(request.POST or None, lines=lines, returnable=returnable)
    if request.method == "POST" and form.is_valid():
        try:
            rma = return_request_create(
                order=order,
                quantities=form.quantities(),
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                actor=None,
                source=EventSource.CUSTOMER,
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(
                request, f"Return {rma.number} requested. We've emailed you the next steps."
            )
            return redirect("status:page", token=order.status_token)
    return TemplateResponse(request, "status/return.html", {"order": order, "form": form})


# ---------------------------------------------------------------- delivery feedback


def _feedback_of(order: Order) -> DeliveryFeedback | None:
    return DeliveryFeedback.objects.filter(order=order).first()


def _feedback_attempts(request) -> int:
    return cache.get(f"status-feedback:{_client_ip(request)}", 0)


def _count_feedback_attempt(request) -> None:
    key = f"status-feedback:{_client_ip(request)}"
    cache.add(key, 0, timeout=settings.STATUS_LOOKUP_WINDOW)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.STATUS_LOOKUP_WINDOW)


@_private
@require_http_methods(["GET", "POST"])
@_token_view
def feedback(request, order: Order):
    """Rate the delivery: 1-5 and a comment, once per order. A second submission shows
    the stored rating; before anything arrived the page says when rating opens."""
    stored = _feedback_of(order)
    can_rate = order.status != OrderStatus.CANCELLED and feedback_can_rate(order=order)
    initial = {}
    if request.GET.get("rating", "") in {"1", "2", "3", "4", "5"}:
        initial["rating"] = int(request.GET["rating"])
    form = FeedbackForm(request.POST or None, initial=initial)
    if request.method == "POST" and stored is None and can_rate:
        if _feedback_attempts(request) >= settings.STATUS_LOOKUP_RATE:
            return _rate_limited(request)
        _count_feedback_attempt(request)
        if form.is_valid():
            try:
                stored, created = feedback_submit(
                    order=order,
                    rating=form.cleaned_data["rating"],
                    comment=form.cleaned_data["comment"],
                )
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                if created:
                    messages.success(request, "Thank you for rating your delivery.")
                    return redirect("status:page", token=order.status_token)
    elif request.method == "POST" and stored is not None:
        messages.info(request, "You already rated this delivery; here is your rating.")
        return redirect("status:feedback", token=order.status_token)
    return TemplateResponse(
        request,
        "status/feedback.html",
        {"order": order, "form": form, "feedback": stored, "can_rate": can_rate},
    )
