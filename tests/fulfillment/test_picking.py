"""Batch pick lists through the services: choosing orders, totes, the bin-sorted walk, the PDF,
line confirmation and short picks (re-reserved elsewhere or backordered), with the stock
ledger and the order timeline kept consistent."""

import datetime
import io
import itertools
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import close_old_connections, connection

from core.errors import DomainError, NotAllowed, ValidationFailed
from fulfillment.documents import pick_list_pdf
from fulfillment.models import CarrierService, PickList, Shipment, ShipmentLine
from fulfillment.picking import pick_line_short, pick_lines_confirm, pick_list_create
from fulfillment.selectors import pick_list_walk
from fulfillment.services import shipments_create
from inventory.models import Backorder, Reservation, StockLevel, StockMovement
from inventory.services import stock_receive
from orders.models import Order, OrderEvent
from orders.services import LineInput, order_place, stock_receipt_record
from tests.factories import CarrierFactory, ProductFactory

pytestmark = pytest.mark.django_db

CUSTOMERS = itertools.count(1)


def place(channel, actor, address, items, *, method="Standard"):
    """Place an order of (product, quantity) pairs for a new customer."""
    return order_place(
        channel=channel,
        email=f"picker-test{next(CUSTOMERS)}@example.com",
        name="Ada Lovelace",
        address=address,
        lines=[LineInput(product=p, quantity=q) for p, q in items],
        actor=actor,
        shipping_method=method,
        shipping_total=Decimal("4.90"),
    )


def stock(product, warehouse, quantity, actor, bin_location=""):
    stock_receive(
        product=product, warehouse=warehouse, quantity=quantity, actor=actor, reference="PO-T"
    )
    if bin_location:
        StockLevel.objects.filter(product=product, warehouse=warehouse).update(
            bin_location=bin_location
        )


def check_stock_ok() -> str:
    out = io.StringIO()
    call_command("check_stock", stdout=out)  # exits 1 (SystemExit) when anything differs
    return out.getvalue()


@pytest.fixture
def shelf(db, warehouses, manager):
    """Three products in HAM on bins out of alphabetical order, one also in BER."""
    ham, ber = warehouses
    mug = ProductFactory(sku="MUG-01", name="Enamel mug")
    tee = ProductFactory(sku="TEE-01", name="Organic tee")
    cap = ProductFactory(sku="CAP-01", name="Cap")
    stock(mug, ham, 20, manager, "B-10-1")
    stock(tee, ham, 20, manager, "A-02-3")
    stock(cap, ham, 20, manager, "")  # no bin: last on the walk
    stock(tee, ber, 5, manager, "Z-01-1")
    return {"mug": mug, "tee": tee, "cap": cap, "ham": ham, "ber": ber}


@pytest.fixture
def carriers(db):
    dhl = CarrierFactory(code="dhl", name="DHL Parcel")
    ups = CarrierFactory(code="ups", name="UPS")
    CarrierService.objects.create(carrier=dhl, code="std", name="Paket", shipping_method="standard")
    CarrierService.objects.create(
        carrier=ups, code="exp", name="Express Saver", shipping_method="express"
    )
    return {"dhl": dhl, "ups": ups}


# ---------------------------------------------------------------- creating a pick list


def test_pick_list_creates_shipments_in_totes_and_starts_picking(
    channel, manager, warehouse_user, address, shelf
):
    a = place(channel, manager, address, [(shelf["mug"], 2), (shelf["tee"], 1)])
    b = place(channel, manager, address, [(shelf["cap"], 3)])

    pl = pick_list_create(warehouse=shelf["ham"], filters={}, limit=10, actor=warehouse_user)

    assert pl.number.startswith("PL-")
    assert pl.status == "open"
    shipments = {s.order_id: s for s in pl.shipments.all()}
    assert set(shipments) == {a.pk, b.pk}
    assert {s.tote for s in shipments.values()} == {"T1", "T2"}
    assert all(s.status == "picking" and s.picked_at is None for s in shipments.values())
    assert all(s.number.startswith("SH-") for s in shipments.values())
    assert len({s.number for s in shipments.values()}) == 2
    lines = {
        ln.order_line.sku: ln.quantity for ln in shipments[a.pk].lines.select_related("order_line")
    }
    assert lines == {"MUG-01": 2, "TEE-01": 1}
    # Units in shipments are counted on the order lines, as shipments_create counts them.
    assert {ln.sku: ln.quantity_allocated for ln in a.lines.all()} == {"MUG-01": 2, "TEE-01": 1}
    event = OrderEvent.objects.get(order=a, type="shipment_created")
    assert pl.number in event.message
    assert shipments[a.pk].tote in event.message
    assert event.payload == {
        "shipment": shipments[a.pk].number,
        "pick_list": pl.number,
        "tote": shipments[a.pk].tote,
    }
    assert event.actor == warehouse_user


