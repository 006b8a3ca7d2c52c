"""``manage.py check_stock``: levels equal the ledger and the reservations, or exit 1."""

from io import StringIO

from django.core.management import call_command

from inventory.models import Reservation, StockLevel
from inventory.services import stock_count, stock_transfer


def run_check() -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("check_stock", stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def test_clean_stock_prints_ok_and_exits_zero(placed_order, stocked_product, warehouses, manager):
    stock_transfer(
        product=stocked_product,
        source=warehouses[0],
        destination=warehouses[1],
        quantity=3,
        actor=manager,
    )
    stock_count(product=stocked_product, warehouse=warehouses[1], counted=2, actor=manager)

    code, out = run_check()

    assert code == 0
    assert out.startswith("OK: 2 stock level(s) equal the ledger and their reservations.")


def test_empty_database_is_ok(db):
    assert run_check() == (0, "OK: 0 stock level(s) equal the ledger and their reservations.\n")


def test_a_level_that_differs_from_the_ledger_exits_one(stocked_product, warehouses):
    StockLevel.objects.filter(product=stocked_product, warehouse=warehouses[0]).update(on_hand=12)

    code, out = run_check()

    assert code == 1
    assert "TEE-BLK-M @ HAM: on hand 12, ledger says 10 (difference +2)" in out
    assert "1 level(s) differ from the ledger, 0 from their reservations" in out


def test_reserved_units_without_reservation_exit_one(placed_order, stocked_product, warehouses):
    Reservation.objects.filter(product=stocked_product).update(quantity=1)

    code, out = run_check()

    assert code == 1
    assert "TEE-BLK-M @ HAM: reserved 2, reservations hold 1 (difference +1)" in out
    assert "0 level(s) differ from the ledger, 1 from their reservations" in out


def test_reserved_that_differs_from_the_ledger_is_reported(
    placed_order, stocked_product, warehouses
):
    StockLevel.objects.filter(product=stocked_product, warehouse=warehouses[0]).update(reserved=3)

    code, out = run_check()

    assert code == 1
    assert "TEE-BLK-M @ HAM: reserved 3, ledger says 2 (difference +1)" in out
    assert "TEE-BLK-M @ HAM: reserved 3, reservations hold 2 (difference +1)" in out
