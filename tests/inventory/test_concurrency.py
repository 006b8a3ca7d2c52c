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
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL (CI runs it)"),
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
        return order_place(channel=channel, email=f"racer{i}@example.com", name=f"Racer {i}",
                           address=ADDRESS, lines=[LineInput(product, 1)], actor=manager).number

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
        order_place(channel=channel, email=f"seed{i}@example.com", name="Seed", address=ADDRESS,
                    lines=[LineInput(a, 2), LineInput(b, 2)], actor=manager)
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
            return stock_receive(product=a if i % 8 == 3 else b, warehouse=ber, quantity=1, actor=manager).pk
        return order_place(channel=channel, email=f"mix{i}@example.com", name="Mix", address=ADDRESS,
                           lines=lines, actor=manager).number

    _, errors = run_threads(16, act)

    assert not [e for e in errors if not isinstance(e, ValidationFailed)], errors
    assert stock_discrepancies() == []
    for level in StockLevel.objects.all():
        assert 0 <= level.reserved <= level.on_hand