def test_pick_list_skips_orders_already_on_a_list_and_takes_pending_shipments(
    channel, manager, warehouse_user, address, shelf
):
    listed = place(channel, manager, address, [(shelf["mug"], 1)])
    first = pick_list_create(warehouse=shelf["ham"], filters={}, limit=10, actor=warehouse_user)
    by_hand = place(channel, manager, address, [(shelf["tee"], 1)])
    pending = shipments_create(order=by_hand, actor=manager)[0]
    fresh = place(channel, manager, address, [(shelf["cap"], 1)])

    second = pick_list_create(warehouse=shelf["ham"], filters={}, limit=10, actor=warehouse_user)

    assert set(second.shipments.values_list("order_id", flat=True)) == {by_hand.pk, fresh.pk}
    assert first.shipments.get().order_id == listed.pk
    pending.refresh_from_db()
    assert pending.pick_list == second
    assert pending.status == "picking"
    assert pending.tote
    assert by_hand.shipments.count() == 1  # taken as it was, not duplicated
    assert OrderEvent.objects.filter(order=by_hand, payload__pick_list=second.number).exists()
    with pytest.raises(DomainError, match="No order is ready to pick in HAM"):
        pick_list_create(warehouse=shelf["ham"], filters={}, limit=10, actor=warehouse_user)


def test_a_split_order_puts_only_this_warehouses_shipment_on_the_list(
    channel, manager, warehouse_user, address, shelf
):
    # 22 tees: HAM holds 20, BER 5, so the order is split across both warehouses.
    order = place(channel, manager, address, [(shelf["tee"], 22)])
    held = dict(
        Reservation.objects.filter(demand_ref__startswith=f"order:{order.number}:").values_list(
            "warehouse__code", "quantity"
        )
    )
    assert sum(held.values()) == 22
    assert len(held) == 2

    pl = pick_list_create(warehouse=shelf["ber"], filters={}, limit=10, actor=warehouse_user)

    s = pl.shipments.get()
    assert s.warehouse == shelf["ber"]
    assert s.lines.get().quantity == held["BER"]
    assert order.shipments.count() == 1
    # HAM still sees the order as ready for its own part.
    ham = pick_list_create(warehouse=shelf["ham"], filters={}, limit=10, actor=warehouse_user)
    assert ham.shipments.get().lines.get().quantity == held["HAM"]
    assert order.lines.get().quantity_allocated == 22


def test_limit_takes_the_most_urgent_orders_first(channel, manager, warehouse_user, address, shelf):
    orders = [place(channel, manager, address, [(shelf["cap"], 1)]) for _ in range(4)]
    today = datetime.date(2026, 11, 29)
    for o, days in zip(orders, [3, -2, None, 0], strict=True):
        Order.objects.filter(pk=o.pk).update(
            promised_ship_date=None if days is None else today + datetime.timedelta(days=days)
        )

    pl = pick_list_create(
        warehouse=shelf["ham"], filters={"priority": "promised"}, limit=2, actor=warehouse_user
    )

    totes = dict(pl.shipments.values_list("order_id", "tote"))
    assert totes == {orders[1].pk: "T1", orders[3].pk: "T2"}


def test_express_priority_puts_express_orders_first(
    channel, manager, warehouse_user, address, shelf
):
    standard = place(channel, manager, address, [(shelf["cap"], 1)], method="Standard")
    express = place(channel, manager, address, [(shelf["cap"], 1)], method="Express")

    pl = pick_list_create(
        warehouse=shelf["ham"], filters={"priority": "express"}, limit=1, actor=warehouse_user
    )

    assert pl.shipments.get().order_id == express.pk
    assert not standard.shipments.exists()


