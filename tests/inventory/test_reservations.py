import pytest
from django.db import IntegrityError, transaction

from core.errors import DomainError, OutOfStock
from inventory.models import Reservation, StockLevel, StockMovement
from inventory.selectors import availability_for, stock_discrepancies
from inventory.services import (
    Demand,
    stock_adjust,
    stock_receive,
    stock_release,
    stock_reserve,
    stock_ship,
)
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_reserve_ships_complete_from_highest_priority_warehouse_that_can(warehouses, manager):
    tee, mug = ProductFactory(), ProductFactory()
    ham, ber = warehouses
    stock_receive(product=tee, warehouse=ham, quantity=5, actor=manager)
    stock_receive(product=tee, warehouse=ber, quantity=5, actor=manager)
    stock_receive(product=mug, warehouse=ber, quantity=5, actor=manager)

    plan = stock_reserve(
        demands=[Demand("a", tee.pk, 2, tee.sku), Demand("b", mug.pk, 1, mug.sku)],
        actor=manager,
        reference="X",
    )

    assert plan.allocations == {"a": [(ber.pk, 2)], "b": [(ber.pk, 1)]}
    assert "complete from BER" in plan.explanation
    assert StockLevel.objects.get(product=tee, warehouse=ber).reserved == 2
    assert StockLevel.objects.get(product=tee, warehouse=ham).reserved == 0


def test_reserve_splits_when_no_warehouse_holds_everything(warehouses, manager):
    tee = ProductFactory()
    ham, ber = warehouses
    stock_receive(product=tee, warehouse=ham, quantity=3, actor=manager)
    stock_receive(product=tee, warehouse=ber, quantity=3, actor=manager)

    plan = stock_reserve(demands=[Demand("a", tee.pk, 5, tee.sku)], actor=manager, reference="X")

    assert sorted(plan.allocations["a"]) == sorted([(ham.pk, 3), (ber.pk, 2)])
    assert "split across" in plan.explanation
    assert availability_for(product_ids=[tee.pk])[tee.pk].available == 1


def test_reserve_refuses_short_lines_and_changes_nothing(warehouses, manager):
    tee, mug = ProductFactory(sku="TEE"), ProductFactory(sku="MUG")
    stock_receive(product=tee, warehouse=warehouses[0], quantity=5, actor=manager)
    stock_receive(product=mug, warehouse=warehouses[0], quantity=1, actor=manager)
    before = StockMovement.objects.count()

    with pytest.raises(OutOfStock) as err:
        stock_reserve(
            demands=[Demand("a", tee.pk, 2, "TEE"), Demand("b", mug.pk, 3, "MUG")],
            actor=manager,
            reference="X",
        )

    assert "MUG: 3 requested, 1 available" in err.value.message
    assert [s["sku"] for s in err.value.shortages] == ["MUG"]
    assert StockMovement.objects.count() == before
    assert not Reservation.objects.exists()
    assert StockLevel.objects.get(product=tee).reserved == 0


def test_inactive_warehouse_stock_is_not_promised(warehouses, manager):
    tee = ProductFactory()
    stock_receive(product=tee, warehouse=warehouses[1], quantity=4, actor=manager)
    warehouses[1].active = False
    warehouses[1].save()

    assert availability_for(product_ids=[tee.pk])[tee.pk].available == 0
    with pytest.raises(OutOfStock):
        stock_reserve(demands=[Demand("a", tee.pk, 1)], actor=manager, reference="X")


def test_release_and_ship_move_levels_through_the_ledger(warehouses, manager):
    tee = ProductFactory()
    ham = warehouses[0]
    stock_receive(product=tee, warehouse=ham, quantity=10, actor=manager)
    stock_reserve(demands=[Demand("line", tee.pk, 4)], actor=manager, reference="X")

    assert stock_release(demand_ref="line", quantity=1, actor=manager, reference="X") == 1
    stock_ship(demand_ref="line", warehouse_id=ham.pk, quantity=3, actor=manager, reference="SH")

    level = StockLevel.objects.get(product=tee, warehouse=ham)
    assert (level.on_hand, level.reserved) == (7, 0)
    kinds = list(
        StockMovement.objects.filter(product=tee).order_by("id").values_list("kind", flat=True)
    )
    assert kinds == ["receipt", "reservation", "release", "shipment"]
    assert stock_discrepancies() == []


def test_cannot_ship_more_than_reserved(warehouses, manager):
    tee = ProductFactory()
    stock_receive(product=tee, warehouse=warehouses[0], quantity=10, actor=manager)
    stock_reserve(demands=[Demand("line", tee.pk, 2)], actor=manager, reference="X")
    with pytest.raises(DomainError):
        stock_ship(
            demand_ref="line",
            warehouse_id=warehouses[0].pk,
            quantity=3,
            actor=manager,
            reference="SH",
        )
    assert StockLevel.objects.get(product=tee).on_hand == 10


def test_adjustment_needs_a_reason_and_cannot_eat_reserved_stock(warehouses, manager):
    tee = ProductFactory()
    ham = warehouses[0]
    stock_receive(product=tee, warehouse=ham, quantity=5, actor=manager)
    stock_reserve(demands=[Demand("line", tee.pk, 4)], actor=manager, reference="X")

    with pytest.raises(DomainError, match="Say why"):
        stock_adjust(product=tee, warehouse=ham, delta=-1, reason=" ", actor=manager)
    with pytest.raises(DomainError, match="cannot go down by 2"):
        stock_adjust(product=tee, warehouse=ham, delta=-2, reason="Damaged", actor=manager)
    stock_adjust(product=tee, warehouse=ham, delta=-1, reason="Damaged", actor=manager)

    assert StockLevel.objects.get(product=tee, warehouse=ham).on_hand == 4
    assert stock_discrepancies() == []


def test_database_refuses_negative_or_over_reserved_stock(warehouses, manager):
    tee = ProductFactory()
    level = stock_receive(product=tee, warehouse=warehouses[0], quantity=1, actor=manager)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.filter(pk=level.pk).update(on_hand=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.filter(pk=level.pk).update(reserved=2)
