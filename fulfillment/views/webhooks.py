"""Carrier webhooks in: POST /webhooks/carriers/easypost/ (no login, no CSRF: the HMAC
signature over the raw body is the authentication).

- bad or missing signature: 401 problem+json, nothing changes;
- body not JSON, or not an EasyPost Event: 400 problem+json;
- an Event other than tracker.updated: 200, ignored;
- a tracking code we do not know, or of a shipment not handed over yet: 200 (so EasyPost
  stops retrying), kept for matching when it ships."""

import json
import logging

from django.conf import settings
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..carriers import easypost
from ..choices import SHIPPED_STATUSES, CarrierAdapter
from ..models import Carrier, Shipment
from ..tracking import tracking_events_record, tracking_unmatched_keep

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024


def _problem(request, status: int, title: str, detail: str) -> HttpResponse:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    return HttpResponse(json.dumps(body), status=status, content_type="application/problem+json")


def _easypost_carriers() -> list[Carrier]:
    return list(Carrier.objects.filter(adapter=CarrierAdapter.EASYPOST).order_by("-active", "pk"))


@csrf_exempt
@require_POST
def easypost_webhook(request):
    raw = request.body
    carriers = _easypost_carriers()
    secrets = (
        [settings.EASYPOST_WEBHOOK_SECRET]
        if settings.EASYPOST_WEBHOOK_SECRET
        else [c.webhook_secret for c in carriers if c.webhook_secret]
    )
    if not secrets:
        logger.warning("EasyPost webhook refused: no webhook secret is configured")
        return _problem(
            request,
            401,
            "Signature required",
            "No EasyPost webhook secret is configured, so no event can be verified.",
        )
    if not easypost.signature_valid(raw, request.headers.get(easypost.SIGNATURE_HEADER), secrets):
        return _problem(
            request,
            401,
            "Invalid signature",
            f"The {easypost.SIGNATURE_HEADER} header is missing or does not match the body.",
        )
    if len(raw) > MAX_BODY_BYTES:
        return _problem(request, 413, "Request too large", "The event is larger than accepted.")
    try:
        payload = json.loads(raw)
        parsed = easypost.parse_event(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        detail = (
            str(exc) if isinstance(exc, easypost.MalformedEvent) else "The body is not valid JSON."
        )
        return _problem(request, 400, "Malformed event", detail)
    if not parsed.is_tracker_update:
        return JsonResponse({"received": True, "ignored": parsed.description or "unknown event"})

    carrier = carriers[0] if carriers else None
    # Only a shipment that has left: a packed one with a label bought but not yet handed over
    # would refuse the news (and every retry is a duplicate), so it is kept unmatched instead
    # and `tracking_unmatched_claim` applies it once the parcel ships.
    shipment = (
        Shipment.objects.filter(tracking_number=parsed.tracking_code, status__in=SHIPPED_STATUSES)
        .annotate(
            ours=Case(
                When(carrier__adapter=CarrierAdapter.EASYPOST, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("ours", "-shipped_at", "-id")
        .first()
    )
    if shipment is None:
        _kept, created = tracking_unmatched_keep(
            carrier=carrier,
            tracking_code=parsed.tracking_code,
            dedupe_key=easypost.body_dedupe_key(raw, parsed),
            payload=payload,
        )
        return JsonResponse({"received": True, "matched": False, "kept": created})

    recorded = tracking_events_record(shipment=shipment, events=parsed.events)
    if parsed.est_delivery_date and not shipment.expected_delivery_date:
        Shipment.objects.filter(pk=shipment.pk, expected_delivery_date__isnull=True).update(
            expected_delivery_date=parsed.est_delivery_date
        )
    return JsonResponse(
        {
            "received": True,
            "matched": True,
            "shipment": shipment.number,
            "new_events": sum(r.created for r in recorded),
            "applied": sum(r.applied for r in recorded),
        }
    )