def test_filter_by_shipping_method_ignores_case(channel, manager, warehouse_user, address, shelf):
    place(channel, manager, address, [(shelf["cap"], 1)], method="Standard")
    express = place(channel, manager, address, [(shelf["cap"], 1)], method="Express")

    pl = pick_list_create(
        warehouse=shelf["ham"],
        filters={"shipping_method": "express"},
        limit=10,
        actor=warehouse_user,
    )

    assert list(pl.shipments.values_list("order_id", flat=True)) == [express.pk]
    assert pl.filters["shipping_method"] == "express"


def test_filter_by_carrier_uses_the_service_mapping_or_the_shipments_carrier(
    channel, manager, warehouse_user, address, shelf, carriers
):
    standard = place(channel, manager, address, [(shelf["cap"], 1)], method="Standard")
    express = place(channel, manager, address, [(shelf["cap"], 1)], method="Express")
    # A pending shipment of a standard order that someone already booked with UPS.
    rebooked = place(channel, manager, address, [(shelf["mug"], 1)], method="Standard")
    s = shipments_create(order=rebooked, actor=manager)[0]
    Shipment.objects.filter(pk=s.pk).update(carrier=carriers["ups"])

    ups = pick_list_create(
        warehouse=shelf["ham"], filters={"carrier": "ups"}, limit=10, actor=warehouse_user
    )
    dhl = pick_list_create(
        warehouse=shelf["ham"], filters={"carrier": "dhl"}, limit=10, actor=warehouse_user
    )

    assert set(ups.shipments.values_list("order_id", flat=True)) == {express.pk, rebooked.pk}
    assert set(dhl.shipments.values_list("order_id", flat=True)) == {standard.pk}


def test_single_line_filter_leaves_multi_line_orders(
    channel, manager, warehouse_user, address, shelf
):
    single = place(channel, manager, address, [(shelf["cap"], 3)])
    multi = place(channel, manager, address, [(shelf["cap"], 1), (shelf["mug"], 1)])

    pl = pick_list_create(
        warehouse=shelf["ham"], filters={"single_line": True}, limit=10, actor=warehouse_user
    )

    assert list(pl.shipments.values_list("order_id", flat=True)) == [single.pk]
    assert not multi.shipments.exists()


@pytest.mark.parametrize(
    ("filters", "limit", "field"),
    [
        ({"carrier": "nope"}, 10, "carrier"),
        ({"priority": "random"}, 10, "priority"),
        ({}, 0, "limit"),
        ({}, 5000, "limit"),
        ({}, "many", "limit"),
    ],
)
def test_bad_filters_are_refused_and_change_nothing(
    channel, manager, warehouse_user, address, shelf, filters, limit, field
):
    order = place(channel, manager, address, [(shelf["cap"], 1)])
    with pytest.raises(ValidationFailed) as exc:
        pick_list_create(warehouse=shelf["ham"], filters=filters, limit=limit, actor=warehouse_user)
    assert field in exc.value.errors
    assert not PickList.objects.exists()
    assert not order.shipments.exists()


def test_finance_may_not_make_a_pick_list(channel, manager, finance_user, address, shelf):
    place(channel, manager, address, [(shelf["cap"], 1)])
    with pytest.raises(NotAllowed):
        pick_list_create(warehouse=shelf["ham"], filters={}, limit=10, actor=finance_user)
    assert not Shipment.objects.exists()


def test_orders_on_hold_are_not_picked(channel, manager, warehouse_user, address, shelf):
    from orders.services import order_hold

    order = place(channel, manager, address, [(shelf["cap"], 1)])
    order_hold(order=order, reason="Customer asked to wait", actor=manager)
    with pytest.raises(DomainError, match="No order is ready"):
        pick_list_create(warehouse=shelf["ham"], filters={}, limit=10, actor=warehouse_user)


# ---------------------------------------------------------------- the walk and the PDF


