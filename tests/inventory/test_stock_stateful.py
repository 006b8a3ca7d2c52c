"""Stock under any sequence of operations: a Hypothesis state machine drives the real services
(reserve, release, ship, receive, adjust; place and cancel orders) in random order against a
plain Python model of the counts, and after every step checks that

- every level (on_hand, reserved per product and warehouse) equals the model,
- 0 <= reserved <= on_hand; the reservations and backorders of each demand, and each order
  line's reserved and backordered counts, equal the model,
- the ledger agrees with the levels (``stock_discrepancies() == []``),
- a service refuses exactly what the model says is impossible (overselling a product that
  may not be backordered, shipping or releasing more than is reserved, adjusting below what
  is reserved), and a refusal changes nothing.

Product C may be backordered: a short line reserves what exists and waits for the rest, and
a receipt (``orders.services.stock_receipt_record``) fills the waiting order lines oldest first
from the free stock of the warehouse it arrives in.

Each example runs inside a savepoint of the test's transaction that is rolled back at the
end, so examples start from the same empty shop.
"""

from collections import defaultdict

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.errors import DomainError, OutOfStock, ValidationFailed
from inventory.models import Backorder, Reservation, StockLevel
from inventory.selectors import stock_discrepancies
from inventory.services import (
    Demand,
    stock_adjust,
    stock_receive,
    stock_release,
    stock_reserve,
    stock_ship,
)
from orders.models import OrderLine, line_demand_ref
from orders.services import LineInput, order_cancel, order_place, stock_receipt_record
from tests.conftest import ADDRESS
from tests.factories import ChannelFactory, ProductFactory, UserFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

# Two warehouses (HAM ships first), three products of which C may be backordered; small
# quantities so that refusals (out of stock, more than reserved) and backorders happen often.
WAREHOUSES = ("HAM", "BER")
PRODUCTS = ("A", "B", "C")
BACKORDERABLE = {"C"}

products = st.sampled_from(PRODUCTS)
warehouses = st.sampled_from(WAREHOUSES)
quantities = st.integers(min_value=1, max_value=4)

# stock_release(quantity=n) on a demand that holds nothing returns 0 instead of refusing
# (it returns before comparing n with what is held). Reported to the lead; set to True once
# inventory.services.stock_release refuses it, and the model checks that too.
RELEASING_NOTHING_IS_REFUSED = True


