"""POST /webhooks/carriers/easypost/: EasyPost tracker.updated Events, HMAC-signed."""

import hashlib
import hmac
import json

import pytest
from django.test import Client

from fulfillment.models import Shipment, TrackingEvent, UnmatchedTrackingEvent
from fulfillment.services import (
    shipment_confirm_packed,
    shipment_confirm_picked,
    shipment_ship,
    shipments_create,
)
from fulfillment.tracking import tracking_unmatched_claim
from orders.choices import NotificationKind
from orders.models import Notification
from tests.factories import CarrierFactory

pytestmark = pytest.mark.django_db

URL = "/webhooks/carriers/easypost/"
SECRET = "whsec-northwind-42"


def tracker_event(
    tracking_code="9400110200881234567890", *, details=None, event_id="evt_3f9a", status=None
):
    details = (
        details
        if details is not None
        else [
            {
                "object": "TrackingDetail",
                "message": "Pre-Shipment information received",
                "status": "pre_transit",
                "status_detail": "status_update",
                "datetime": "2026-11-24T08:02:00Z",
                "source": "USPS",
                "tracking_location": {
                    "object": "TrackingLocation",
                    "city": None,
                    "state": None,
                    "country": None,
                    "zip": None,
                },
            },
            {
                "object": "TrackingDetail",
                "message": "Arrived at USPS Regional Facility",
                "status": "in_transit",
                "status_detail": "arrived_at_facility",
                "datetime": "2026-11-25T03:14:00Z",
                "source": "USPS",
                "tracking_location": {
                    "object": "TrackingLocation",
                    "city": "COLUMBUS",
                    "state": "OH",
                    "country": "US",
                    "zip": "43218",
                },
            },
            {
                "object": "TrackingDetail",
                "message": "Out for Delivery",
                "status": "out_for_delivery",
                "status_detail": "out_for_delivery",
                "datetime": "2026-11-26T07:40:00-05:00",
                "source": "USPS",
                "tracking_location": {
                    "object": "TrackingLocation",
                    "city": "DAYTON",
                    "state": "OH",
                    "country": "US",
                    "zip": "45402",
                },
            },
        ]
    )
    return {
        "id": event_id,
        "object": "Event",
        "mode": "production",
        "description": "tracker.updated",
        "previous_attributes": {"status": "in_transit"},
        "created_at": "2026-11-26T12:41:02Z",
        "pending_urls": [],
        "completed_urls": [],
        "status": "pending",
        "result": {
            "id": "trk_c8e0edb5bb284caa934a0d3db23a148z",
            "object": "Tracker",
            "mode": "production",
            "tracking_code": tracking_code,
            "status": status or (details[-1]["status"] if details else "unknown"),
            "status_detail": "out_for_delivery",
            "created_at": "2026-11-24T08:02:00Z",
            "updated_at": "2026-11-26T12:41:00Z",
            "signed_by": None,
            "weight": None,
            "est_delivery_date": "2026-11-26T00:00:00Z",
            "shipment_id": None,
            "carrier": "USPS",
            "tracking_details": details,
            "public_url": f"https://track.easypost.com/djE6dHJrXzE{tracking_code}",
        },
    }


def sign(body: bytes, secret: str = SECRET) -> str:
    import unicodedata

    key = unicodedata.normalize("NFKD", secret).encode()
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def post(body: bytes, signature: str | None = "sign", **extra):
    headers = {}
    if signature == "sign":
        headers["HTTP_X_HMAC_SIGNATURE"] = sign(body)
    elif signature is not None:
        headers["HTTP_X_HMAC_SIGNATURE"] = signature
    client = Client(enforce_csrf_checks=True)  # no CSRF token: the signature is the authentication
    return client.post(URL, data=body, content_type="application/json", **headers, **extra)


def as_bytes(payload) -> bytes:
    return json.dumps(payload, indent=2).encode()