def test_walk_is_sorted_by_bin_with_empty_bins_last_and_a_tote_breakdown(
    channel, manager, warehouse_user, address, shelf
):
    StockLevel.objects.filter(product=shelf["mug"], warehouse=shelf["ham"]).update(
        bin_location="A-10-1"
    )
    place(channel, manager, address, [(shelf["mug"], 2), (shelf["cap"], 1)])
    place(channel, manager, address, [(shelf["tee"], 1)])
    place(channel, manager, address, [(shelf["mug"], 1)])
    pl = pick_list_create(
        warehouse=shelf["ham"], filters={"priority": "placed"}, limit=10, actor=warehouse_user
    )

    walk = pick_list_walk(pick_list=pl)

    # A-2 before A-10 (natural order), the product without a bin last.
    assert [(r["bin"], r["sku"]) for r in walk] == [
        ("A-02-3", "TEE-01"),
        ("A-10-1", "MUG-01"),
        ("", "CAP-01"),
    ]
    mug = walk[1]
    assert mug["quantity"] == 3
    assert mug["breakdown"] == "T1 ×2, T3 ×1"


def test_pick_list_pdf_is_a_pdf_listing_every_sku_and_tote(
    channel, manager, warehouse_user, address, shelf
):
    from pypdf import PdfReader

    place(channel, manager, address, [(shelf["mug"], 2), (shelf["cap"], 1)])
    place(channel, manager, address, [(shelf["tee"], 1)])
    pl = pick_list_create(warehouse=shelf["ham"], filters={}, limit=10, actor=warehouse_user)

    pdf = pick_list_pdf(pl)

    assert pdf.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for needle in ["MUG-01", "TEE-01", "CAP-01", "B-10-1", "A-02-3", pl.number, "T1 ×2", "T2"]:
        assert needle in text


# ---------------------------------------------------------------- confirming


def _lines(pl):
    return {
        (ln.shipment.tote, ln.order_line.sku): ln
        for ln in ShipmentLine.objects.filter(shipment__pick_list=pl).select_related(
            "shipment", "order_line"
        )
    }


def test_confirming_every_line_picks_the_shipments_and_completes_the_list(
    channel, manager, warehouse_user, address, shelf
):
    a = place(channel, manager, address, [(shelf["mug"], 2), (shelf["tee"], 1)])
    place(channel, manager, address, [(shelf["cap"], 1)])
    pl = pick_list_create(
        warehouse=shelf["ham"], filters={"priority": "placed"}, limit=10, actor=warehouse_user
    )
    lines = _lines(pl)

    pick_lines_confirm(pick_list=pl, line_ids=[lines["T1", "MUG-01"].pk], actor=warehouse_user)
    t1 = Shipment.objects.get(pick_list=pl, tote="T1")
    assert t1.picked_at is None  # one line of two
    pick_lines_confirm(pick_list=pl, line_ids=[lines["T1", "TEE-01"].pk], actor=warehouse_user)
    t1.refresh_from_db()
    assert t1.picked_at is not None
    assert t1.status == "picking"
    assert OrderEvent.objects.filter(order=a, type="picked", payload__shipment=t1.number).exists()
    pl.refresh_from_db()
    assert pl.status == "open"

    pick_lines_confirm(pick_list=pl, line_ids=[lines["T2", "CAP-01"].pk], actor=warehouse_user)

    pl.refresh_from_db()
    assert pl.status == "completed"
    assert pl.completed_at
    assert all(
        ln.pick_confirmed and ln.quantity_picked == ln.quantity
        for ln in ShipmentLine.objects.filter(shipment__pick_list=pl)
    )
    with pytest.raises(DomainError, match=r"completed|Picked|picked"):
        pick_lines_confirm(pick_list=pl, line_ids=[lines["T2", "CAP-01"].pk], actor=warehouse_user)


def test_a_line_is_confirmed_once(channel, manager, warehouse_user, address, shelf):
    place(channel, manager, address, [(shelf["mug"], 2), (shelf["tee"], 1)])
    pl = pick_list_create(warehouse=shelf["ham"], filters={}, limit=10, actor=warehouse_user)
    line = _lines(pl)["T1", "MUG-01"]
    pick_lines_confirm(pick_list=pl, line_ids=[line.pk], actor=warehouse_user)
    with pytest.raises(DomainError, match="already confirmed"):
        pick_line_short(pick_list=pl, line_id=line.pk, found=0, actor=warehouse_user)
    line.refresh_from_db()
    assert line.quantity == 2
    assert line.quantity_short == 0