class StockMachine(RuleBasedStateMachine):
    demands = Bundle("demands")  # reserved directly through inventory
    orders = Bundle("orders")  # placed through orders.services

    def __init__(self):
        super().__init__()
        # One savepoint per example, rolled back in teardown().
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.actor = UserFactory(username="stateful", is_superuser=True)
        self.channel = ChannelFactory()
        self.wh = {
            code: WarehouseFactory(code=code, name=code, priority=i + 1)
            for i, code in enumerate(WAREHOUSES)
        }
        self.code_of = {wh.pk: code for code, wh in self.wh.items()}
        self.product = {
            sku: ProductFactory(sku=f"ST-{sku}", allow_backorder=sku in BACKORDERABLE)
            for sku in PRODUCTS
        }
        self.sku_of = {p.pk: sku for sku, p in self.product.items()}
        # The model.
        self.on_hand: dict[tuple[str, str], int] = defaultdict(int)
        self.reserved: dict[tuple[str, str], int] = defaultdict(int)
        self.held: dict[str, dict[str, int]] = {}  # demand ref -> warehouse -> units held
        self.waiting: dict[str, int] = {}  # demand ref -> units backordered, in creation order
        self.demand_product: dict[str, str] = {}
        self.order_lines: dict[str, list[str]] = {}  # order number -> demand ref per line
        self.cancelled: set[str] = set()
        self.n = 0

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # ------------------------------------------------------------------ model helpers

    def available(self, sku: str, wh: str) -> int:
        return self.on_hand[(sku, wh)] - self.reserved[(sku, wh)]

    def next_ref(self) -> str:
        self.n += 1
        return f"demand:{self.n}"

    def snapshot(self):
        levels = {
            (self.sku_of[lv.product_id], self.code_of[lv.warehouse_id]): (lv.on_hand, lv.reserved)
            for lv in StockLevel.objects.all()
        }
        held = sorted(Reservation.objects.values_list("demand_ref", "warehouse_id", "quantity"))
        waiting = sorted(Backorder.objects.values_list("demand_ref", "quantity"))
        lines = sorted(
            OrderLine.objects.values_list("pk", "quantity_reserved", "quantity_backordered")
        )
        return levels, held, waiting, lines

    def expect_refused(self, exc_type, call):
        """The call must raise ``exc_type`` and change nothing."""
        event(f"{call.__qualname__.split('.')[1]}: refused")
        before = self.snapshot()
        with pytest.raises(exc_type) as err:
            call()
        assert self.snapshot() == before
        return err.value

    def predict(self, need: dict[str, int]) -> tuple[str | None, set[str], dict[str, int]]:
        """(warehouse that ships everything complete or None, SKUs that make the request
        fail, units each backorderable SKU will wait for)."""
        for wh in WAREHOUSES:  # in priority order
            if all(self.available(sku, wh) >= qty for sku, qty in need.items()):
                return wh, set(), {}
        total = {sku: sum(self.available(sku, wh) for wh in WAREHOUSES) for sku in need}
        short = {sku for sku, qty in need.items() if total[sku] < qty and sku not in BACKORDERABLE}
        waits = {
            sku: qty - total[sku]
            for sku, qty in need.items()
            if total[sku] < qty and sku in BACKORDERABLE
        }
        return None, short, waits

    def apply_reservations(
        self, refs: dict[str, tuple[str, int]], complete_from: str | None, waits: dict[str, int]
    ) -> None:
        """Read what the service reserved for ``refs`` (ref -> (sku, qty)), check it against
        the allocation rules and the model's availability, and add it to the model."""
        rows = defaultdict(dict)
        for ref, wh_id, qty in Reservation.objects.filter(demand_ref__in=list(refs)).values_list(
            "demand_ref", "warehouse_id", "quantity"
        ):
            rows[ref][self.code_of[wh_id]] = qty
        taken = defaultdict(int)
        for ref, (sku, qty) in refs.items():
            got = rows[ref]
            assert sum(got.values()) == qty - waits.get(sku, 0), (ref, got, qty, waits)
            if complete_from is not None:
                assert set(got) == {complete_from}, (
                    f"should ship complete from {complete_from}: {got}"
                )
            for wh, q in got.items():
                taken[(sku, wh)] += q
        for (sku, wh), q in taken.items():
            assert q <= self.available(sku, wh), (
                f"oversold {sku}@{wh}: took {q}, {self.available(sku, wh)} available"
            )
        for ref, (sku, _) in refs.items():
            self.demand_product[ref] = sku
            self.held[ref] = dict(rows[ref])
            for wh, q in rows[ref].items():
                self.reserved[(sku, wh)] += q
            if waits.get(sku):
                self.waiting[ref] = waits[sku]

    def release_in_model(self, ref: str, quantity: int | None) -> int:
        """Lowest-priority warehouse gives back first."""
        sku = self.demand_product[ref]
        todo = sum(self.held[ref].values()) if quantity is None else quantity
        released = 0
        for wh in reversed(WAREHOUSES):
            take = min(todo, self.held[ref].get(wh, 0))
            if take:
                self.held[ref][wh] -= take
                self.reserved[(sku, wh)] -= take
                todo -= take
                released += take
        return released

    def fill_in_model(self, sku: str, wh: str) -> None:
        """A receipt in ``wh`` gives that warehouse's free stock to the order lines waiting
        for ``sku``, oldest first (direct reservations are not order lines: not filled)."""
        for ref, waiting in self.waiting.items():  # dicts keep creation order
            free = self.available(sku, wh)
            if free == 0:
                return
            if self.demand_product[ref] != sku or not waiting or not ref.startswith("order:"):
                continue
            take = min(free, waiting)
            self.waiting[ref] -= take
            self.held[ref][wh] = self.held[ref].get(wh, 0) + take
            self.reserved[(sku, wh)] += take

    # ------------------------------------------------------------------ inventory rules

    @initialize(stock=st.lists(st.integers(min_value=0, max_value=8), min_size=6, max_size=6))
    def opening_stock(self, stock):
        keys = [(sku, wh) for sku in PRODUCTS for wh in WAREHOUSES]
        for (sku, wh), qty in zip(keys, stock, strict=True):
            if qty:
                stock_receive(
                    product=self.product[sku],
                    warehouse=self.wh[wh],
                    quantity=qty,
                    actor=self.actor,
                    reference="OPENING",
                )
                self.on_hand[(sku, wh)] += qty

    @rule(sku=products, wh=warehouses, qty=st.sampled_from([1, 2, 3, 5, 8, 0]))
    def receive(self, sku, wh, qty):
        def call():
            return stock_receipt_record(
                product=self.product[sku],
                warehouse=self.wh[wh],
                quantity=qty,
                actor=self.actor,
                reference="PO",
            )

        if qty <= 0:
            err = self.expect_refused(DomainError, call)
            assert err.field == "quantity"
            return
        level = call()
        filling = any(
            q and self.demand_product[r] == sku and r.startswith("order:")
            for r, q in self.waiting.items()
        )
        event("receive: fills backorders" if filling else "receive: ok")
        self.on_hand[(sku, wh)] += qty
        assert level.on_hand == self.on_hand[(sku, wh)]
        self.fill_in_model(sku, wh)

    @rule(
        sku=products,
        wh=warehouses,
        delta=st.integers(min_value=-6, max_value=6).filter(bool),
        reason=st.sampled_from(["cycle count", "damaged in transit", " "]),
    )
    def adjust(self, sku, wh, delta, reason):
        def call():
            return stock_adjust(
                product=self.product[sku],
                warehouse=self.wh[wh],
                delta=delta,
                reason=reason,
                actor=self.actor,
            )

        if not reason.strip():
            err = self.expect_refused(DomainError, call)
            assert err.field == "reason"
        elif self.on_hand[(sku, wh)] + delta < self.reserved[(sku, wh)]:
            err = self.expect_refused(DomainError, call)
            assert err.field == "delta"
        else:
            call()
            event("adjust: ok")
            self.on_hand[(sku, wh)] += delta

    @rule(target=demands, lines=st.dictionaries(products, quantities, min_size=1, max_size=2))
    def reserve(self, lines):
        refs = {self.next_ref(): (sku, qty) for sku, qty in lines.items()}
        demands = [
            Demand(
                ref, self.product[sku].pk, qty, f"ST-{sku}", allow_backorder=sku in BACKORDERABLE
            )
            for ref, (sku, qty) in refs.items()
        ]
        complete_from, short, waits = self.predict(dict(lines))

        def call():
            return stock_reserve(demands=demands, actor=self.actor, reference="R")

        if short:
            err = self.expect_refused(OutOfStock, call)
            assert {s["sku"] for s in err.shortages} == {f"ST-{sku}" for sku in short}
            return multiple()
        plan = call()
        event("reserve: backorders" if waits else "reserve: ok")
        assert {ref: q for ref, q in plan.backordered.items() if q} == {
            ref: waits[sku] for ref, (sku, _) in refs.items() if waits.get(sku)
        }
        self.apply_reservations(refs, complete_from, waits)
        return multiple(*refs)

    @rule(ref=demands, data=st.data())
    def release(self, ref, data):
        held = sum(self.held[ref].values())
        quantity = data.draw(
            st.none() | st.integers(min_value=1, max_value=held + 1), label="quantity"
        )

        def call():
            return stock_release(demand_ref=ref, quantity=quantity, actor=self.actor, reference="R")

        if quantity is not None and quantity > held and (held or RELEASING_NOTHING_IS_REFUSED):
            err = self.expect_refused(DomainError, call)
            assert err.field == "quantity"
        else:
            event("release: ok" if held else "release: nothing held")
            assert call() == self.release_in_model(ref, quantity)

    @rule(ref=demands, data=st.data())
    def ship(self, ref, data):
        sku = self.demand_product[ref]
        holding = [wh for wh in WAREHOUSES if self.held[ref].get(wh)]
        wh = data.draw(
            st.sampled_from(holding) | warehouses if holding else warehouses, label="warehouse"
        )
        qty = data.draw(
            st.integers(min_value=1, max_value=self.held[ref].get(wh, 0) + 1), label="quantity"
        )

        def call():
            return stock_ship(
                demand_ref=ref,
                warehouse_id=self.wh[wh].pk,
                quantity=qty,
                actor=self.actor,
                reference="S",
            )

        if qty > self.held[ref].get(wh, 0):
            self.expect_refused(DomainError, call)
        else:
            call()
            event("ship: ok")
            self.held[ref][wh] -= qty
            self.reserved[(sku, wh)] -= qty
            self.on_hand[(sku, wh)] -= qty

    # ------------------------------------------------------------------ order rules

    @rule(target=orders, lines=st.dictionaries(products, quantities, min_size=1, max_size=3))
    def place_order(self, lines):
        return self._place(lines)

    @rule(
        target=orders,
        big=st.integers(min_value=3, max_value=12),
        other=st.dictionaries(st.sampled_from(["A", "B"]), quantities, max_size=1),
    )
    def place_order_beyond_stock_of_c(self, big, other):
        """Mostly more C than is in stock: the line waits for the rest."""
        return self._place({"C": big, **other})

    def _place(self, lines):
        skus = list(lines)
        complete_from, short, waits = self.predict(dict(lines))

        def call():
            return order_place(
                channel=self.channel,
                email="stateful@example.com",
                name="Stateful",
                address=dict(ADDRESS),
                lines=[LineInput(self.product[sku], qty) for sku, qty in lines.items()],
                actor=self.actor,
            )

        if short:
            err = self.expect_refused(ValidationFailed, call)
            assert set(err.errors) == {f"lines-{skus.index(sku)}-quantity" for sku in short}
            return multiple()
        order = call()
        event("place_order: backorders" if waits else "place_order: ok")
        refs = {
            line_demand_ref(order.number, i + 1): (sku, lines[sku]) for i, sku in enumerate(skus)
        }
        self.apply_reservations(refs, complete_from, waits)
        self.order_lines[order.number] = list(refs)
        return order

    @rule(order=orders)
    def cancel_order(self, order):
        def call():
            return order_cancel(order=order, reason="customer changed their mind", actor=self.actor)

        if order.number in self.cancelled:
            self.expect_refused(DomainError, call)
            return
        call()
        event("cancel_order: ok")
        self.cancelled.add(order.number)
        for ref in self.order_lines[order.number]:
            self.release_in_model(ref, None)
            if ref in self.waiting:
                self.waiting[ref] = 0

    @precondition(lambda self: self.order_lines)
    @rule(order=consumes(orders))
    def forget_order(self, order):
        """Keeps the orders bundle small so cancels hit both open and cancelled orders."""

    # ------------------------------------------------------------------ invariants

    @invariant()
    def levels_equal_the_model(self):
        levels, *_ = self.snapshot()
        for sku in PRODUCTS:
            for wh in WAREHOUSES:
                on_hand, reserved = levels.get((sku, wh), (0, 0))
                assert (on_hand, reserved) == (self.on_hand[(sku, wh)], self.reserved[(sku, wh)]), (
                    sku,
                    wh,
                )
                assert 0 <= reserved <= on_hand

    @invariant()
    def reservations_and_backorders_equal_the_model(self):
        held = defaultdict(dict)
        for ref, wh_id, qty in Reservation.objects.filter(quantity__gt=0).values_list(
            "demand_ref", "warehouse_id", "quantity"
        ):
            held[ref][self.code_of[wh_id]] = qty
        expected = {
            ref: {wh: q for wh, q in by_wh.items() if q} for ref, by_wh in self.held.items()
        }
        assert dict(held) == {ref: by_wh for ref, by_wh in expected.items() if by_wh}
        waiting = dict(
            Backorder.objects.filter(quantity__gt=0).values_list("demand_ref", "quantity")
        )
        assert waiting == {ref: q for ref, q in self.waiting.items() if q}

    @invariant()
    def ledger_agrees_with_levels(self):
        assert stock_discrepancies() == []

    @invariant()
    def order_lines_count_what_is_reserved_and_waiting(self):
        if not self.order_lines:
            return
        counts = {
            line_demand_ref(number, line_no): (reserved, backordered)
            for number, line_no, reserved, backordered in OrderLine.objects.values_list(
                "order__number", "line_no", "quantity_reserved", "quantity_backordered"
            )
        }
        for refs in self.order_lines.values():
            for ref in refs:
                assert counts[ref] == (sum(self.held[ref].values()), self.waiting.get(ref, 0)), ref


def test_stock_follows_the_model_under_any_sequence_of_operations():
    run_state_machine_as_test(
        StockMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            database=None,  # no .hypothesis/ directory in the repository
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
