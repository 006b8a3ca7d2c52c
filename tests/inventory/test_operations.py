"""Stock operations beyond receive and adjust: cycle counts, transfers, expected receipts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import DomainError, NotAllowed, ValidationFailed
from inventory.choices import MovementKind
from inventory.models import ExpectedReceipt, StockLevel, StockMovement
from inventory.selectors import stock_discrepancies
from inventory.services import (
    expected_receipt_cancel,
    expected_receipt_create,
    expected_receipt_mark_received,
    stock_count,
    stock_receive,
    stock_transfer,
)
from tests.factories import ProductFactory


def level(product, warehouse) -> StockLevel:
    return StockLevel.objects.get(product=product, warehouse=warehouse)


# ---------------------------------------------------------------- counts


def test_count_writes_the_variance_as_one_count_movement(
    stocked_product, warehouses, warehouse_user
):
    ham = warehouses[0]

    result = stock_count(product=stocked_product, warehouse=ham, counted=8, actor=warehouse_user)

    assert (result.on_hand, result.reserved) == (8, 0)
    movement = StockMovement.objects.filter(product=stocked_product).first()
    assert movement.kind == MovementKind.COUNT
    assert movement.on_hand_delta == -2
    assert movement.actor == warehouse_user
    assert movement.reason == "Cycle count: system 10, counted 8"
    assert stock_discrepancies() == []


def test_count_above_the_system_adds_stock(stocked_product, warehouses, manager):
    result = stock_count(
        product=stocked_product,
        warehouse=warehouses[0],
        counted=13,
        actor=manager,
        reason="Found behind the rack",
    )

    assert result.on_hand == 13
    assert StockMovement.objects.filter(product=stocked_product).first().on_hand_delta == 3


def test_count_without_variance_is_recorded_with_zero_delta(stocked_product, warehouses, manager):
    stock_count(product=stocked_product, warehouse=warehouses[0], counted=10, actor=manager)

    movement = StockMovement.objects.filter(product=stocked_product).first()
    assert (movement.kind, movement.on_hand_delta) == (MovementKind.COUNT, 0)


def test_count_in_a_warehouse_without_stock_creates_the_level(stocked_product, warehouses, manager):
    result = stock_count(product=stocked_product, warehouse=warehouses[1], counted=4, actor=manager)

    assert result.on_hand == 4
    assert stock_discrepancies() == []


def test_count_below_reserved_is_refused(placed_order, stocked_product, warehouses, manager):
    # 10 on hand in HAM, 2 reserved for the order.
    with pytest.raises(DomainError) as exc:
        stock_count(product=stocked_product, warehouse=warehouses[0], counted=1, actor=manager)

    assert exc.value.field == "counted"
    assert "2 reserved for open orders" in exc.value.message
    assert level(stocked_product, warehouses[0]).on_hand == 10
    assert not StockMovement.objects.filter(kind=MovementKind.COUNT).exists()


def test_count_down_to_reserved_is_allowed(placed_order, stocked_product, warehouses, manager):
    result = stock_count(product=stocked_product, warehouse=warehouses[0], counted=2, actor=manager)

    assert (result.on_hand, result.reserved) == (2, 2)


def test_count_refuses_a_negative_number(stocked_product, warehouses, manager):
    with pytest.raises(DomainError) as exc:
        stock_count(product=stocked_product, warehouse=warehouses[0], counted=-1, actor=manager)

    assert exc.value.field == "counted"


def test_count_is_refused_when_stock_moved_since_the_preview(stocked_product, warehouses, manager):
    stock_receive(product=stocked_product, warehouse=warehouses[0], quantity=5, actor=manager)

    with pytest.raises(DomainError) as exc:
        stock_count(
            product=stocked_product,
            warehouse=warehouses[0],
            counted=9,
            actor=manager,
            expected_on_hand=10,
        )

    assert exc.value.code == "stale"
    assert "now holds 15, not 10" in exc.value.message
    assert level(stocked_product, warehouses[0]).on_hand == 15


def test_count_needs_a_stock_role(stocked_product, warehouses, service_agent):
    with pytest.raises(NotAllowed):
        stock_count(
            product=stocked_product, warehouse=warehouses[0], counted=9, actor=service_agent
        )


# ---------------------------------------------------------------- transfers


def test_transfer_moves_free_units_with_two_movements(stocked_product, warehouses, warehouse_user):
    ham, ber = warehouses

    src, dst = stock_transfer(
        product=stocked_product,
        source=ham,
        destination=ber,
        quantity=4,
        actor=warehouse_user,
        reference="TR-1",
    )

    assert (src.on_hand, dst.on_hand) == (6, 4)
    out, in_ = StockMovement.objects.filter(product=stocked_product, reference="TR-1").order_by(
        "id"
    )
    assert (out.kind, out.warehouse, out.on_hand_delta) == (MovementKind.TRANSFER_OUT, ham, -4)
    assert (in_.kind, in_.warehouse, in_.on_hand_delta) == (MovementKind.TRANSFER_IN, ber, 4)
    assert out.reason == "Transfer HAM → BER"
    assert stock_discrepancies() == []


def test_transfer_cannot_move_reserved_units(placed_order, stocked_product, warehouses, manager):
    ham, ber = warehouses  # HAM: 10 on hand, 2 reserved

    with pytest.raises(DomainError) as exc:
        stock_transfer(
            product=stocked_product, source=ham, destination=ber, quantity=9, actor=manager
        )

    assert exc.value.field == "quantity"
    assert "8 free to move" in exc.value.message
    assert "reserved units cannot be transferred" in exc.value.message
    assert level(stocked_product, ham).on_hand == 10
    assert not StockMovement.objects.filter(kind=MovementKind.TRANSFER_OUT).exists()

    src, dst = stock_transfer(
        product=stocked_product, source=ham, destination=ber, quantity=8, actor=manager
    )
    assert (src.on_hand, src.reserved, dst.on_hand) == (2, 2, 8)


def test_transfer_from_a_warehouse_without_stock_is_refused(stocked_product, warehouses, manager):
    with pytest.raises(DomainError) as exc:
        stock_transfer(
            product=stocked_product,
            source=warehouses[1],
            destination=warehouses[0],
            quantity=1,
            actor=manager,
        )

    assert "BER has 0 free to move" in exc.value.message


@pytest.mark.parametrize(
    ("quantity", "same", "field"), [(0, False, "quantity"), (2, True, "destination")]
)
def test_transfer_validates_quantity_and_warehouses(
    stocked_product, warehouses, manager, quantity, same, field
):
    destination = warehouses[0] if same else warehouses[1]

    with pytest.raises(DomainError) as exc:
        stock_transfer(
            product=stocked_product,
            source=warehouses[0],
            destination=destination,
            quantity=quantity,
            actor=manager,
        )

    assert exc.value.field == field


def test_transfer_needs_a_stock_role(stocked_product, warehouses, finance_user):
    with pytest.raises(NotAllowed):
        stock_transfer(
            product=stocked_product,
            source=warehouses[0],
            destination=warehouses[1],
            quantity=1,
            actor=finance_user,
        )


# ---------------------------------------------------------------- expected receipts


def test_expected_receipt_create(stocked_product, warehouses, warehouse_user):
    due = timezone.localdate() + timedelta(days=5)

    er = expected_receipt_create(
        product=stocked_product,
        warehouse=warehouses[0],
        quantity=20,
        expected_on=due,
        reference=" PO-77 ",
        actor=warehouse_user,
    )

    assert (er.status, er.quantity, er.quantity_received, er.quantity_open) == ("open", 20, 0, 20)
    assert er.reference == "PO-77"
    assert er.created_by == warehouse_user


def test_expected_receipt_create_reports_every_error(stocked_product, warehouses, manager):
    with pytest.raises(ValidationFailed) as exc:
        expected_receipt_create(
            product=stocked_product,
            warehouse=warehouses[0],
            quantity=0,
            expected_on=timezone.localdate() - timedelta(days=1),
            actor=manager,
        )

    assert set(exc.value.errors) == {"quantity", "expected_on"}
    assert "in the past" in exc.value.errors["expected_on"][0]
    assert not ExpectedReceipt.objects.exists()


def test_expected_receipt_needs_a_stock_role(stocked_product, warehouses, service_agent):
    with pytest.raises(NotAllowed):
        expected_receipt_create(
            product=stocked_product,
            warehouse=warehouses[0],
            quantity=5,
            expected_on=timezone.localdate(),
            actor=service_agent,
        )


@pytest.fixture
def expected(stocked_product, warehouses, manager):
    return expected_receipt_create(
        product=stocked_product,
        warehouse=warehouses[0],
        quantity=10,
        expected_on=timezone.localdate() + timedelta(days=3),
        reference="PO-9",
        actor=manager,
    )


def test_mark_received_counts_partial_deliveries_then_closes(expected):
    er = expected_receipt_mark_received(expected_receipt=expected, quantity=4)
    assert (er.quantity_received, er.status) == (4, "open")

    er = expected_receipt_mark_received(expected_receipt=expected, quantity=6)
    assert (er.quantity_received, er.status) == (10, "received")


def test_mark_received_closes_on_a_larger_delivery(expected):
    er = expected_receipt_mark_received(expected_receipt=expected, quantity=12)

    assert (er.quantity_received, er.status) == (10, "received")


def test_mark_received_refuses_a_closed_receipt(expected, manager):
    expected_receipt_cancel(expected_receipt=expected, actor=manager)

    with pytest.raises(DomainError) as exc:
        expected_receipt_mark_received(expected_receipt=expected, quantity=1)

    assert exc.value.field == "expected_receipt"
    assert "already cancelled" in exc.value.message


def test_cancel_closes_an_open_receipt_once(expected, manager):
    er = expected_receipt_cancel(expected_receipt=expected, actor=manager)
    assert er.status == "cancelled"

    with pytest.raises(DomainError):
        expected_receipt_cancel(expected_receipt=expected, actor=manager)


def test_cancel_needs_a_stock_role(expected, finance_user):
    with pytest.raises(NotAllowed):
        expected_receipt_cancel(expected_receipt=expected, actor=finance_user)
    expected.refresh_from_db()
    assert expected.status == "open"


def test_expected_receipt_for_another_product_does_not_mix(expected, warehouses, manager):
    other = ProductFactory(sku="OTHER")
    er = expected_receipt_create(
        product=other,
        warehouse=warehouses[1],
        quantity=3,
        expected_on=timezone.localdate(),
        actor=manager,
    )

    expected_receipt_mark_received(expected_receipt=er, quantity=3)

    expected.refresh_from_db()
    assert expected.quantity_received == 0
