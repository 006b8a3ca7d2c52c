"""Issue C, end to end: a reserved order to its customer's door, split across two warehouses,
with a short pick on the way, first through the services, then over HTTP as the staff would."""

import datetime
import hashlib
import hmac
import io
import json
import unicodedata
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from core.errors import DomainError
from fulfillment.carriers import simulated
from fulfillment.carriers.base import CarrierEvent
from fulfillment.carriers.simulated import is_valid_tracking_number
from fulfillment.choices import PickListStatus, ShipmentStatus
from fulfillment.manifests import manifest_close
from fulfillment.models import Carrier, Manifest, PickList, Shipment, ShipmentLine, TrackingEvent
from fulfillment.packing import pack_complete, pack_find, pack_scan, parcel_add
from fulfillment.picking import pick_line_short, pick_lines_confirm, pick_list_create
from fulfillment.rates import shipment_rate_options
from fulfillment.shipping import shipment_hand_over, shipment_label_buy
from fulfillment.tracking import tracking_events_record, tracking_sync_due
from inventory.models import MovementKind, Reservation, StockLevel, StockMovement
from inventory.services import stock_receive
from orders.choices import EventType, NotificationKind
from orders.models import Notification, Order, line_demand_ref
from orders.services import LineInput, order_place
from tests.factories import ProductFactory
from tests.fulfillment._shipping import simulated_carrier

pytestmark = pytest.mark.django_db

TEE_BARCODE = "4006381333931"
MUG_BARCODE = "4006381333948"


# ---------------------------------------------------------------- helpers


def level(product, warehouse) -> tuple[int, int]:
    lv = StockLevel.objects.get(product=product, warehouse=warehouse)
    return lv.on_hand, lv.reserved


def held(order, line, warehouse) -> int:
    r = Reservation.objects.filter(
        demand_ref=line_demand_ref(order.number, line.line_no), warehouse=warehouse
    ).first()
    return r.quantity if r else 0


def ev(tracking, status, when, event_id, message=""):
    return CarrierEvent(
        tracking_number=tracking,
        status=status,
        carrier_status=status,
        occurred_at=when,
        event_id=event_id,
        location="Hamburg, DE",
        message=message,
    )


def notification_kinds(order) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind in Notification.objects.filter(order=order).values_list("kind", flat=True):
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def assert_stock_adds_up():
    try:
        call_command("check_stock", stdout=io.StringIO())
    except SystemExit as exc:  # the command exits 1 when a level differs from its ledger
        pytest.fail(f"check_stock found differences (exit {exc.code})")


@pytest.fixture
def split_setup(warehouses, channel, manager):
    """Two products; stock such that order A (3 tees + 1 mug) splits across HAM and BER
    and order B (1 tee) fits HAM:

        HAM: tee 4, mug 0      BER: tee 2, mug 2

    A: HAM has the tees but no mug, BER has the mug but too few tees: A reserves 3 tees
    in HAM and its mug in BER. B then takes the last free tee in HAM."""
    ham, ber = warehouses
    for wh, line1, city, postal in (
        (ham, "Am Sandtorkai 5", "Hamburg", "20457"),
        (ber, "Lobeckstraße 30", "Berlin", "10969"),
    ):
        wh.line1, wh.city, wh.postal_code, wh.country = line1, city, postal, "DE"
        wh.save(update_fields=["line1", "city", "postal_code", "country"])
    tee = ProductFactory(
        sku="TEE-BLK-M",
        name="Organic tee, black, M",
        price=Decimal("25.00"),
        tax_rate=Decimal("0.1900"),
        barcode=TEE_BARCODE,
        weight_grams=200,
    )
    mug = ProductFactory(
        sku="MUG-WHT",
        name="Enamel mug, white",
        price=Decimal("12.00"),
        tax_rate=Decimal("0.1900"),
        barcode=MUG_BARCODE,
        weight_grams=350,
    )
    stock_receive(product=tee, warehouse=ham, quantity=4, actor=manager, reference="PO-1")
    stock_receive(product=tee, warehouse=ber, quantity=2, actor=manager, reference="PO-2")
    stock_receive(product=mug, warehouse=ber, quantity=2, actor=manager, reference="PO-2")
    carrier = simulated_carrier()
    address = {
        "name": "Ada Lovelace",
        "line1": "Hafenstraße 12",
        "line2": "",
        "city": "Hamburg",
        "region": "",
        "postal_code": "20457",
        "country": "DE",
    }
    order_a = order_place(
        channel=channel,
        email="ada@example.com",
        name="Ada Lovelace",
        address=address,
        lines=[LineInput(product=tee, quantity=3), LineInput(product=mug, quantity=1)],
        actor=manager,
        shipping_method="standard",
        shipping_total=Decimal("4.90"),
        payment_method="card",
    )
    order_b = order_place(
        channel=channel,
        email="grace@example.com",
        name="Grace Hopper",
        address={**address, "name": "Grace Hopper"},
        lines=[LineInput(product=tee, quantity=1)],
        actor=manager,
        shipping_method="standard",
        shipping_total=Decimal("4.90"),
        payment_method="card",
    )
    a_tee, a_mug = order_a.lines.order_by("line_no")
    # The split as placed: A's tees in HAM, A's mug in BER; B's tee in HAM.
    assert (held(order_a, a_tee, ham), held(order_a, a_tee, ber)) == (3, 0)
    assert (held(order_a, a_mug, ham), held(order_a, a_mug, ber)) == (0, 1)
    assert held(order_b, order_b.lines.get(), ham) == 1
    assert level(tee, ham) == (4, 4)
    return {
        "ham": ham,
        "ber": ber,
        "tee": tee,
        "mug": mug,
        "carrier": carrier,
        "a": order_a,
        "b": order_b,
        "a_tee": a_tee,
        "a_mug": a_mug,
    }


