"""Packing through the services: scans checked against the pick, undo, parcels, completing,
the packing slip, and two scans of the last unit at once."""

import io
import itertools
import threading
from decimal import Decimal

import pytest
from django.db import connection

from core import roles
from core.errors import DomainError, InvalidTransition, NotAllowed, ValidationFailed
from fulfillment.choices import PickListStatus
from fulfillment.models import Parcel, PickList, Shipment, ShipmentLine
from fulfillment.packing import (
    PACKAGING_GRAMS,
    pack_complete,
    pack_find,
    pack_scan,
    pack_scan_undo,
    packing_slip_pdf,
    parcel_add,
    parcel_remove,
    parcel_update,
    parcel_weight_suggestion,
)
from fulfillment.services import shipment_confirm_picked, shipment_ship, shipments_create
from inventory.services import stock_receive
from orders.choices import EventType
from orders.models import OrderEvent
from orders.services import LineInput, order_place
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

EMAILS = itertools.count(1)


@pytest.fixture
def mug(warehouses, manager):
    product = ProductFactory(
        sku="MUG-BLU", name="Blue mug", barcode="4006381999999", weight_grams=350
    )
    stock_receive(
        product=product, warehouse=warehouses[0], quantity=10, actor=manager, reference="PO-2"
    )
    return product


@pytest.fixture
def cap(warehouses, manager):
    """In stock, but never part of the test shipments: the "wrong item"."""
    product = ProductFactory(
        sku="CAP-RED", name="Red cap", barcode="4006381000017", weight_grams=120
    )
    stock_receive(
        product=product, warehouse=warehouses[0], quantity=5, actor=manager, reference="PO-3"
    )
    return product


def _order(channel, manager, address, lines):
    return order_place(
        channel=channel,
        email=f"packer{next(EMAILS)}@example.com",
        name="Ada Lovelace",
        address=address,
        lines=[LineInput(product=p, quantity=q) for p, q in lines],
        actor=manager,
        shipping_total=Decimal("4.90"),
    )


def _picked(channel, manager, address, lines) -> Shipment:
    order = _order(channel, manager, address, lines)
    shipment = shipments_create(order=order, actor=manager)[0]
    shipment_confirm_picked(shipment=shipment, actor=manager)
    return Shipment.objects.get(pk=shipment.pk)


@pytest.fixture
def picked(channel, manager, address, stocked_product, mug):
    """2 x TEE-BLK-M (barcode 4006381333931) and 1 x MUG-BLU, picked, nothing packed."""
    return _picked(channel, manager, address, [(stocked_product, 2), (mug, 1)])


def _packed(shipment) -> dict[str, int]:
    return dict(
        ShipmentLine.objects.filter(shipment=shipment).values_list(
            "order_line__sku", "quantity_packed"
        )
    )


# ---------------------------------------------------------------- scans


def test_right_item_by_barcode_or_sku_counts_one_unit(picked, warehouse_user):
    result = pack_scan(shipment=picked, code="4006381333931", actor=warehouse_user)
    counts = (result.sku, result.packed, result.picked, result.line_left, result.units_left)
    assert counts == ("TEE-BLK-M", 1, 2, 1, 2)
    result = pack_scan(shipment=picked, code=" mug-blu ", actor=warehouse_user)  # a typed SKU
    assert (result.sku, result.packed, result.units_left) == ("MUG-BLU", 1, 1)
    assert _packed(picked) == {"TEE-BLK-M": 1, "MUG-BLU": 1}


def test_wrong_item_is_refused_naming_it_and_nothing_changes(picked, warehouse_user, cap):
    with pytest.raises(DomainError) as exc:
        pack_scan(shipment=picked, code="4006381000017", actor=warehouse_user)
    assert exc.value.code == "wrong_item"
    assert exc.value.message.startswith("Scanned 4006381000017 (Red cap) — not in this shipment")
    assert _packed(picked) == {"TEE-BLK-M": 0, "MUG-BLU": 0}


def test_unknown_code_is_refused(picked, warehouse_user):
    with pytest.raises(DomainError) as exc:
        pack_scan(shipment=picked, code="999000111", actor=warehouse_user)
    assert exc.value.code == "unknown_item"
    assert "Scanned 999000111 — no product has this barcode or SKU" in exc.value.message
    assert _packed(picked) == {"TEE-BLK-M": 0, "MUG-BLU": 0}


def test_extra_unit_is_refused_once_every_picked_unit_is_packed(picked, warehouse_user):
    pack_scan(shipment=picked, code="4006381333931", actor=warehouse_user)
    pack_scan(shipment=picked, code="4006381333931", actor=warehouse_user)
    with pytest.raises(DomainError) as exc:
        pack_scan(shipment=picked, code="4006381333931", actor=warehouse_user)
    assert exc.value.code == "extra_unit"
    assert exc.value.message.startswith("All 2 of SKU TEE-BLK-M are already packed")
    assert _packed(picked) == {"TEE-BLK-M": 2, "MUG-BLU": 0}