@pytest.fixture
def easypost(db):
    return CarrierFactory(
        code="usps-ep",
        name="USPS",
        adapter="easypost",
        webhook_secret=SECRET,
        tracking_url_template="https://tools.usps.com/go/TrackConfirmAction?tLabels={tracking}",
    )


@pytest.fixture
def shipment(placed_order, manager, easypost):
    s = shipments_create(order=placed_order, actor=manager)[0]
    shipment_confirm_picked(shipment=s, actor=manager)
    shipment_confirm_packed(shipment=s, actor=manager)
    shipment_ship(
        shipment=s, carrier=easypost, tracking_number="9400110200881234567890", actor=manager
    )
    return Shipment.objects.get(pk=s.pk)


def test_valid_event_is_recorded_and_moves_the_shipment(shipment):
    response = post(as_bytes(tracker_event()))

    assert response.status_code == 200
    assert response.json()["matched"] is True
    assert response.json()["new_events"] == 3
    shipment.refresh_from_db()
    assert shipment.status == "out_for_delivery"
    events = list(TrackingEvent.objects.filter(shipment=shipment).order_by("occurred_at"))
    assert [e.carrier_status for e in events] == ["pre_transit", "in_transit", "out_for_delivery"]
    assert [e.status for e in events] == ["", "in_transit", "out_for_delivery"]
    assert events[1].location == "COLUMBUS, OH, US"
    assert events[2].occurred_at.isoformat() == "2026-11-26T12:40:00+00:00"
    assert events[2].raw["status_detail"] == "out_for_delivery"
    assert shipment.last_event_at == events[2].occurred_at
    assert shipment.expected_delivery_date.isoformat() == "2026-11-26"  # filled from the tracker
    assert (
        Notification.objects.filter(
            order=shipment.order, kind=NotificationKind.ORDER_OUT_FOR_DELIVERY
        ).count()
        == 1
    )


def test_the_same_event_twice_is_stored_once(shipment):
    body = as_bytes(tracker_event())
    post(body)
    again = post(body)

    assert again.status_code == 200
    assert again.json()["new_events"] == 0
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 3
    assert (
        Notification.objects.filter(
            order=shipment.order, kind=NotificationKind.ORDER_OUT_FOR_DELIVERY
        ).count()
        == 1
    )


def test_a_later_event_carries_the_history_and_only_the_new_detail_is_added(shipment):
    post(as_bytes(tracker_event()))
    history = tracker_event()["result"]["tracking_details"]
    delivered = {
        **history[-1],
        "status": "delivered",
        "message": "Delivered, In/At Mailbox",
        "datetime": "2026-11-26T15:02:00Z",
    }
    response = post(as_bytes(tracker_event(details=[*history, delivered], event_id="evt_4b1c")))

    assert response.json()["new_events"] == 1
    shipment.refresh_from_db()
    assert shipment.status == "delivered"


@pytest.mark.parametrize(
    ("case", "make"),
    [
        (
            "tampered body",
            lambda body: (body.replace(b"out_for_delivery", b"delivered"), sign(body)),
        ),
        ("wrong secret", lambda body: (body, sign(body, "someone-elses-secret"))),
        ("missing header", lambda body: (body, None)),
        ("empty header", lambda body: (body, "")),
        (
            "bare hex without the prefix",
            lambda body: (body, sign(body).removeprefix("hmac-sha256-hex=")),
        ),
    ],
)
def test_a_bad_signature_gets_401_and_changes_nothing(shipment, case, make):
    body, signature = make(as_bytes(tracker_event()))

    response = post(body, signature=signature)

    assert response.status_code == 401, case
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 401
    assert TrackingEvent.objects.count() == 0
    assert UnmatchedTrackingEvent.objects.count() == 0
    shipment.refresh_from_db()
    assert shipment.status == "shipped"