# ---------------------------------------------------------------- 1. through the services


def test_split_order_with_a_short_pick_goes_from_reserved_to_delivered_through_the_services(
    split_setup,
    warehouse_user,
    manager,
):
    x = split_setup
    ham, ber, tee, mug, carrier = x["ham"], x["ber"], x["tee"], x["mug"], x["carrier"]
    order_a, order_b, a_tee, a_mug = x["a"], x["b"], x["a_tee"], x["a_mug"]
    picker = warehouse_user

    # -- A pick list in HAM takes both orders, each in its own tote.
    pl = pick_list_create(warehouse=ham, filters={}, limit=50, actor=picker)
    assert pl.status == PickListStatus.OPEN
    ship_a = Shipment.objects.get(pick_list=pl, order=order_a)
    ship_b = Shipment.objects.get(pick_list=pl, order=order_b)
    assert ship_a.warehouse == ham
    assert ship_a.status == ShipmentStatus.PICKING
    assert {ship_a.tote, ship_b.tote} == {"T1", "T2"}
    line_a = ship_a.lines.get()
    assert (line_a.order_line_id, line_a.quantity) == (a_tee.pk, 3)  # the mug is not in HAM
    line_b = ship_b.lines.get()

    # -- Short pick: the shelf holds only 1 of A's 3 tees. The 2 missing are re-reserved in
    # BER, HAM's stock is corrected with an adjustment that says why, the timeline says so.
    result = pick_line_short(pick_list=pl, line_id=line_a.pk, found=1, actor=picker)
    assert result == {"missing": 2, "moved": [("BER", 2)], "backordered": 0}
    adjustment = StockMovement.objects.get(kind=MovementKind.ADJUSTMENT, product=tee, warehouse=ham)
    assert adjustment.on_hand_delta == -2
    assert adjustment.reference == pl.number
    assert f"Short pick {ship_a.number}" in adjustment.reason
    assert "found 1 of 3" in adjustment.reason
    assert adjustment.actor == picker
    event = order_a.events.get(type=EventType.SHORT_PICKED)
    assert event.payload["missing"] == 2
    assert event.payload["moved"] == {"BER": 2}
    assert event.payload["backordered"] == 0
    assert (held(order_a, a_tee, ham), held(order_a, a_tee, ber)) == (1, 2)  # the reservation moved
    assert level(tee, ham) == (2, 2)  # A's one and B's one
    assert level(tee, ber) == (2, 2)
    line_a.refresh_from_db()
    assert (
        line_a.quantity,
        line_a.quantity_picked,
        line_a.quantity_short,
        line_a.pick_confirmed,
    ) == (1, 1, 2, True)
    a_tee.refresh_from_db()
    assert (a_tee.quantity_reserved, a_tee.quantity_backordered, a_tee.quantity_allocated) == (
        3,
        0,
        1,
    )
    assert_stock_adds_up()

    # -- The other line is confirmed in full; the list is complete.
    pick_lines_confirm(pick_list=pl, line_ids=[line_b.pk], actor=picker)
    pl.refresh_from_db()
    assert pl.status == PickListStatus.COMPLETED
    ship_a.refresh_from_db()
    assert ship_a.picked_at is not None

    # -- Pack A's HAM shipment at the station: find it by its tote; a wrong item is
    # refused and changes nothing; the right one is counted; a parcel; complete.
    assert pack_find(code=ship_a.tote, user=picker) == ship_a
    with pytest.raises(DomainError) as refused:
        pack_scan(shipment=ship_a, code=MUG_BARCODE, actor=picker)
    assert refused.value.code == "wrong_item"
    assert "not in this shipment" in refused.value.message
    assert ShipmentLine.objects.get(pk=line_a.pk).quantity_packed == 0
    scanned = pack_scan(shipment=ship_a, code=TEE_BARCODE, actor=picker)
    assert (scanned.packed, scanned.units_left) == (1, 0)
    parcel_add(
        shipment=ship_a, weight_grams=450, length_mm=300, width_mm=200, height_mm=50, actor=picker
    )
    ship_a = pack_complete(shipment=ship_a, actor=picker)
    assert ship_a.status == ShipmentStatus.PACKED

    # -- Buy the label from the simulated carrier: the customer's "standard" service to
    # Hamburg harbour (zone with prefix 204), 450 g: 2.50, one day.
    option = next(o for o in shipment_rate_options(ship_a) if o.service.code == "standard")
    ship_a = shipment_label_buy(shipment=ship_a, actor=picker)
    ship_a.refresh_from_db()
    assert is_valid_tracking_number(ship_a.tracking_number)
    assert ship_a.carrier == carrier
    assert ship_a.service.code == "standard"
    assert ship_a.shipping_cost == Decimal("2.50")
    assert ship_a.expected_delivery_date == option.delivery_date > timezone.localdate()
    with ship_a.label.open("rb") as fh:
        assert fh.read(4) == b"%PDF"
    assert (
        order_a.events.filter(type=EventType.LABEL_CREATED, payload__shipment=ship_a.number).count()
        == 1
    )

    # -- Hand it over: the tee leaves HAM through the ledger, the customer is emailed with
    # the expected date, the invoice is issued.
    shipment_hand_over(shipment=ship_a, actor=picker)
    ship_a.refresh_from_db()
    assert ship_a.status == ShipmentStatus.SHIPPED
    assert level(tee, ham) == (1, 1)  # B's tee is still there
    out = StockMovement.objects.get(kind=MovementKind.SHIPMENT, reference=ship_a.number)
    assert (out.warehouse, out.product, out.on_hand_delta, out.reserved_delta) == (ham, tee, -1, -1)
    shipped_mail = Notification.objects.get(order=order_a, kind=NotificationKind.ORDER_SHIPPED)
    assert shipped_mail.payload["tracking_number"] == ship_a.tracking_number
    assert (
        shipped_mail.payload["expected_delivery_date"] == ship_a.expected_delivery_date.isoformat()
    )
    order_a.refresh_from_db()
    assert order_a.fulfillment_status == "partially_shipped"
    assert order_a.invoices.count() == 1

    # -- Close the day's manifest for the carrier in HAM.
    manifest = manifest_close(carrier=carrier, warehouse=ham, actor=picker)
    assert list(manifest.shipments.all()) == [ship_a]

    # -- Carrier news: in transit, out for delivery, delivered ...
    t0 = ship_a.shipped_at
    tn = ship_a.tracking_number
    hours = datetime.timedelta(hours=1)
    first = tracking_events_record(
        shipment=ship_a,
        events=[
            ev(tn, "in_transit", t0 + 2 * hours, "E1", "Picked up by the driver."),
            ev(tn, "out_for_delivery", t0 + 16 * hours, "E2", "Out for delivery."),
            ev(tn, "delivered", t0 + 20 * hours, "E3", "Delivered to the recipient."),
        ],
    )
    assert [(r.created, r.applied) for r in first] == [(True, True)] * 3
    # ... then the same delivered event again, and an older in_transit arriving late.
    late = tracking_events_record(
        shipment=ship_a,
        events=[
            ev(tn, "delivered", t0 + 20 * hours, "E3", "Delivered to the recipient."),
            ev(tn, "in_transit", t0 + 6 * hours, "E1b", "Sorted at the hub."),
        ],
    )
    # (recorded oldest first: the late in_transit is stored but moves nothing; the duplicate is not stored)
    assert [(r.event.status, r.created, r.applied) for r in late] == [
        ("in_transit", True, False),
        ("delivered", False, False),
    ]
    ship_a.refresh_from_db()
    assert ship_a.status == ShipmentStatus.DELIVERED  # never backwards
    assert ship_a.delivered_at == t0 + 20 * hours
    assert TrackingEvent.objects.filter(shipment=ship_a).count() == 4
    assert not TrackingEvent.objects.get(shipment=ship_a, occurred_at=t0 + 6 * hours).applied
    a_tee.refresh_from_db()
    assert (a_tee.quantity_shipped, a_tee.quantity_delivered) == (1, 1)

    # -- The BER remainder (A's mug and the two re-reserved tees) in its own BER pick list.
    pl_ber = pick_list_create(warehouse=ber, filters={}, limit=50, actor=picker)
    ship_r = pl_ber.shipments.get()
    assert ship_r.order == order_a
    assert ship_r.warehouse == ber
    assert dict(ship_r.lines.values_list("order_line_id", "quantity")) == {a_tee.pk: 2, a_mug.pk: 1}
    pick_lines_confirm(
        pick_list=pl_ber, line_ids=list(ship_r.lines.values_list("pk", flat=True)), actor=picker
    )
    pl_ber.refresh_from_db()
    assert pl_ber.status == PickListStatus.COMPLETED
    assert pack_find(code=ship_r.tote, user=picker) == ship_r
    for code in (TEE_BARCODE, MUG_BARCODE, TEE_BARCODE):
        pack_scan(shipment=ship_r, code=code, actor=picker)
    with pytest.raises(DomainError) as extra:
        pack_scan(shipment=ship_r, code=TEE_BARCODE, actor=picker)
    assert extra.value.code == "extra_unit"
    parcel_add(shipment=ship_r, weight_grams=1100, actor=picker)
    pack_complete(shipment=ship_r, actor=picker)
    ship_r = shipment_label_buy(shipment=ship_r, actor=picker)
    assert ship_r.shipping_cost == Decimal("4.50")  # 1.1 kg: the next weight band
    assert ship_r.tracking_number != ship_a.tracking_number
    shipment_hand_over(shipment=ship_r, actor=picker)
    assert level(tee, ber) == (0, 0)
    assert level(mug, ber) == (1, 0)
    manifest_ber = manifest_close(carrier=carrier, warehouse=ber, actor=picker)
    assert list(manifest_ber.shipments.all()) == [ship_r]
    ship_r.refresh_from_db()
    t1, tr = ship_r.shipped_at, ship_r.tracking_number
    tracking_events_record(
        shipment=ship_r,
        events=[
            ev(tr, "in_transit", t1 + 2 * hours, "R1"),
            ev(tr, "out_for_delivery", t1 + 40 * hours, "R2"),
            ev(tr, "delivered", t1 + 44 * hours, "R3"),
        ],
    )
    ship_r.refresh_from_db()
    assert ship_r.status == ShipmentStatus.DELIVERED

    # -- The end: A delivered in full; each email once; stock adds up; one invoice.
    order_a = Order.objects.get(pk=order_a.pk)
    assert order_a.fulfillment_status == "delivered"
    for line in order_a.lines.all():
        assert line.quantity_shipped == line.quantity_delivered == line.quantity
    assert notification_kinds(order_a) == {
        NotificationKind.ORDER_CONFIRMATION: 1,
        NotificationKind.ORDER_SHIPPED: 2,
        NotificationKind.ORDER_OUT_FOR_DELIVERY: 2,
        NotificationKind.ORDER_DELIVERED: 2,
    }
    for kind in (
        NotificationKind.ORDER_SHIPPED,
        NotificationKind.ORDER_OUT_FOR_DELIVERY,
        NotificationKind.ORDER_DELIVERED,
    ):
        keys = Notification.objects.filter(order=order_a, kind=kind).values_list(
            "dedupe_key", flat=True
        )
        assert sorted(k.rsplit(":", 1)[1] for k in keys) == sorted([ship_a.number, ship_r.number])
    invoice = order_a.invoices.get()
    assert invoice.total == order_a.total
    assert level(tee, ham) == (1, 1)  # B's tee, still waiting to be packed
    assert_stock_adds_up()