def test_scans_are_refused_before_the_pick_and_after_packing(
    channel, manager, address, stocked_product, warehouse_user
):
    order = _order(channel, manager, address, [(stocked_product, 1)])
    pending = shipments_create(order=order, actor=manager)[0]
    with pytest.raises(InvalidTransition, match="not picked yet"):
        pack_scan(shipment=pending, code="TEE-BLK-M", actor=warehouse_user)

    shipment_confirm_picked(shipment=pending, actor=manager)
    pack_scan(shipment=pending, code="TEE-BLK-M", actor=warehouse_user)
    parcel_add(shipment=pending, weight_grams=700, actor=warehouse_user)
    pack_complete(shipment=pending, actor=warehouse_user)
    with pytest.raises(InvalidTransition, match="already packed"):
        pack_scan(shipment=pending, code="TEE-BLK-M", actor=warehouse_user)


def test_only_the_warehouse_and_managers_may_scan(picked, service_agent):
    with pytest.raises(NotAllowed):
        pack_scan(shipment=picked, code="TEE-BLK-M", actor=service_agent)
    assert _packed(picked)["TEE-BLK-M"] == 0


def test_undo_takes_back_one_unit(picked, warehouse_user):
    scanned = pack_scan(shipment=picked, code="TEE-BLK-M", actor=warehouse_user)
    result = pack_scan_undo(shipment=picked, line_id=scanned.line.pk, actor=warehouse_user)
    assert (result.packed, result.units_left) == (0, 3)
    assert _packed(picked)["TEE-BLK-M"] == 0
    with pytest.raises(DomainError, match="Nothing of SKU TEE-BLK-M is packed"):
        pack_scan_undo(shipment=picked, line_id=scanned.line.pk, actor=warehouse_user)


def test_undo_of_a_line_of_another_shipment_is_refused(
    picked, channel, manager, address, stocked_product, warehouse_user
):
    other = _picked(channel, manager, address, [(stocked_product, 1)])
    scanned = pack_scan(shipment=other, code="TEE-BLK-M", actor=warehouse_user)
    with pytest.raises(DomainError, match="not in this shipment"):
        pack_scan_undo(shipment=picked, line_id=scanned.line.pk, actor=warehouse_user)
    assert _packed(other)["TEE-BLK-M"] == 1


# ---------------------------------------------------------------- parcels


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"weight_grams": None}, "weight_grams", "Enter the parcel's weight in grams"),
        ({"weight_grams": ""}, "weight_grams", "Enter the parcel's weight in grams"),
        ({"weight_grams": 0}, "weight_grams", "The weight must be more than 0 g."),
        ({"weight_grams": -250}, "weight_grams", "The weight must be more than 0 g."),
        ({"weight_grams": "1,2kg"}, "weight_grams", "Enter the weight in whole grams"),
        ({"weight_grams": 5_000_000}, "weight_grams", "enter grams"),
        ({"weight_grams": 900, "length_mm": -1}, "length_mm", "Length cannot be negative"),
        ({"weight_grams": 900, "height_mm": "x"}, "height_mm", "Height: enter whole millimetres"),
    ],
)
def test_parcel_input_is_checked_per_field_and_nothing_is_saved(
    picked, warehouse_user, values, field, message
):
    with pytest.raises(ValidationFailed) as exc:
        parcel_add(shipment=picked, actor=warehouse_user, **values)
    assert list(exc.value.errors) == [field]
    assert message in exc.value.errors[field][0]
    assert not Parcel.objects.exists()


def test_parcels_are_numbered_edited_and_renumbered_on_removal(picked, warehouse_user):
    p1 = parcel_add(
        shipment=picked,
        weight_grams=1200,
        length_mm=400,
        width_mm=300,
        height_mm=200,
        actor=warehouse_user,
    )
    p2 = parcel_add(shipment=picked, weight_grams="800", actor=warehouse_user)
    p3 = parcel_add(shipment=picked, weight_grams=300, actor=warehouse_user)
    assert [p.number for p in (p1, p2, p3)] == [1, 2, 3]
    assert (p2.length_mm, p2.width_mm, p2.height_mm) == (0, 0, 0)

    parcel_update(
        parcel=p2,
        weight_grams=850,
        length_mm=250,
        width_mm=200,
        height_mm=100,
        actor=warehouse_user,
    )
    p2.refresh_from_db()
    assert (p2.weight_grams, p2.length_mm) == (850, 250)
    with pytest.raises(ValidationFailed):
        parcel_update(parcel=p2, weight_grams=0, actor=warehouse_user)
    p2.refresh_from_db()
    assert p2.weight_grams == 850

    parcel_remove(parcel=p1, actor=warehouse_user)
    assert list(picked.parcels.order_by("number").values_list("number", "weight_grams")) == [
        (1, 850),
        (2, 300),
    ]


