"""A placement costs a fixed number of SQL statements, whatever the number of lines.

The budget (issue B, "Tests and figures"): at most 10 statements for one placement. We count
every statement ``order_place`` sends, savepoints included (each is a round trip), except the
outermost transaction itself: pytest-django runs the test inside a transaction, so the
service's own ``atomic`` shows up here as ``SAVEPOINT`` ... ``RELEASE SAVEPOINT``, which in
production is ``BEGIN`` ... ``COMMIT``. That one pair is left out, nothing else.

The common case is measured: a returning customer (last order yesterday) shipping to an
address already in their address book, what a web shop or marketplace sends over and over.
A first order of a new customer may add the two rows that did not exist yet (the customer
and the address).

When it fails, the message lists every statement, numbered, so the cost is visible.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import roles
from inventory.services import stock_receive
from orders.models import Order
from orders.services import LineInput, order_place
from tests.conftest import ADDRESS
from tests.factories import ChannelFactory, ProductFactory, UserFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

MAX_STATEMENTS = 10
# PostgreSQL does more per statement (the stock, its reservations and its ledger rows in one;
# the next order number inside the customer lookup): there the budget is what it costs today.
MAX_STATEMENTS_POSTGRESQL = 7
NEW_ROWS_OF_A_FIRST_ORDER = 2  # the customer and the address-book entry
RETURNING = ["ada@example.com", "ada.again@example.com"]


@pytest.fixture
def shop():
    manager = UserFactory(username="bench-manager", roles=[roles.MANAGER])
    ham = WarehouseFactory(code="HAM", priority=1)
    ber = WarehouseFactory(code="BER", priority=2)
    products = [ProductFactory(sku=f"Q-{i:02d}", price=Decimal("12.50")) for i in range(10)]
    for p in products:
        stock_receive(product=p, warehouse=ham, quantity=1000, actor=manager, reference="PO-1")
        stock_receive(product=p, warehouse=ber, quantity=1000, actor=manager, reference="PO-1")
    channel = ChannelFactory(slug="web", name="Web shop", kind="web")
    # Returning customers: each ordered yesterday, to the same address.
    for email in RETURNING:
        order_place(
            channel=channel,
            email=email,
            name="Ada Lovelace",
            address=dict(ADDRESS),
            lines=[LineInput(products[0], 1)],
            actor=manager,
        )
    Order.objects.update(placed_at=timezone.now() - timedelta(days=1))
    return {"manager": manager, "products": products, "channel": channel}


def _statements(ctx: CaptureQueriesContext) -> list[str]:
    sqls = [q["sql"] for q in ctx.captured_queries]
    # Drop the test's stand-in for BEGIN/COMMIT: the outermost savepoint pair.
    if len(sqls) >= 2 and sqls[0].startswith("SAVEPOINT ") and sqls[-1] == "RELEASE " + sqls[0]:
        sqls = sqls[1:-1]
    return sqls


def _place(shop, n_lines: int, email: str = "ada@example.com") -> tuple[Order, list[str]]:
    lines = [LineInput(product=p, quantity=2) for p in shop["products"][:n_lines]]
    with CaptureQueriesContext(connection) as ctx:
        order = order_place(
            channel=shop["channel"],
            email=email,
            name="Ada Lovelace",
            address=dict(ADDRESS),
            lines=lines,
            actor=shop["manager"],
            source="api",
            shipping_method="standard",
            payment_method="card",
        )
    return order, _statements(ctx)


def _listing(sqls: list[str]) -> str:
    return "\n".join(f"{i:3d}. {sql[:300]}" for i, sql in enumerate(sqls, 1))


@pytest.mark.parametrize("n_lines", [1, 3, 10])
def test_placement_makes_at_most_ten_statements_whatever_the_number_of_lines(shop, n_lines):
    order, sqls = _place(shop, n_lines)

    print(f"\n--- order_place, {n_lines} line(s): {len(sqls)} statements ({connection.vendor})")
    print(_listing(sqls))
    assert order.lines.count() == n_lines
    budget = MAX_STATEMENTS_POSTGRESQL if connection.vendor == "postgresql" else MAX_STATEMENTS
    assert len(sqls) <= budget, (
        f"order_place with {n_lines} line(s) made {len(sqls)} SQL statements "
        f"(budget {budget}):\n{_listing(sqls)}"
    )


def test_statement_count_does_not_grow_with_the_lines(shop):
    _, one = _place(shop, 1, email=RETURNING[0])
    _, ten = _place(shop, 10, email=RETURNING[1])

    assert len(ten) == len(one), (
        f"1 line: {len(one)} statements, 10 lines: {len(ten)}. 10 lines:\n{_listing(ten)}"
    )


def test_first_order_of_a_new_customer_adds_only_the_customer_and_address_rows(shop):
    order, sqls = _place(shop, 3, email="grace@example.com")

    assert order.customer.email == "grace@example.com"
    assert len(sqls) <= MAX_STATEMENTS + NEW_ROWS_OF_A_FIRST_ORDER, (
        f"first order of a new customer made {len(sqls)} statements "
        f"(budget {MAX_STATEMENTS} + {NEW_ROWS_OF_A_FIRST_ORDER}):\n{_listing(sqls)}"
    )