# ---------------------------------------------------------------- 2. over HTTP

WEBHOOK_SECRET = "whsec-path-test"


class _Clock:
    """The simulated carrier's view of time, moved on: it reports what has happened by
    `now` (it decides from the clock which of its planned events have happened)."""

    def __init__(self, now):
        self._now = now

    def now(self):
        return self._now

    def __getattr__(self, name):  # localtime, localdate, get_current_timezone: the real ones
        return getattr(timezone, name)


def easypost_body(
    tracking_code: str, details: list[tuple[str, datetime.datetime, str]], *, event_id: str
) -> bytes:
    """An EasyPost `tracker.updated` Event, as tests/fulfillment/test_webhook_easypost.py builds it."""
    return json.dumps(
        {
            "id": event_id,
            "object": "Event",
            "mode": "production",
            "description": "tracker.updated",
            "created_at": "2026-11-29T12:00:00Z",
            "pending_urls": [],
            "completed_urls": [],
            "status": "pending",
            "result": {
                "id": f"trk_{tracking_code.lower()}",
                "object": "Tracker",
                "mode": "production",
                "tracking_code": tracking_code,
                "status": details[-1][0],
                "carrier": "DHLExpress",
                "tracking_details": [
                    {
                        "object": "TrackingDetail",
                        "status": status,
                        "message": message,
                        "datetime": when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "tracking_location": {
                            "object": "TrackingLocation",
                            "city": "Berlin",
                            "state": None,
                            "country": "DE",
                            "zip": None,
                        },
                    }
                    for status, when, message in details
                ],
            },
        }
    ).encode()