def test_short_pick_re_reserves_the_missing_units_in_another_warehouse(
    channel, manager, warehouse_user, address, shelf
):
    order = place(channel, manager, address, [(shelf["tee"], 3), (shelf["mug"], 1)])
    pl = pick_list_create(warehouse=shelf["ham"], filters={}, limit=10, actor=warehouse_user)
    lines = _lines(pl)
    ham_before = StockLevel.objects.get(product=shelf["tee"], warehouse=shelf["ham"])

    result = pick_line_short(
        pick_list=pl, line_id=lines["T1", "TEE-01"].pk, found=1, actor=warehouse_user
    )

    assert result == {"missing": 2, "moved": [("BER", 2)], "backordered": 0}
    line = ShipmentLine.objects.get(pk=lines["T1", "TEE-01"].pk)
    assert (line.quantity, line.quantity_picked, line.quantity_short, line.pick_confirmed) == (
        1,
        1,
        2,
        True,
    )
    tee = order.lines.get(sku="TEE-01")
    assert (tee.quantity_reserved, tee.quantity_backordered, tee.quantity_allocated) == (3, 0, 1)
    ref = f"order:{order.number}:{tee.line_no}"
    assert dict(
        Reservation.objects.filter(demand_ref=ref).values_list("warehouse__code", "quantity")
    ) == {"HAM": 1, "BER": 2}
    ham = StockLevel.objects.get(product=shelf["tee"], warehouse=shelf["ham"])
    assert ham.on_hand == ham_before.on_hand - 2
    assert ham.reserved == ham_before.reserved - 2
    adjustment = StockMovement.objects.get(
        product=shelf["tee"], warehouse=shelf["ham"], kind="adjustment"
    )
    assert adjustment.on_hand_delta == -2
    assert "found 1 of 3" in adjustment.reason
    assert "A-02-3" in adjustment.reason
    assert adjustment.reason.endswith("the shelf held no more")  # 1 was there: not "empty"
    event = OrderEvent.objects.get(order=order, type="short_picked")
    assert "found 1 of 3" in event.message
    assert "BER" in event.message
    assert event.visible_to_customer
    assert "separately" in event.customer_message
    check_stock_ok()
    # The moved units wait in BER as a ready order of their own.
    ber = pick_list_create(warehouse=shelf["ber"], filters={}, limit=10, actor=warehouse_user)
    assert ber.shipments.get().lines.get().quantity == 2
    # Finishing the HAM list: the short line counts as confirmed.
    pick_lines_confirm(pick_list=pl, line_ids=[lines["T1", "MUG-01"].pk], actor=warehouse_user)
    pl.refresh_from_db()
    assert pl.status == "completed"
    check_stock_ok()


def test_short_pick_backorders_when_no_warehouse_has_it(
    channel, manager, warehouse_user, address, shelf
):
    order = place(channel, manager, address, [(shelf["mug"], 3), (shelf["cap"], 1)])
    pl = pick_list_create(warehouse=shelf["ham"], filters={}, limit=10, actor=warehouse_user)
    lines = _lines(pl)

    result = pick_line_short(
        pick_list=pl, line_id=lines["T1", "MUG-01"].pk, found=1, actor=warehouse_user
    )

    assert result == {"missing": 2, "moved": [], "backordered": 2}
    mug = order.lines.get(sku="MUG-01")
    assert (mug.quantity_reserved, mug.quantity_backordered, mug.quantity_allocated) == (1, 2, 1)
    assert Backorder.objects.get(demand_ref=f"order:{order.number}:{mug.line_no}").quantity == 2
    order.refresh_from_db()
    assert order.fulfillment_status == "partially_reserved"
    event = OrderEvent.objects.get(order=order, type="short_picked")
    assert "backordered" in event.message
    assert "out of stock" in event.customer_message
    check_stock_ok()
    # New stock fills the backorder, oldest first, through the normal receipt.
    stock_receipt_record(product=shelf["mug"], warehouse=shelf["ham"], quantity=5, actor=manager)
    mug.refresh_from_db()
    assert (mug.quantity_reserved, mug.quantity_backordered) == (3, 0)
    check_stock_ok()