def test_the_secret_is_normalised_to_nfkd(placed_order, manager):
    # "ﬁ" (U+FB01) and "²" decompose under NFKD to "fi" and "2", as EasyPost's libraries do.
    carrier = CarrierFactory(
        code="ep2", name="EasyPost", adapter="easypost", webhook_secret="ﬁeld-secret²"
    )
    body = as_bytes(tracker_event(tracking_code="UNKNOWN-1"))

    assert post(body, signature=sign(body, "field-secret2")).status_code == 200
    raw_key = hmac.new("ﬁeld-secret²".encode(), body, hashlib.sha256).hexdigest()
    assert post(body, signature="hmac-sha256-hex=" + raw_key).status_code == 401
    assert carrier.webhook_secret == "ﬁeld-secret²"


def test_the_environment_secret_overrides_the_carrier_secret(shipment, settings):
    settings.EASYPOST_WEBHOOK_SECRET = "from-the-environment"
    body = as_bytes(tracker_event())

    assert post(body).status_code == 401  # the admin secret no longer counts
    assert post(body, signature=sign(body, "from-the-environment")).status_code == 200


def test_no_secret_configured_refuses_every_event(placed_order):
    body = as_bytes(tracker_event())
    assert post(body, signature=sign(body, "")).status_code == 401


def test_unknown_tracking_code_gets_200_and_is_kept_once_for_matching(
    easypost, placed_order, manager
):
    body = as_bytes(tracker_event(tracking_code="EZ4000000004"))

    first = post(body)
    second = post(body)

    assert first.status_code == 200
    assert first.json() == {"received": True, "matched": False, "kept": True}
    assert second.json()["kept"] is False
    kept = UnmatchedTrackingEvent.objects.get()
    assert kept.tracking_code == "EZ4000000004"
    assert kept.carrier == easypost
    assert kept.matched_shipment is None

    # Later the label is bought and the shipment gets that tracking number: the news applies.
    s = shipments_create(order=placed_order, actor=manager)[0]
    shipment_confirm_picked(shipment=s, actor=manager)
    shipment_confirm_packed(shipment=s, actor=manager)
    s = shipment_ship(shipment=s, carrier=easypost, tracking_number="EZ4000000004", actor=manager)

    assert tracking_unmatched_claim(shipment=s) == 3
    assert tracking_unmatched_claim(shipment=s) == 0
    s.refresh_from_db()
    assert s.status == "out_for_delivery"
    kept.refresh_from_db()
    assert kept.matched_shipment == s


def test_malformed_json_gets_400_problem(shipment):
    body = b'{"object": "Event", "description": "tracker.updated", '
    response = post(body)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "JSON" in response.json()["detail"]


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2, 3],
        {"object": "Tracker"},
        {"object": "Event", "description": "tracker.updated", "result": {"object": "Tracker"}},
        {
            "object": "Event",
            "description": "tracker.updated",
            "result": {
                "tracking_code": "X1",
                "tracking_details": [{"status": "in_transit", "datetime": "yesterday"}],
            },
        },
    ],
    ids=["not-an-object", "not-an-event", "no-tracking-code", "bad-datetime"],
)
def test_events_we_cannot_read_get_400_and_change_nothing(shipment, payload):
    response = post(as_bytes(payload))

    assert response.status_code == 400
    assert response.json()["title"] == "Malformed event"
    assert TrackingEvent.objects.count() == 0


def test_other_events_are_acknowledged_and_ignored(shipment):
    body = as_bytes(
        {
            "id": "evt_1",
            "object": "Event",
            "description": "batch.updated",
            "result": {"object": "Batch"},
        }
    )

    response = post(body)

    assert response.status_code == 200
    assert response.json()["ignored"] == "batch.updated"
    assert TrackingEvent.objects.count() == 0


def test_failure_maps_to_exception_and_return_to_sender_to_returned(shipment):
    details = [
        {
            "message": "Delivery attempted: no access",
            "status": "failure",
            "datetime": "2026-11-26T10:00:00Z",
            "tracking_location": {"city": "DAYTON", "state": "OH", "country": "US"},
        },
    ]
    post(as_bytes(tracker_event(details=details, event_id="evt_f")))
    shipment.refresh_from_db()
    assert shipment.status == "exception"

    details.append(
        {
            "message": "Returned to sender",
            "status": "return_to_sender",
            "datetime": "2026-11-28T10:00:00Z",
            "tracking_location": {},
        }
    )
    post(as_bytes(tracker_event(details=details, event_id="evt_r")))
    shipment.refresh_from_db()
    assert shipment.status == "returned_to_sender"


