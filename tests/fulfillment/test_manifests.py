"""End of day: a manifest per carrier and warehouse of what left today; each shipment on one only."""

import csv
import datetime
import io
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone
from pypdf import PdfReader

from core.errors import DomainError
from fulfillment.manifests import (
    CSV_COLUMNS,
    manifest_close,
    manifest_csv,
    manifest_pdf,
    manifests_pending,
)
from fulfillment.models import Manifest, Parcel, Shipment
from fulfillment.shipping import shipment_hand_over, shipment_label_buy
from orders.models import Order
from tests.factories import CarrierFactory

from ._shipping import packed_shipment, simulated_carrier

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim(db):
    return simulated_carrier()


def _shipped(sim, channel, product, actor, address, *, parcels=()):
    s = packed_shipment(channel=channel, product=product, actor=actor, address=address)
    for i, grams in enumerate(parcels, 1):
        Parcel.objects.create(shipment=s, number=i, weight_grams=grams)
    s = shipment_label_buy(shipment=s, actor=actor)
    return shipment_hand_over(shipment=s, actor=actor)


def test_closing_the_day_lists_todays_shipments_of_that_carrier_and_warehouse(
    sim, channel, stocked_product, manager, address, warehouses
):
    a = _shipped(sim, channel, stocked_product, manager, address, parcels=(700, 1800))
    b = _shipped(sim, channel, stocked_product, manager, address)
    dhl = CarrierFactory()
    other = packed_shipment(
        channel=channel, product=stocked_product, actor=manager, address=address
    )
    shipment_hand_over(shipment=other, carrier=dhl, tracking_number="JJD1", actor=manager)
    yesterday = _shipped(sim, channel, stocked_product, manager, address)
    Shipment.objects.filter(pk=yesterday.pk).update(
        shipped_at=timezone.now() - datetime.timedelta(days=1)
    )

    pending = manifests_pending()
    assert {(p["carrier"].code, p["count"], p["today"]) for p in pending} == {
        ("sim", 2, True),
        ("dhl", 1, True),
        ("sim", 1, False),
    }

    manifest = manifest_close(carrier=sim, warehouse=warehouses[0], actor=manager)

    assert manifest.ship_date == timezone.localdate()
    assert set(manifest.shipments.values_list("pk", flat=True)) == {a.pk, b.pk}
    assert Shipment.objects.get(pk=other.pk).manifest is None
    assert Shipment.objects.get(pk=yesterday.pk).manifest is None

    rows = list(csv.reader(io.StringIO(manifest_csv(manifest))))
    assert rows[0] == CSV_COLUMNS
    by_number = {r[2]: dict(zip(CSV_COLUMNS, r, strict=True)) for r in rows[1:]}
    assert by_number[a.number]["tracking_number"] == a.tracking_number
    assert (by_number[a.number]["parcels"], by_number[a.number]["weight_kg"]) == ("2", "2.50")
    assert by_number[b.number]["parcels"] == "1"
    assert by_number[a.number]["service"] == "standard"
    assert by_number[a.number]["country"] == "DE"

    pdf = PdfReader(io.BytesIO(manifest_pdf(manifest)))
    text = "".join(p.extract_text() for p in pdf.pages)
    assert manifest.number in text
    assert a.tracking_number in text
    assert b.tracking_number in text
    assert "Driver's signature" in text
    assert round(float(pdf.pages[0].mediabox.width)) == 595  # A4


def test_a_shipment_is_on_one_manifest_only(
    sim, channel, stocked_product, manager, address, warehouses
):
    _shipped(sim, channel, stocked_product, manager, address)
    manifest_close(carrier=sim, warehouse=warehouses[0], actor=manager)
    with pytest.raises(DomainError, match="is waiting for a manifest"):
        manifest_close(carrier=sim, warehouse=warehouses[0], actor=manager)
    assert Manifest.objects.count() == 1
    late = _shipped(
        sim, channel, stocked_product, manager, address
    )  # a parcel after the first close
    second = manifest_close(carrier=sim, warehouse=warehouses[0], actor=manager)
    assert list(second.shipments.all()) == [late]


def test_manifest_csv_quotes_customer_text_a_spreadsheet_would_run(
    sim, channel, stocked_product, manager, address, warehouses
):
    s = _shipped(sim, channel, stocked_product, manager, address)
    # Names and addresses come from customers, the API and imports.
    Order.objects.filter(pk=s.order_id).update(
        ship_name='=HYPERLINK("https://evil.example/x","Open")',
        ship_city="+SUM(1,2)",
        ship_postal_code="@cmd",
        ship_country="-1",
    )
    manifest = manifest_close(carrier=sim, warehouse=warehouses[0], actor=manager)

    [header, row] = list(csv.reader(io.StringIO(manifest_csv(manifest))))
    cells = dict(zip(header, row, strict=True))
    assert cells["recipient"] == '\'=HYPERLINK("https://evil.example/x","Open")'
    assert cells["city"] == "'+SUM(1,2)"
    assert cells["postal_code"] == "'@cmd"
    assert cells["country"] == "'-1"
    assert not any(cell[:1] in ("=", "+", "-", "@") for cell in row)
    assert cells["tracking_number"] == s.tracking_number  # ordinary values are untouched


def test_an_earlier_day_can_be_closed_late(
    sim, channel, stocked_product, manager, address, warehouses
):
    s = _shipped(sim, channel, stocked_product, manager, address)
    day = timezone.localdate() - datetime.timedelta(days=2)
    Shipment.objects.filter(pk=s.pk).update(shipped_at=timezone.now() - datetime.timedelta(days=2))
    manifest = manifest_close(carrier=sim, warehouse=warehouses[0], actor=manager, day=day)
    assert manifest.ship_date == day
    assert manifest.number.startswith(f"MF-{day:%Y%m%d}-")


def test_customer_service_cannot_close_a_manifest(sim, warehouses, service_agent):
    from core.errors import NotAllowed

    with pytest.raises(NotAllowed):
        manifest_close(carrier=sim, warehouse=warehouses[0], actor=service_agent)


@pytest.mark.django_db(transaction=True)
def test_two_people_closing_at_once_make_one_manifest(
    sim, channel, stocked_product, manager, address, warehouses
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    for _ in range(3):
        _shipped(sim, channel, stocked_product, manager, address)
    barrier = threading.Barrier(2)
    results = []

    def close():
        try:
            barrier.wait()
            results.append(
                manifest_close(carrier=sim, warehouse=warehouses[0], actor=manager).number
            )
        except DomainError as exc:
            results.append(exc.message)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=close) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Manifest.objects.count() == 1
    assert Manifest.objects.get().shipments.count() == 3
    assert sum("waiting for a manifest" in r for r in results) == 1