def test_split_order_with_a_short_pick_goes_from_reserved_to_delivered_over_http(
    client,
    split_setup,
    warehouse_user,
    manager,
    django_capture_on_commit_callbacks,
    eager_celery,
    monkeypatch,
    settings,
):
    """The same path as the staff do it on the real screens (forms posted as the browser
    posts them without JavaScript), the carrier's news as it arrives.

    Tracking, two honest ways: the HAM parcel goes with the simulated carrier, which is
    polled (it does not push), so its events come from `tracking_sync_due` with the
    carrier's clock moved on two weeks; the BER parcel goes with an EasyPost-tracked carrier
    (a label bought outside Orderline, its tracking number typed in on the ship form), whose
    events arrive signed at the EasyPost webhook. Pushing a simulated tracking number
    through the EasyPost webhook would test a path no real parcel takes."""
    x = split_setup
    ham, ber, tee, mug, sim = x["ham"], x["ber"], x["tee"], x["mug"], x["carrier"]
    order_a, order_b, a_tee, a_mug = x["a"], x["b"], x["a_tee"], x["a_mug"]
    settings.EASYPOST_WEBHOOK_SECRET = ""  # the secret set on the carrier in the admin
    easypost = Carrier.objects.create(
        code="dhl-ep",
        name="DHL (EasyPost)",
        adapter="easypost",
        webhook_secret=WEBHOOK_SECRET,
        tracking_url_template="https://www.dhl.de/track?id={tracking}",
    )
    # The simulated carrier's tracking numbers are random; fix them so the parcel's planned
    # life (a function of the number) is the ordinary one, without a delay or a bad address.
    numbers = iter(range(1, 100))

    def tracking_number_new(transit_days):
        body = f"{transit_days}{next(numbers):010d}"
        return f"SIM{body}{simulated.check_digit(body)}"

    monkeypatch.setattr(simulated, "tracking_number_new", tracking_number_new)

    def ok(response):
        assert response.status_code < 400, (response.status_code, response.content[:800])
        return response

    def get(url, **params):
        return ok(client.get(url, params))

    def post(url, data=None):
        """POST as the browser does; the after-commit work (emails, PDFs) runs as a worker would."""
        with django_capture_on_commit_callbacks(execute=True):
            response = ok(client.post(url, data or {}))
        assert response.status_code == 302, response.content[:800]
        return response

    def text(response) -> str:
        return response.content.decode()

    # -- The warehouse signs in and makes a pick list in HAM: both ready orders go on it.
    client.force_login(warehouse_user)
    page = get(reverse("fulfillment:pick_lists"), warehouse="HAM")
    assert 'name="limit"' in text(page)
    response = post(
        reverse("fulfillment:pick_lists") + "?warehouse=HAM",
        {
            "warehouse": "HAM",
            "carrier": "",
            "shipping_method": "",
            "priority": "promised",
            "limit": "50",
        },
    )
    pl = PickList.objects.get(warehouse=ham)
    assert response["Location"] == pl.get_absolute_url()
    ship_a = Shipment.objects.get(pick_list=pl, order=order_a)
    ship_b = Shipment.objects.get(pick_list=pl, order=order_b)
    line_a, line_b = ship_a.lines.get(), ship_b.lines.get()
    assert (line_a.quantity, line_b.quantity) == (3, 1)
    page = get(pl.get_absolute_url())
    assert f"Pick list {pl.number}" in text(page)
    # The tees row offers each tote's line to confirm and a short-pick form.
    assert f'name="line" value="{line_a.pk}"' in text(page)
    assert reverse("fulfillment:pick_short", args=[pl.number]) in text(page)

    # -- Short pick on A's tote: 1 of 3 on the shelf. Re-reserved in BER, HAM corrected.
    response = post(
        reverse("fulfillment:pick_short", args=[pl.number]),
        {"row": "row-1", "line": str(line_a.pk), "found": "1"},
    )
    page = get(response["Location"].split("#")[0])
    assert "Short pick recorded: 2 missing, re-reserved in BER (2)." in text(page)
    adjustment = StockMovement.objects.get(kind=MovementKind.ADJUSTMENT, product=tee, warehouse=ham)
    assert adjustment.on_hand_delta == -2
    assert "found 1 of 3" in adjustment.reason
    assert adjustment.actor == warehouse_user
    assert (
        order_a.events.filter(type=EventType.SHORT_PICKED, payload__moved={"BER": 2}).count() == 1
    )
    assert (held(order_a, a_tee, ham), held(order_a, a_tee, ber)) == (1, 2)
    assert level(tee, ham) == (2, 2)

    # -- B's tote confirmed: the list is complete.
    response = post(
        reverse("fulfillment:pick_confirm", args=[pl.number]),
        {"row": "row-1", "line": str(line_b.pk)},
    )
    page = get(response["Location"].split("#")[0])
    assert f"Pick list {pl.number} is complete" in text(page)
    pl.refresh_from_db()
    assert pl.status == PickListStatus.COMPLETED

    # -- Pack A's HAM shipment at the station: scan the tote, a wrong item (refused, loudly,
    # nothing counted), the right one, weigh the parcel, complete.
    ship_a.refresh_from_db()
    response = post(reverse("fulfillment:pack_station"), {"code": ship_a.tote})
    station = reverse("fulfillment:pack_shipment", args=[ship_a.number])
    assert response["Location"] == station
    assert f"Packing {ship_a.number}" in text(get(station))
    post(station, {"action": "scan", "code": MUG_BARCODE})
    page = text(get(station))
    assert "Wrong item" in page
    assert (
        f"Scanned {MUG_BARCODE} (Enamel mug, white) — not in this shipment. Put it aside." in page
    )
    assert ShipmentLine.objects.get(pk=line_a.pk).quantity_packed == 0
    post(station, {"action": "scan", "code": TEE_BARCODE})
    assert "every unit scanned" in text(get(station))
    assert ShipmentLine.objects.get(pk=line_a.pk).quantity_packed == 1
    post(
        station,
        {
            "action": "parcel_add",
            "weight_grams": "450",
            "length_mm": "300",
            "width_mm": "200",
            "height_mm": "50",
        },
    )
    assert "Parcel 1 added: 450 g" in text(get(station))
    response = post(station, {"action": "complete"})
    assert response["Location"] == reverse("fulfillment:pack_station")
    assert f"{ship_a.number} packed" in text(get(reverse("fulfillment:pack_station")))
    ship_a.refresh_from_db()
    assert ship_a.status == ShipmentStatus.PACKED
    assert ship_a.parcels.count() == 1

    # -- Buy the label on the shipment page (the customer's standard service is preselected).
    standard = sim.services.get(code="standard")
    page = text(get(ship_a.get_absolute_url()))
    assert reverse("fulfillment:label_buy", args=[ship_a.number]) in page
    assert f'name="service" value="{standard.pk}" id="rate-{standard.pk}" checked' in page
    response = post(
        reverse("fulfillment:label_buy", args=[ship_a.number]), {"service": str(standard.pk)}
    )
    ship_a.refresh_from_db()
    assert is_valid_tracking_number(ship_a.tracking_number)
    assert (ship_a.carrier, ship_a.service, ship_a.shipping_cost) == (
        sim,
        standard,
        Decimal("2.50"),
    )
    assert ship_a.expected_delivery_date > timezone.localdate()
    page = text(get(ship_a.get_absolute_url()))
    assert (
        f"Label bought: {standard}, tracking {ship_a.tracking_number}, delivery expected " in page
    )
    label = client.get(reverse("fulfillment:label", args=[ship_a.number]))
    assert label.status_code == 200
    assert b"".join(label.streaming_content).startswith(b"%PDF")

    # -- Hand it over (one click with a bought label): stock leaves, the customer is emailed.
    mail.outbox.clear()
    post(reverse("fulfillment:ship", args=[ship_a.number]))
    ship_a.refresh_from_db()
    assert ship_a.status == ShipmentStatus.SHIPPED
    assert level(tee, ham) == (1, 1)
    assert (
        StockMovement.objects.filter(kind=MovementKind.SHIPMENT, reference=ship_a.number).count()
        == 1
    )
    shipped_mail = Notification.objects.get(order=order_a, kind=NotificationKind.ORDER_SHIPPED)
    assert shipped_mail.status == "sent"
    assert (
        shipped_mail.payload["expected_delivery_date"] == ship_a.expected_delivery_date.isoformat()
    )
    [email] = mail.outbox
    assert email.to == ["ada@example.com"]
    assert ship_a.tracking_number in email.body
    expected = ship_a.expected_delivery_date
    assert f"Expected delivery: {expected:%A} {expected.day} {expected:%B}" in email.body
    assert "The rest of your order follows in a separate parcel." in email.body
    assert order_a.invoices.count() == 1

    # -- Close the day for the simulated carrier in HAM.
    page = text(get(reverse("fulfillment:manifests")))
    assert f'name="carrier" value="{sim.pk}"' in page
    response = post(
        reverse("fulfillment:manifests"),
        {"carrier": str(sim.pk), "warehouse": str(ham.pk), "day": timezone.localdate().isoformat()},
    )
    manifest = Manifest.objects.get(carrier=sim, warehouse=ham)
    assert response["Location"] == manifest.get_absolute_url()
    assert ship_a.number in text(get(manifest.get_absolute_url()))
    assert list(manifest.shipments.all()) == [ship_a]

    # -- The simulated carrier is polled: two weeks later it has delivered the parcel.
    later = ship_a.shipped_at + datetime.timedelta(days=14)
    planned = simulated.SimulatedCarrier().timeline(
        ship_a.tracking_number, shipped_at=ship_a.shipped_at
    )
    assert [e.status for e in planned][-2:] == ["out_for_delivery", "delivered"]
    assert "exception" not in [e.status for e in planned]
    with monkeypatch.context() as m:
        m.setattr(simulated, "timezone", _Clock(later))
        with django_capture_on_commit_callbacks(execute=True):
            report = tracking_sync_due(now=later, sleep=lambda _s: None)
        assert (report.polled, report.events, report.failed) == (1, len(planned), 0)
        with django_capture_on_commit_callbacks(execute=True):  # polled again: nothing new
            again = tracking_sync_due(
                now=later + datetime.timedelta(hours=6), sleep=lambda _s: None
            )
        assert (again.polled, again.events) == (0, 0)  # delivered parcels are not polled
    ship_a.refresh_from_db()
    assert ship_a.status == ShipmentStatus.DELIVERED
    assert ship_a.delivered_at == planned[-1].occurred_at
    a_tee.refresh_from_db()
    assert a_tee.quantity_delivered == 1

    # -- The BER remainder: its own pick list, the re-reserved tees and the mug.
    response = post(
        reverse("fulfillment:pick_lists") + "?warehouse=BER",
        {
            "warehouse": "BER",
            "carrier": "",
            "shipping_method": "",
            "priority": "promised",
            "limit": "50",
        },
    )
    pl_ber = PickList.objects.get(warehouse=ber)
    ship_r = pl_ber.shipments.get()
    assert ship_r.order == order_a
    assert dict(ship_r.lines.values_list("order_line_id", "quantity")) == {a_tee.pk: 2, a_mug.pk: 1}
    for sl in ship_r.lines.all():
        assert f'name="line" value="{sl.pk}"' in text(get(pl_ber.get_absolute_url()))
        post(
            reverse("fulfillment:pick_confirm", args=[pl_ber.number]),
            {"row": "row-1", "line": str(sl.pk)},
        )
    pl_ber.refresh_from_db()
    assert pl_ber.status == PickListStatus.COMPLETED
    ship_r.refresh_from_db()
    response = post(reverse("fulfillment:pack_station"), {"code": ship_r.tote})
    station = reverse("fulfillment:pack_shipment", args=[ship_r.number])
    assert response["Location"] == station
    for code in (TEE_BARCODE, MUG_BARCODE, TEE_BARCODE):
        post(station, {"action": "scan", "code": code})
    post(station, {"action": "scan", "code": TEE_BARCODE})  # one too many
    page = text(get(station))
    assert "Extra item" in page
    assert "this one is extra" in page
    post(
        station,
        {
            "action": "parcel_add",
            "weight_grams": "1100",
            "length_mm": "",
            "width_mm": "",
            "height_mm": "",
        },
    )
    post(station, {"action": "complete"})
    ship_r.refresh_from_db()
    assert ship_r.status == ShipmentStatus.PACKED
    assert sorted(ship_r.lines.values_list("quantity_packed", flat=True)) == [1, 2]

    # -- Shipped with the EasyPost-tracked carrier: label from elsewhere, number typed in.
    page = text(get(ship_r.get_absolute_url()))
    assert 'name="tracking_number"' in page
    assert f'<option value="{easypost.pk}">' in page
    post(
        reverse("fulfillment:ship", args=[ship_r.number]),
        {"carrier": str(easypost.pk), "tracking_number": "JD014600003828100001"},
    )
    ship_r.refresh_from_db()
    assert (ship_r.status, ship_r.carrier, ship_r.tracking_number) == (
        ShipmentStatus.SHIPPED,
        easypost,
        "JD014600003828100001",
    )
    assert level(tee, ber) == (0, 0)
    assert level(mug, ber) == (1, 0)
    response = post(
        reverse("fulfillment:manifests"),
        {
            "carrier": str(easypost.pk),
            "warehouse": str(ber.pk),
            "day": timezone.localdate().isoformat(),
        },
    )
    assert list(Manifest.objects.get(carrier=easypost).shipments.all()) == [ship_r]

    # -- EasyPost pushes the news, signed; the same Event twice; then an older scan, late.
    t1 = ship_r.shipped_at.replace(microsecond=0)  # EasyPost's times are to the second
    hours = datetime.timedelta(hours=1)
    news = easypost_body(
        ship_r.tracking_number,
        [
            ("in_transit", t1 + 3 * hours, "Picked up"),
            ("out_for_delivery", t1 + 40 * hours, "Out for delivery"),
            ("delivered", t1 + 44 * hours, "Delivered, front door"),
        ],
        event_id="evt_path_1",
    )
    webhook = reverse("easypost_webhook")

    def push(body):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.generic(
                "POST",
                webhook,
                body,
                content_type="application/json",
                HTTP_X_HMAC_SIGNATURE=_sign(body),
            )
        assert response.status_code == 200, response.content
        return response.json()

    assert push(news) == {
        "received": True,
        "matched": True,
        "shipment": ship_r.number,
        "new_events": 3,
        "applied": 3,
    }
    assert push(news)["new_events"] == 0
    older = easypost_body(
        ship_r.tracking_number,
        [("in_transit", t1 + 20 * hours, "Arrived at the hub")],
        event_id="evt_path_0",
    )
    assert push(older) == {
        "received": True,
        "matched": True,
        "shipment": ship_r.number,
        "new_events": 1,
        "applied": 0,
    }
    ship_r.refresh_from_db()
    assert ship_r.status == ShipmentStatus.DELIVERED
    assert ship_r.delivered_at == t1 + 44 * hours
    assert TrackingEvent.objects.filter(shipment=ship_r).count() == 4

    # -- The customer's status page: both parcels, their tracking, delivered.
    client.logout()
    page = text(get(order_a.status_path()))
    assert "Parcel 1 of 2" in page
    assert "Parcel 2 of 2" in page
    assert ship_a.tracking_number in page
    assert ship_r.tracking_number in page
    assert '<h1 id="status-headline" class="status-headline">Delivered</h1>' in page
    assert page.count('<span class="badge badge-green">Delivered</span>') == 2  # one per parcel
    assert page.count('<div class="journey-words">Out for delivery today</div>') == 2

    # -- The staff order page shows the order delivered.
    client.force_login(manager)
    page = text(get(order_a.get_absolute_url()))
    # the order's badge and each shipment's row
    assert (
        page.count('<span class="badge badge-green" data-status="delivered">Delivered</span>') == 3
    )
    assert ship_a.tracking_number in page
    assert ship_r.tracking_number in page

    # -- The end, in the database.
    order_a = Order.objects.get(pk=order_a.pk)
    assert order_a.fulfillment_status == "delivered"
    for line in order_a.lines.all():
        assert line.quantity_shipped == line.quantity_delivered == line.quantity
    assert notification_kinds(order_a) == {
        NotificationKind.ORDER_CONFIRMATION: 1,
        NotificationKind.ORDER_SHIPPED: 2,
        NotificationKind.ORDER_OUT_FOR_DELIVERY: 2,
        NotificationKind.ORDER_DELIVERED: 2,
    }
    assert set(
        Notification.objects.filter(order=order_a)
        .exclude(kind=NotificationKind.ORDER_CONFIRMATION)
        .values_list("status", flat=True)
    ) == {"sent"}
    assert order_a.invoices.get().total == order_a.total
    assert level(tee, ham) == (1, 1)  # B's tee, picked, waiting at the packing table
    assert_stock_adds_up()


def _sign(body: bytes) -> str:
    """X-Hmac-Signature as EasyPost computes it: HMAC-SHA256 of the raw body, NFKD secret."""
    key = unicodedata.normalize("NFKD", WEBHOOK_SECRET).encode()
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()
