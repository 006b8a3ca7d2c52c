"""EasyPost: tracking pushed by webhook (`tracker.updated` Events).

An Event's `result` is a Tracker: `tracking_code`, `status`, `est_delivery_date`, `carrier`
and `tracking_details[]`, each with `status`, `message`, `datetime` and `tracking_location`
{city, state, country, zip}. Every Event carries the tracker's whole history, so each detail
becomes one `CarrierEvent` and `fulfillment.tracking` stores each once.

Webhooks are signed: `X-Hmac-Signature: hmac-sha256-hex=<hex HMAC-SHA256 of the raw body>`,
keyed with the webhook secret normalised to NFKD (as EasyPost's own client libraries do)."""

import datetime
import hashlib
import hmac
import unicodedata
from dataclasses import dataclass, field

from django.utils.dateparse import parse_date, parse_datetime

from .base import CarrierError, CarrierEvent, Label, LabelRequest

SIGNATURE_HEADER = "X-Hmac-Signature"
SIGNATURE_PREFIX = "hmac-sha256-hex="

# EasyPost's tracker statuses -> ours ("" informs without moving the shipment).
STATUS_MAP = {
    "pre_transit": "",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "return_to_sender": "returned_to_sender",
    "failure": "exception",
    "available_for_pickup": "",
    "cancelled": "",
    "error": "",
    "unknown": "",
}


class MalformedEvent(ValueError):
    """The body is JSON but not an EasyPost Event we can read; the message says what is wrong."""


# ---------------------------------------------------------------- signature


def signature_for(raw_body: bytes, secret: str) -> str:
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return SIGNATURE_PREFIX + hmac.new(key, raw_body, hashlib.sha256).hexdigest()


def signature_valid(raw_body: bytes, header: str | None, secrets: list[str]) -> bool:
    """True when the header is the signature of the body under one of the secrets
    (compared in constant time). No header or no secret is never valid."""
    if not header:
        return False
    given = header.strip().encode()
    ok = False
    for secret in secrets:
        if secret:
            ok |= hmac.compare_digest(signature_for(raw_body, secret).encode(), given)
    return ok


# ---------------------------------------------------------------- parsing


@dataclass
class ParsedEvent:
    event_id: str
    description: str
    tracking_code: str = ""
    carrier: str = ""
    est_delivery_date: datetime.date | None = None
    events: list[CarrierEvent] = field(default_factory=list)

    @property
    def is_tracker_update(self) -> bool:
        return self.description == "tracker.updated"


def _when(value) -> datetime.datetime | None:
    if not value or not isinstance(value, str):
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def _location(loc) -> str:
    if not isinstance(loc, dict):
        return ""
    parts = [str(loc.get(k) or "").strip() for k in ("city", "state", "country")]
    return ", ".join(p for p in parts if p)


def parse_event(payload) -> ParsedEvent:
    """An EasyPost Event (as decoded JSON) -> the tracker's events. Raises MalformedEvent."""
    if not isinstance(payload, dict) or payload.get("object") != "Event":
        raise MalformedEvent('Expected an EasyPost Event object ("object": "Event").')
    parsed = ParsedEvent(
        event_id=str(payload.get("id") or ""), description=str(payload.get("description") or "")
    )
    if not parsed.is_tracker_update:
        return parsed
    tracker = payload.get("result")
    if not isinstance(tracker, dict) or not tracker.get("tracking_code"):
        raise MalformedEvent(
            "A tracker.updated Event needs a Tracker with a tracking_code in result."
        )
    parsed.tracking_code = str(tracker["tracking_code"]).strip()
    parsed.carrier = str(tracker.get("carrier") or "")
    est = tracker.get("est_delivery_date")
    if isinstance(est, str) and est:
        moment = _when(est)
        parsed.est_delivery_date = moment.date() if moment else parse_date(est[:10])
    details = tracker.get("tracking_details") or []
    if not isinstance(details, list):
        raise MalformedEvent("tracking_details must be a list.")
    for d in details:
        if not isinstance(d, dict):
            raise MalformedEvent("Each tracking detail must be an object.")
        occurred = _when(d.get("datetime"))
        if occurred is None:
            raise MalformedEvent("Each tracking detail needs a datetime (ISO 8601).")
        carrier_status = str(d.get("status") or "unknown")
        parsed.events.append(
            CarrierEvent(
                tracking_number=parsed.tracking_code,
                status=STATUS_MAP.get(carrier_status, ""),
                carrier_status=carrier_status,
                occurred_at=occurred,
                event_id="",  # details have no id: the record hashes status, time and message
                location=_location(d.get("tracking_location")),
                message=str(d.get("message") or d.get("description") or "").strip(),
                raw=d,
            )
        )
    if not details and tracker.get("status"):
        # A tracker without history still says where the parcel is.
        occurred = _when(tracker.get("updated_at")) or _when(payload.get("created_at"))
        if occurred is not None:
            carrier_status = str(tracker["status"])
            parsed.events.append(
                CarrierEvent(
                    tracking_number=parsed.tracking_code,
                    status=STATUS_MAP.get(carrier_status, ""),
                    carrier_status=carrier_status,
                    occurred_at=occurred,
                    event_id=f"{tracker.get('id') or parsed.tracking_code}:{carrier_status}",
                    message=str(tracker.get("status_detail") or "").replace("_", " "),
                    raw={k: v for k, v in tracker.items() if k != "tracking_details"},
                )
            )
    return parsed


def body_dedupe_key(raw_body: bytes, parsed: ParsedEvent) -> str:
    return hashlib.sha256(
        f"easypost|{parsed.event_id}".encode() if parsed.event_id else raw_body
    ).hexdigest()


# ---------------------------------------------------------------- client


class EasyPostClient:
    """Tracking arrives by webhook; buying labels through EasyPost is not set up here."""

    pushes_events = True
    min_interval_seconds = 0

    def __init__(self, carrier=None):
        self.carrier = carrier

    def buy_label(self, request: LabelRequest) -> Label:
        raise CarrierError(
            "Labels are not bought through EasyPost here; enter the tracking number from the label."
        )

    def track(self, tracking_number: str, *, shipped_at: datetime.datetime) -> list[CarrierEvent]:
        return []  # EasyPost pushes tracker.updated Events to /webhooks/carriers/easypost/
