"""Issue B order lifecycle: backorders filled by receipts, substitutes, price overrides,
automatic holds, line cancellation and edits — through the real services."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import DomainError, NotAllowed, ValidationFailed
from inventory.models import Backorder, ExpectedReceipt, StockLevel
from inventory.selectors import stock_discrepancies
from inventory.services import stock_receive
from invoicing.services import payment_record
from orders.models import Notification
from orders.services import (
    LineChange,
    LineInput,
    order_edit,
    order_line_cancel,
    order_place,
    order_release,
    stock_receipt_record,
)
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


def place(channel, manager, address, lines, *, email="ada@example.com", **kwargs):
    return order_place(
        channel=channel,
        email=email,
        name="Ada",
        address=address,
        lines=lines,
        actor=manager,
        **kwargs,
    )


@pytest.fixture
def lamp(warehouses, manager):
    product = ProductFactory(
        sku="LAMP", name="Camping lamp", allow_backorder=True, price=Decimal("30.00")
    )
    stock_receive(product=product, warehouse=warehouses[0], quantity=2, actor=manager)
    return product


def test_backorderable_line_reserves_what_exists_and_waits_for_the_rest(
    channel, manager, address, lamp, warehouses
):
    ExpectedReceipt.objects.create(
        product=lamp,
        warehouse=warehouses[0],
        quantity=10,
        expected_on=timezone.localdate() + timedelta(days=5),
    )
    order = place(channel, manager, address, [LineInput(lamp, 5)])

    line = order.lines.get()
    assert (line.quantity_reserved, line.quantity_backordered) == (2, 3)
    assert order.fulfillment_status == "partially_reserved"
    assert Backorder.objects.get(demand_ref=f"order:{order.number}:1").quantity == 3
    event = order.events.get(type="backordered")
    assert "3 × Camping lamp (expected" in event.customer_message


def test_receipt_fills_backorders_oldest_order_first_and_tells_the_customer(
    channel, manager, address, lamp, warehouses
):
    first = place(
        channel, manager, address, [LineInput(lamp, 4)], email="first@example.com"
    )  # 2 waiting
    second = place(
        channel, manager, address, [LineInput(lamp, 3)], email="second@example.com"
    )  # 3 waiting

    stock_receipt_record(
        product=lamp, warehouse=warehouses[1], quantity=4, actor=manager, reference="PO-9"
    )

    first_line, second_line = first.lines.get(), second.lines.get()
    assert (first_line.quantity_reserved, first_line.quantity_backordered) == (4, 0)
    assert (second_line.quantity_reserved, second_line.quantity_backordered) == (2, 1)
    first.refresh_from_db()
    assert first.fulfillment_status == "reserved"
    filled = Notification.objects.get(order=first, kind="backorder_filled")
    assert filled.payload["complete"] is True
    assert (
        Notification.objects.get(order=second, kind="backorder_filled").payload["complete"] is False
    )
    assert first.events.filter(type="backorder_filled").exists()
    level = StockLevel.objects.get(product=lamp, warehouse=warehouses[1])
    assert (level.on_hand, level.reserved) == (4, 4)
    assert stock_discrepancies() == []


def test_short_line_that_cannot_wait_names_its_substitutes(
    channel, manager, address, stocked_product, warehouses
):
    other = ProductFactory(sku="TEE-BLK-L", name="Organic tee, black, L")
    stock_receive(product=other, warehouse=warehouses[0], quantity=7, actor=manager)
    stocked_product.substitutes.add(other)

    with pytest.raises(ValidationFailed) as err:
        place(channel, manager, address, [LineInput(stocked_product, 12)])

    assert err.value.errors["lines-0-quantity"] == [
        "Only 10 of TEE-BLK-M available; 12 requested. Substitutes: TEE-BLK-L (7 available)."
    ]


def test_only_a_manager_may_override_a_price(
    channel, manager, service_agent, address, stocked_product
):
    with pytest.raises(NotAllowed):
        order_place(
            channel=channel,
            email="a@example.com",
            name="A",
            address=address,
            lines=[LineInput(stocked_product, 1, unit_price=Decimal("20.00"))],
            actor=service_agent,
        )
    order = place(
        channel, manager, address, [LineInput(stocked_product, 1, unit_price=Decimal("20.00"))]
    )
    line = order.lines.get()
    assert (line.unit_price, line.list_price) == (Decimal("20.00"), Decimal("25.00"))


def test_probable_duplicate_is_held(channel, manager, address, stocked_product):
    first = place(channel, manager, address, [LineInput(stocked_product, 1)])
    second = place(channel, manager, address, [LineInput(stocked_product, 1)])
    assert first.status == "open"
    second.refresh_from_db()
    assert (second.status, second.hold_code) == ("on_hold", "duplicate")
    assert first.number in second.hold_reason


def test_order_above_the_threshold_waits_for_a_manager(
    channel, manager, service_agent, address, stocked_product, settings
):
    settings.HOLD_ORDERS_ABOVE = Decimal("100.00")
    order = place(channel, manager, address, [LineInput(stocked_product, 5)])
    order.refresh_from_db()
    assert (order.status, order.hold_code) == ("on_hold", "high_value")
    with pytest.raises(NotAllowed):
        order_release(order=order, actor=service_agent)
    order_release(order=order, actor=manager)
    assert order.status == "open"


def test_bank_transfer_order_is_held_until_paid(channel, manager, address, stocked_product):
    order = place(
        channel, manager, address, [LineInput(stocked_product, 1)], payment_method="bank_transfer"
    )
    order.refresh_from_db()
    assert order.hold_code == "payment"
    payment_record(order=order, amount=order.total, method="bank_transfer", actor=manager)
    order.refresh_from_db()
    assert (order.status, order.hold_code) == ("open", "")
    assert order.events.filter(type="released", source="system").exists()


def test_api_order_with_incomplete_address_is_kept_on_hold(channel, stocked_product, address):
    address["postal_code"] = ""
    order = order_place(
        channel=channel,
        email="api@example.com",
        name="Api",
        address=address,
        lines=[LineInput(stocked_product, 1)],
        actor=None,
        source="api",
    )
    order.refresh_from_db()
    assert (order.status, order.hold_code) == ("on_hold", "address")
    assert "postal code" in order.hold_reason


def test_cancelling_part_of_a_line_releases_stock_and_shrinks_the_total(
    placed_order, stocked_product, manager
):
    order = order_line_cancel(
        order=placed_order,
        line=placed_order.lines.get(),
        quantity=1,
        reason="Customer wants one",
        actor=manager,
    )
    line = order.lines.get()
    assert (line.quantity_cancelled, line.quantity_reserved) == (1, 1)
    assert order.total == Decimal("25.00") + Decimal("4.75") + Decimal("4.90")
    assert StockLevel.objects.get(product=stocked_product).reserved == 1
    assert Notification.objects.filter(order=order, kind="order_changed").exists()
    with pytest.raises(DomainError):
        order_line_cancel(order=order, line=line, quantity=2, reason="x", actor=manager)
    assert stock_discrepancies() == []


def test_cancelling_the_last_units_cancels_the_order(placed_order, stocked_product, manager):
    order = order_line_cancel(
        order=placed_order,
        line=placed_order.lines.get(),
        quantity=2,
        reason="Changed mind",
        actor=manager,
    )
    assert order.status == "cancelled"
    assert StockLevel.objects.get(product=stocked_product).reserved == 0


def test_edit_changes_quantities_adds_lines_and_address_and_re_reserves(
    placed_order, stocked_product, lamp, manager, address
):
    line = placed_order.lines.get()
    address["city"] = "Lübeck"
    order = order_edit(
        order=placed_order,
        actor=manager,
        address=address,
        shipping_method="express",
        lines=[
            LineChange(line_id=line.pk, product=None, quantity=3),
            LineChange(line_id=None, product=lamp, quantity=3),
        ],
    )

    assert StockLevel.objects.get(product=stocked_product).reserved == 3
    new = order.lines.get(sku="LAMP")
    assert (new.line_no, new.quantity_reserved, new.quantity_backordered) == (2, 2, 1)
    assert order.ship_city == "Lübeck"
    assert order.subtotal == Decimal("75.00") + Decimal("90.00")
    event = order.events.get(type="edited")
    assert "TEE" not in event.message or "2 → 3" in event.message
    assert "Camping lamp added (3)" in event.payload["changes"]
    assert Notification.objects.filter(order=order, kind="order_changed").count() == 1

    order_edit(
        order=order, actor=manager, lines=[LineChange(line_id=new.pk, product=None, quantity=0)]
    )
    new.refresh_from_db()
    assert (new.quantity_cancelled, new.quantity_reserved, new.quantity_backordered) == (3, 0, 0)
    assert not Backorder.objects.filter(quantity__gt=0).exists()
    assert stock_discrepancies() == []


def test_edit_refuses_what_is_not_in_stock_and_changes_nothing(
    placed_order, stocked_product, manager
):
    line = placed_order.lines.get()
    with pytest.raises(ValidationFailed) as err:
        order_edit(
            order=placed_order,
            actor=manager,
            lines=[LineChange(line_id=line.pk, product=None, quantity=20)],
        )
    assert "lines-0-quantity" in err.value.errors
    line.refresh_from_db()
    assert (line.quantity, line.quantity_reserved) == (2, 2)
    assert not placed_order.events.filter(type="edited").exists()


def test_warehouse_staff_cannot_edit_orders(placed_order, address):
    picker = UserFactory(username="p2", roles=["warehouse"])
    with pytest.raises(NotAllowed):
        order_edit(order=placed_order, actor=picker, shipping_method="express")


def test_cancelling_an_order_stops_its_backorder_waiting(
    channel, manager, address, lamp, warehouses
):
    order = place(channel, manager, address, [LineInput(lamp, 5)])
    from orders.services import order_cancel

    order_cancel(order=order, reason="Too long to wait", actor=manager)
    assert Backorder.objects.get(demand_ref=f"order:{order.number}:1").quantity == 0
    stock_receipt_record(product=lamp, warehouse=warehouses[0], quantity=3, actor=manager)
    assert StockLevel.objects.get(product=lamp, warehouse=warehouses[0]).reserved == 0


def test_confirmation_email_names_backordered_items_and_their_expected_date(
    channel, manager, address, lamp, warehouses
):
    from orders.emails import render_notification

    day = timezone.localdate() + timedelta(days=5)
    ExpectedReceipt.objects.create(
        product=lamp, warehouse=warehouses[0], quantity=10, expected_on=day
    )
    order = place(channel, manager, address, [LineInput(lamp, 5)])

    message = render_notification(Notification.objects.get(order=order, kind="order_confirmation"))
    expected = f"3 × Camping lamp (expected {day:%d %b})"
    assert expected in message.body
    assert expected in message.alternatives[0][0]