def test_short_pick_of_everything_cancels_the_shipment(
    channel, manager, warehouse_user, address, shelf
):
    order = place(channel, manager, address, [(shelf["mug"], 2)])
    pl = pick_list_create(warehouse=shelf["ham"], filters={}, limit=10, actor=warehouse_user)
    line = _lines(pl)["T1", "MUG-01"]

    pick_line_short(pick_list=pl, line_id=line.pk, found=0, actor=warehouse_user)

    s = Shipment.objects.get(pk=line.shipment_id)
    assert s.status == "cancelled"
    pl.refresh_from_db()
    assert pl.status == "completed"
    assert order.lines.get().quantity_allocated == 0
    check_stock_ok()


@pytest.mark.parametrize("found", [-1, 2, 5, "x"])
def test_a_short_pick_outside_the_lines_quantity_is_refused(
    channel, manager, warehouse_user, address, shelf, found
):
    place(channel, manager, address, [(shelf["mug"], 2)])
    pl = pick_list_create(warehouse=shelf["ham"], filters={}, limit=10, actor=warehouse_user)
    line = _lines(pl)["T1", "MUG-01"]
    movements = StockMovement.objects.count()
    with pytest.raises(DomainError) as exc:
        pick_line_short(pick_list=pl, line_id=line.pk, found=found, actor=warehouse_user)
    assert exc.value.field == "found"
    line.refresh_from_db()
    assert (line.quantity, line.quantity_short, line.pick_confirmed) == (2, 0, False)
    assert StockMovement.objects.count() == movements


# ---------------------------------------------------------------- concurrency (PostgreSQL)


def _in_threads(*jobs):
    errors = []
    barrier = threading.Barrier(len(jobs))

    def run(job):
        try:
            barrier.wait()
            job()
        except Exception as exc:
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return errors


@pytest.mark.django_db(transaction=True)
def test_two_pickers_confirming_lines_of_one_list_lose_nothing(
    warehouses, manager, warehouse_user, channel, address
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    ham = warehouses[0]
    products = [ProductFactory(sku=f"CC-{i}") for i in range(4)]
    for i, p in enumerate(products):
        stock(p, ham, 10, manager, f"A-0{i}-1")
    for p in products:
        place(channel, manager, address, [(p, 1)])
    pl = pick_list_create(warehouse=ham, filters={}, limit=10, actor=warehouse_user)
    ids = sorted(ShipmentLine.objects.filter(shipment__pick_list=pl).values_list("pk", flat=True))

    errors = _in_threads(
        lambda: [
            pick_lines_confirm(pick_list=pl, line_ids=[i], actor=warehouse_user) for i in ids[:2]
        ],
        lambda: [
            pick_lines_confirm(pick_list=pl, line_ids=[i], actor=warehouse_user) for i in ids[2:]
        ],
    )

    assert errors == []
    pl.refresh_from_db()
    assert pl.status == "completed"
    assert ShipmentLine.objects.filter(shipment__pick_list=pl, pick_confirmed=True).count() == 4
    assert Shipment.objects.filter(pick_list=pl, picked_at__isnull=False).count() == 4


@pytest.mark.django_db(transaction=True)
def test_two_pick_lists_made_at_once_never_take_the_same_order(
    warehouses, manager, warehouse_user, channel, address
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    ham = warehouses[0]
    product = ProductFactory(sku="RACE-1")
    stock(product, ham, 50, manager, "A-01-1")
    orders = [place(channel, manager, address, [(product, 1)]) for _ in range(12)]

    errors = _in_threads(
        lambda: pick_list_create(warehouse=ham, filters={}, limit=8, actor=warehouse_user),
        lambda: pick_list_create(warehouse=ham, filters={}, limit=8, actor=warehouse_user),
    )

    assert [e for e in errors if not isinstance(e, DomainError)] == []
    taken = list(Shipment.objects.values_list("order_id", flat=True))
    assert len(taken) == len(set(taken)) == 12
    assert {o.pk for o in orders} == set(taken)
    assert sorted(Shipment.objects.values_list("number", flat=True)) == [
        f"SH-{i:06d}" for i in range(1, 13)
    ]
    check_stock_ok()