def test_parcels_cannot_change_once_shipped_and_a_packed_shipment_keeps_one(
    picked, warehouse_user, manager, carrier
):
    for code in ("TEE-BLK-M", "TEE-BLK-M", "MUG-BLU"):
        pack_scan(shipment=picked, code=code, actor=warehouse_user)
    parcel = parcel_add(shipment=picked, weight_grams=1500, actor=warehouse_user)
    pack_complete(shipment=picked, actor=warehouse_user)
    with pytest.raises(DomainError, match="needs at least one parcel"):
        parcel_remove(parcel=parcel, actor=warehouse_user)
    # Packed, not shipped: the weight can still be corrected.
    parcel_update(parcel=parcel, weight_grams=1480, actor=warehouse_user)

    shipment_ship(shipment=picked, carrier=carrier, tracking_number="JJD1", actor=manager)
    with pytest.raises(InvalidTransition, match="can no longer change"):
        parcel_add(shipment=picked, weight_grams=100, actor=warehouse_user)
    with pytest.raises(InvalidTransition):
        parcel_update(parcel=parcel, weight_grams=100, actor=warehouse_user)
    parcel.refresh_from_db()
    assert parcel.weight_grams == 1480


def test_parcel_weight_is_suggested_from_the_items_plus_packaging(picked, warehouse_user):
    # 2 x 500 g tee + 1 x 350 g mug
    assert parcel_weight_suggestion(shipment=picked) == 1350 + PACKAGING_GRAMS
    parcel_add(shipment=picked, weight_grams=900 + PACKAGING_GRAMS, actor=warehouse_user)
    assert parcel_weight_suggestion(shipment=picked) == 450 + PACKAGING_GRAMS  # the rest
    parcel_add(shipment=picked, weight_grams=450 + PACKAGING_GRAMS, actor=warehouse_user)
    assert parcel_weight_suggestion(shipment=picked) is None


# ---------------------------------------------------------------- completing


def test_complete_is_refused_until_every_unit_is_scanned_and_a_parcel_exists(
    picked, warehouse_user
):
    with pytest.raises(ValidationFailed) as exc:
        pack_complete(shipment=picked, actor=warehouse_user)
    assert exc.value.errors["lines"] == ["3 units still to scan: 2 × TEE-BLK-M, 1 × MUG-BLU."]
    assert exc.value.errors["parcels"] == [
        "Add at least one parcel (weigh the box) before completing."
    ]

    for code in ("TEE-BLK-M", "4006381333931"):
        pack_scan(shipment=picked, code=code, actor=warehouse_user)
    with pytest.raises(ValidationFailed) as exc:
        pack_complete(shipment=picked, actor=warehouse_user)
    assert exc.value.errors["lines"] == ["1 unit still to scan: 1 × MUG-BLU."]

    pack_scan(shipment=picked, code="MUG-BLU", actor=warehouse_user)
    with pytest.raises(ValidationFailed) as exc:
        pack_complete(shipment=picked, actor=warehouse_user)
    assert list(exc.value.errors) == ["parcels"]
    picked.refresh_from_db()
    assert picked.status == "picking"
    assert not OrderEvent.objects.filter(order=picked.order, type=EventType.PACKED).exists()

    parcel_add(shipment=picked, weight_grams=1500, actor=warehouse_user)
    done = pack_complete(shipment=picked, actor=warehouse_user)
    done.refresh_from_db()
    assert done.status == "packed"
    assert done.packed_at is not None
    assert _packed(done) == {"TEE-BLK-M": 2, "MUG-BLU": 1}  # the scanned counts stand
    event = OrderEvent.objects.get(order=done.order, type=EventType.PACKED)
    assert event.actor == warehouse_user
    assert event.payload == {"shipment": done.number}


def test_complete_refuses_a_line_that_is_not_fully_picked(picked, warehouse_user):
    line = picked.lines.get(order_line__sku="TEE-BLK-M")
    ShipmentLine.objects.filter(pk=line.pk).update(quantity_picked=1)  # a pick still being walked
    for code in ("TEE-BLK-M", "MUG-BLU"):
        pack_scan(shipment=picked, code=code, actor=warehouse_user)
    parcel_add(shipment=picked, weight_grams=900, actor=warehouse_user)
    with pytest.raises(ValidationFailed) as exc:
        pack_complete(shipment=picked, actor=warehouse_user)
    assert exc.value.errors["pick"] == [
        "SKU TEE-BLK-M: only 1 of 2 picked — finish the pick or record the short pick first."
    ]


