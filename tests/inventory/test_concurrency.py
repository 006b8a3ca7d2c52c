"""Real races on PostgreSQL: threads with their own connections, committed transactions."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from core.errors import ValidationFailed
from inventory.models import StockLevel
from inventory.selectors import stock_discrepancies
from inventory.services import stock_receive
from orders.models import Order
from orders.services import LineInput, order_cancel, order_place
from tests.conftest import ADDRESS
from tests.factories import ChannelFactory, ProductFactory, UserFactory, WarehouseFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks need PostgreSQL (CI runs it)"
    ),
]


def run_threads(n, target):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def worker(i):
        try:
            barrier.wait(timeout=10)
            results.append(target(i))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return results, errors


def test_sixteen_clients_race_for_the_last_ten_units():
    manager = UserFactory(username="racer", is_superuser=True)
    channel = ChannelFactory()
    ham = WarehouseFactory(code="HAM", priority=1)
    product = ProductFactory(sku="HOT-1", price=Decimal("10.00"))
    stock_receive(product=product, warehouse=ham, quantity=10, actor=manager)

    def place(i):
        return order_place(
            channel=channel,
            email=f"racer{i}@example.com",
            name=f"Racer {i}",
            address=ADDRESS,
            lines=[LineInput(product, 1)],
            actor=manager,
        ).number

    placed, errors = run_threads(16, place)

    assert len(placed) == 10
    assert len(errors) == 6
    assert all(isinstance(e, ValidationFailed) for e in errors), errors
    assert all("Only 0 of HOT-1 available" in e.errors["lines-0-quantity"][0] for e in errors)
    level = StockLevel.objects.get(product=product)
    assert (level.on_hand, level.reserved) == (10, 10)
    assert Order.objects.count() == 10
    assert stock_discrepancies() == []


def test_opposite_line_order_does_not_deadlock_and_ledger_stays_exact():
    """Half the clients order A then B, half B then A, while others cancel and receive."""
    manager = UserFactory(username="mixer", is_superuser=True)
    channel = ChannelFactory()
    ham = WarehouseFactory(code="HAM", priority=1)
    ber = WarehouseFactory(code="BER", priority=2)
    a = ProductFactory(sku="A-1")
    b = ProductFactory(sku="B-1")
    for p in (a, b):
        stock_receive(product=p, warehouse=ham, quantity=20, actor=manager)
        stock_receive(product=p, warehouse=ber, quantity=20, actor=manager)
    seed = [
        order_place(
            channel=channel,
            email=f"seed{i}@example.com",
            name="Seed",
            address=ADDRESS,
            lines=[LineInput(a, 2), LineInput(b, 2)],
            actor=manager,
        )
        for i in range(4)
    ]

    def act(i):
        kind = i % 4
        if kind == 0:
            lines = [LineInput(a, 3), LineInput(b, 2)]
        elif kind == 1:
            lines = [LineInput(b, 3), LineInput(a, 2)]
        elif kind == 2:
            return order_cancel(order=seed[i // 4], reason="race", actor=manager).number
        else:
            return stock_receive(
                product=a if i % 8 == 3 else b, warehouse=ber, quantity=1, actor=manager
            ).pk
        return order_place(
            channel=channel,
            email=f"mix{i}@example.com",
            name="Mix",
            address=ADDRESS,
            lines=lines,
            actor=manager,
        ).number

    _, errors = run_threads(16, act)

    assert not [e for e in errors if not isinstance(e, ValidationFailed)], errors
    assert stock_discrepancies() == []
    for level in StockLevel.objects.all():
        assert 0 <= level.reserved <= level.on_hand


def test_receipts_filling_backorders_race_cancels_and_placements_without_deadlock():
    from inventory.models import Backorder, Reservation
    from orders.models import OrderLine
    from orders.services import order_line_cancel, stock_receipt_record

    manager = UserFactory(username="bo", is_superuser=True)
    channel = ChannelFactory()
    ham = WarehouseFactory(code="HAM", priority=1)
    ber = WarehouseFactory(code="BER", priority=2)
    lamp = ProductFactory(sku="LAMP-BO", allow_backorder=True)
    stock_receive(product=lamp, warehouse=ham, quantity=4, actor=manager)
    waiting = [
        order_place(
            channel=channel,
            email=f"bo{i}@example.com",
            name="Bo",
            address=ADDRESS,
            lines=[LineInput(lamp, 3)],
            actor=manager,
        )
        for i in range(6)
    ]

    def act(i):
        kind = i % 4
        if kind == 0:
            return stock_receipt_record(
                product=lamp,
                warehouse=ber if i % 8 else ham,
                quantity=2,
                actor=manager,
                reference=f"PO-{i}",
            ).pk
        if kind == 1:
            return order_cancel(order=waiting[i // 4], reason="race", actor=manager).number
        if kind == 2:
            order = waiting[3 + i // 8]
            return order_line_cancel(
                order=order, line=order.lines.get(), quantity=1, reason="race", actor=manager
            ).number
        return order_place(
            channel=channel,
            email=f"new{i}@example.com",
            name="New",
            address=ADDRESS,
            lines=[LineInput(lamp, 2)],
            actor=manager,
        ).number

    _, errors = run_threads(16, act)

    from core.errors import DomainError

    assert not [e for e in errors if not isinstance(e, DomainError)], errors
    assert stock_discrepancies() == []
    for level in StockLevel.objects.all():
        held = sum(
            Reservation.objects.filter(
                product=level.product, warehouse=level.warehouse
            ).values_list("quantity", flat=True)
        )
        assert held == level.reserved
    for line in OrderLine.objects.filter(product=lamp):
        ref = f"order:{line.order.number}:{line.line_no}"
        assert (
            sum(Reservation.objects.filter(demand_ref=ref).values_list("quantity", flat=True))
            == line.quantity_reserved
        )
        waiting_units = (
            Backorder.objects.filter(demand_ref=ref).values_list("quantity", flat=True).first() or 0
        )
        assert waiting_units == line.quantity_backordered