def test_get_is_not_allowed(easypost):
    assert Client().get(URL).status_code == 405


def test_kept_news_waits_until_the_shipment_has_shipped(easypost, placed_order, manager):
    post(as_bytes(tracker_event(tracking_code="EZ5")))
    s = shipments_create(order=placed_order, actor=manager)[0]
    shipment_confirm_picked(shipment=s, actor=manager)
    s = shipment_confirm_packed(shipment=s, actor=manager)
    s.tracking_number = "EZ5"  # a label bought, not yet handed over

    assert tracking_unmatched_claim(shipment=s) == 0
    assert UnmatchedTrackingEvent.objects.get().matched_shipment is None


def test_news_for_a_packed_shipment_with_a_label_is_kept_until_it_is_handed_over(
    easypost, placed_order, manager
):
    """A label bought, the parcel not yet handed over: a "delivered" event that arrives now is
    kept unmatched (not stored on the shipment and refused), so it applies once the parcel ships."""
    from fulfillment.shipping import shipment_hand_over

    s = shipments_create(order=placed_order, actor=manager)[0]
    shipment_confirm_picked(shipment=s, actor=manager)
    shipment_confirm_packed(shipment=s, actor=manager)
    Shipment.objects.filter(pk=s.pk).update(
        carrier=easypost, tracking_number="EZ6"
    )  # the label bought
    details = [
        {
            "message": "Delivered",
            "status": "delivered",
            "datetime": "2026-11-26T15:00:00Z",
            "tracking_location": {"city": "DAYTON", "state": "OH", "country": "US"},
        }
    ]
    body = as_bytes(tracker_event(tracking_code="EZ6", details=details, event_id="evt_d"))

    first = post(body)
    retry = post(body)

    assert first.status_code == 200
    assert first.json() == {"received": True, "matched": False, "kept": True}
    assert retry.json()["kept"] is False
    assert TrackingEvent.objects.filter(shipment=s).count() == 0
    assert Shipment.objects.get(pk=s.pk).status == "packed"

    shipped = shipment_hand_over(shipment=s, actor=manager)

    shipped.refresh_from_db()
    assert shipped.status == "delivered"
    assert UnmatchedTrackingEvent.objects.get().matched_shipment == shipped


def test_news_kept_while_the_hand_over_committed_is_applied_by_the_sweep(
    easypost, placed_order, manager
):
    """An event kept just after the hand-over's own claim ran is not lost: the beat sweep
    applies kept news to shipments that have left."""
    from fulfillment.tracking import tracking_unmatched_sweep

    s = shipments_create(order=placed_order, actor=manager)[0]
    shipment_confirm_picked(shipment=s, actor=manager)
    shipment_confirm_packed(shipment=s, actor=manager)
    shipment_ship(shipment=s, carrier=easypost, tracking_number="EZ7", actor=manager)
    # As if the webhook had kept it while the hand-over was still committing.
    details = [
        {
            "message": "Out for delivery",
            "status": "out_for_delivery",
            "datetime": "2026-11-26T08:00:00Z",
            "tracking_location": {"city": "DAYTON", "state": "OH", "country": "US"},
        }
    ]
    payload = json.loads(
        as_bytes(tracker_event(tracking_code="EZ7", details=details, event_id="evt_o"))
    )
    UnmatchedTrackingEvent.objects.create(
        carrier=easypost, tracking_code="EZ7", dedupe_key="evt_o", payload=payload
    )

    assert tracking_unmatched_sweep() == 1
    assert Shipment.objects.get(pk=s.pk).status == "out_for_delivery"
    assert UnmatchedTrackingEvent.objects.get().matched_shipment_id == s.pk
    assert tracking_unmatched_sweep() == 0  # nothing twice