# ---------------------------------------------------------------- finding the shipment


def test_find_by_shipment_number_order_number_or_tote_of_the_open_list(
    picked, warehouse_user, channel, manager, address, stocked_product, warehouses
):
    assert pack_find(code=picked.number.lower(), user=warehouse_user) == picked
    assert pack_find(code=picked.order.number, user=warehouse_user) == picked

    older = _picked(channel, manager, address, [(stocked_product, 1)])
    done_list = PickList.objects.create(
        number="PL-1", warehouse=warehouses[0], status=PickListStatus.COMPLETED
    )
    open_list = PickList.objects.create(
        number="PL-2", warehouse=warehouses[0], status=PickListStatus.OPEN
    )
    Shipment.objects.filter(pk=older.pk).update(tote="T1", pick_list=done_list, status="packed")
    Shipment.objects.filter(pk=picked.pk).update(tote="T1", pick_list=open_list)
    assert pack_find(code="t1", user=warehouse_user) == picked

    with pytest.raises(DomainError, match="Nothing found for “T9”"):
        pack_find(code="T9", user=warehouse_user)


def test_find_an_order_with_two_shipments_to_pack_asks_for_the_shipment(
    warehouse_user, channel, manager, address, warehouses
):
    product = ProductFactory(sku="SPLIT-1", name="Split item")
    stock_receive(
        product=product, warehouse=warehouses[0], quantity=1, actor=manager, reference="PO"
    )
    stock_receive(
        product=product, warehouse=warehouses[1], quantity=1, actor=manager, reference="PO"
    )
    order = _order(channel, manager, address, [(product, 2)])
    shipments = shipments_create(order=order, actor=manager)
    for s in shipments:
        shipment_confirm_picked(shipment=s, actor=manager)
    with pytest.raises(DomainError) as exc:
        pack_find(code=order.number, user=warehouse_user)
    assert f"Order {order.number} has 2 shipments to pack" in exc.value.message
    assert "Scan the shipment number" in exc.value.message


# ---------------------------------------------------------------- packing slip


def _pdf_text(pdf: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_packing_slip_has_one_page_per_shipment_with_items_address_and_return_link(
    picked, channel, manager, address, stocked_product, settings
):
    settings.MERCHANT_NAME = "Northwind Outfitters"
    other = _picked(channel, manager, address, [(stocked_product, 1)])
    pdf = packing_slip_pdf([other, picked])
    assert pdf.startswith(b"%PDF")
    pages = _pdf_text(pdf)
    assert len(pages) == 2
    assert other.number in pages[0]
    assert picked.number in pages[1]
    text = pages[1]
    for expected in (
        "Northwind Outfitters",
        "Packing slip",
        picked.order.number,
        "Ada Lovelace",
        "20457 Hamburg",
        "TEE-BLK-M",
        "MUG-BLU",
        "Blue mug",
        picked.order.status_path(),
    ):
        assert expected in text.replace("\n", ""), expected
    assert "Still to follow" not in text


def test_packing_slip_lists_what_is_still_to_follow(channel, manager, address, warehouses):
    product = ProductFactory(sku="BACK-1", name="Backordered lamp", allow_backorder=True)
    stock_receive(
        product=product, warehouse=warehouses[0], quantity=1, actor=manager, reference="PO"
    )
    order = _order(channel, manager, address, [(product, 3)])
    shipment = shipments_create(order=order, actor=manager)[0]
    text = _pdf_text(packing_slip_pdf([shipment]))[0]
    assert "Still to follow" in text
    assert "Backordered" in text


# ---------------------------------------------------------------- concurrency


@pytest.mark.django_db(transaction=True)
def test_two_scans_of_the_last_unit_at_once_count_it_once(channel, address, warehouses):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    manager = UserFactory(username="boss", roles=[roles.MANAGER])
    packer = UserFactory(username="packer", roles=[roles.WAREHOUSE])
    product = ProductFactory(sku="LAST-1", name="Last one", barcode="5000000000001")
    stock_receive(
        product=product, warehouse=warehouses[0], quantity=3, actor=manager, reference="PO"
    )
    shipment = _picked(channel, manager, address, [(product, 1)])

    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def scan():
        try:
            barrier.wait(timeout=10)
            pack_scan(shipment=shipment, code="5000000000001", actor=packer)
            result = "accepted"
        except DomainError as exc:
            result = exc.code
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["accepted", "extra_unit"]
    assert ShipmentLine.objects.get(shipment=shipment).quantity_packed == 1
