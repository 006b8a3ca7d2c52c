"""Available to promise with expected receipts, and the reorder suggestions' arithmetic."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from inventory.choices import MovementKind
from inventory.models import Backorder, ExpectedReceipt, StockMovement
from inventory.selectors import (
    atp_detail,
    demand_window,
    reorder_suggestion_for,
    reorder_suggestions,
)
from inventory.services import (
    expected_receipt_create,
    expected_receipt_mark_received,
    stock_receive,
)
from tests.factories import ProductFactory, WarehouseFactory

TODAY = date(2025, 6, 30)


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(settings.TIME_ZONE))


# ---------------------------------------------------------------- available to promise


def test_atp_totals_and_lists_every_active_warehouse(
    placed_order, stocked_product, warehouses, manager
):
    closed = WarehouseFactory(code="OLD", name="Old depot", priority=9, active=False)
    stock_receive(product=stocked_product, warehouse=closed, quantity=50, actor=manager)

    atp = atp_detail(product_ids=[stocked_product.pk])[stocked_product.pk]

    assert (atp.on_hand, atp.reserved, atp.available) == (10, 2, 8)
    assert [(w.code, w.on_hand, w.reserved, w.available) for w in atp.warehouses] == [
        ("HAM", 10, 2, 8),
        ("BER", 0, 0, 0),
    ]
    assert atp.per_warehouse == {"HAM": 8, "BER": 0}
    assert atp.expected == []
    assert atp.next_expected is None
    assert atp.backordered == 0


def test_atp_includes_open_expected_receipts_earliest_first(stocked_product, warehouses, manager):
    ham, ber = warehouses
    today = timezone.localdate()
    later = expected_receipt_create(
        product=stocked_product,
        warehouse=ber,
        quantity=30,
        expected_on=today + timedelta(days=14),
        reference="PO-2",
        actor=manager,
    )
    soon = expected_receipt_create(
        product=stocked_product,
        warehouse=ham,
        quantity=12,
        expected_on=today + timedelta(days=2),
        reference="PO-1",
        actor=manager,
    )
    expected_receipt_mark_received(expected_receipt=soon, quantity=5)
    late = expected_receipt_create(
        product=stocked_product,
        warehouse=ham,
        quantity=4,
        expected_on=today,
        reference="PO-0",
        actor=manager,
    )
    ExpectedReceipt.objects.filter(pk=late.pk).update(expected_on=today - timedelta(days=3))
    done = expected_receipt_create(
        product=stocked_product, warehouse=ham, quantity=1, expected_on=today, actor=manager
    )
    expected_receipt_mark_received(expected_receipt=done, quantity=1)
    ExpectedReceipt.objects.create(
        product=stocked_product,
        warehouse=ham,
        quantity=9,
        expected_on=today,
        status=ExpectedReceipt.Status.CANCELLED,
    )

    atp = atp_detail(product_ids=[stocked_product.pk])[stocked_product.pk]

    assert [(e.reference, e.quantity, e.warehouse_code, e.late) for e in atp.expected] == [
        ("PO-0", 4, "HAM", True),
        ("PO-1", 7, "HAM", False),
        ("PO-2", 30, "BER", False),
    ]
    assert atp.next_expected.id == late.pk
    assert atp.next_expected.expected_on == today - timedelta(days=3)
    assert atp.expected_total == 41
    assert atp.available == 10  # expected units are listed, not counted as stock
    assert later.pk in {e.id for e in atp.expected}


def test_atp_reports_backordered_units_and_many_products_at_once(stocked_product, warehouses):
    other = ProductFactory(sku="MUG-1")
    Backorder.objects.create(demand_ref="order:10001:1", product=other, quantity=3)
    Backorder.objects.create(demand_ref="order:10002:1", product=other, quantity=2)
    Backorder.objects.create(demand_ref="order:10003:1", product=other, quantity=0)

    result = atp_detail(product_ids=[stocked_product.pk, other.pk])

    assert result[other.pk].backordered == 5
    assert result[other.pk].available == 0
    assert result[stocked_product.pk].available == 10


def test_atp_takes_four_queries_whatever_the_number_of_products(
    stocked_product, warehouses, django_assert_num_queries
):
    products = [stocked_product] + [ProductFactory() for _ in range(5)]

    with django_assert_num_queries(4):
        atp_detail(product_ids=[p.pk for p in products])


# ---------------------------------------------------------------- reorder suggestions


def reserve_history(product, warehouse, entries):
    """Ledger rows of reservations (and other kinds) at given moments."""
    for moment, kind, reserved in entries:
        m = StockMovement.objects.create(
            product=product,
            warehouse=warehouse,
            kind=kind,
            reserved_delta=reserved,
            reference="order:history",
        )
        StockMovement.objects.filter(pk=m.pk).update(created_at=moment)


@pytest.fixture
def low_tee(stocked_product):
    """10 on hand, reorder point 10 (so at it), lead time 10 days, no reorder quantity."""
    stocked_product.reorder_point = 10
    stocked_product.lead_time_days = 10
    stocked_product.save()
    return stocked_product


def test_demand_window_is_thirty_whole_days_ending_today():
    since, until = demand_window(TODAY)

    assert since == at(date(2025, 6, 1), 0)
    assert until == at(date(2025, 7, 1), 0)


def test_suggestion_from_demand_over_lead_time_plus_safety_stock(low_tee, warehouses):
    ham = warehouses[0]
    reserve_history(
        low_tee,
        ham,
        [
            (
                at(date(2025, 6, 1), 0, 0),
                MovementKind.RESERVATION,
                20,
            ),  # first moment of the window
            (at(date(2025, 6, 15)), MovementKind.RESERVATION, 15),
            (at(date(2025, 6, 30), 23, 59), MovementKind.RESERVATION, 10),  # last minute of today
            (at(date(2025, 5, 31), 23, 59), MovementKind.RESERVATION, 100),  # before the window
            (at(date(2025, 7, 1), 0, 0), MovementKind.RESERVATION, 100),  # after it
            (at(date(2025, 6, 16)), MovementKind.RELEASE, -8),  # releases are not demand
            (at(date(2025, 6, 17)), MovementKind.RESERVATION, -3),  # nor negative rows
        ],
    )

    [s] = reorder_suggestions(today=TODAY)

    assert s.product == low_tee
    assert s.demand_30d == 45
    assert float(s.daily_demand) == 1.5
    assert s.safety_stock == 5  # ceil(1.5 * 3)
    assert s.suggested == 20  # ceil(1.5 * 10 + 5)
    assert s.basis == "demand"
    assert (s.on_hand, s.reserved, s.available, s.reorder_point, s.lead_time_days) == (
        10,
        0,
        10,
        10,
        10,
    )


def test_suggestion_rounds_up_fractional_demand(low_tee, warehouses):
    low_tee.lead_time_days = 7
    low_tee.save()
    reserve_history(low_tee, warehouses[0], [(at(TODAY), MovementKind.RESERVATION, 4)])

    s = reorder_suggestion_for(product=low_tee, today=TODAY)

    # 4/30 a day: safety ceil(0.4) = 1; ceil(4/30 * 7 + 1) = ceil(1.93) = 2
    assert (s.safety_stock, s.suggested) == (1, 2)


def test_reorder_quantity_wins_over_demand(low_tee, warehouses):
    low_tee.reorder_quantity = 48
    low_tee.save()
    reserve_history(low_tee, warehouses[0], [(at(TODAY), MovementKind.RESERVATION, 300)])

    s = reorder_suggestion_for(product=low_tee, today=TODAY)

    assert (s.suggested, s.basis, s.demand_30d) == (48, "reorder_quantity", 300)


def test_without_demand_it_suggests_enough_to_clear_the_reorder_point(low_tee, warehouses, manager):
    s = reorder_suggestion_for(product=low_tee, today=TODAY)

    assert (s.suggested, s.basis) == (
        1,
        "reorder_point",
    )  # 10 available, point 10: one more clears it


def test_only_active_products_at_or_below_their_reorder_point(low_tee, warehouses, manager):
    above = ProductFactory(sku="ABOVE", reorder_point=3)
    stock_receive(product=above, warehouse=warehouses[0], quantity=4, actor=manager)
    ProductFactory(sku="NO-POINT", reorder_point=0)
    ProductFactory(sku="RETIRED", reorder_point=5, active=False)
    empty = ProductFactory(sku="EMPTY", reorder_point=2)

    rows = reorder_suggestions(today=TODAY)

    # Lowest availability against the reorder point first.
    assert [r.product.sku for r in rows] == ["EMPTY", "TEE-BLK-M"]
    assert rows[0].product == empty
    assert rows[0].suggested == 3


def test_suggestions_show_what_is_already_expected(low_tee, warehouses, manager):
    first = timezone.localdate() + timedelta(days=4)
    expected_receipt_create(
        product=low_tee,
        warehouse=warehouses[0],
        quantity=6,
        expected_on=first + timedelta(days=5),
        actor=manager,
    )
    expected_receipt_create(
        product=low_tee, warehouse=warehouses[1], quantity=4, expected_on=first, actor=manager
    )

    s = reorder_suggestion_for(product=low_tee)

    assert (s.expected, s.next_expected_on) == (10, first)


def test_reorder_suggestions_take_three_queries(low_tee, warehouses, django_assert_num_queries):
    for n in range(4):
        ProductFactory(sku=f"LOW-{n}", reorder_point=5)

    with django_assert_num_queries(3):
        rows = reorder_suggestions(today=TODAY)

    assert len(rows) == 5
