"""The promised ship date: set at placement from the channel's cut-off time and the handling
days of the warehouse the stock comes from, counting working days only."""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from core.calendar import add_working_days, promised_ship_date
from inventory.models import Warehouse
from orders.services import LineInput, order_place

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Europe/Berlin")
CUTOFF = datetime.time(14, 0)


def at(day: str, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=TZ)


@pytest.mark.parametrize(
    ("placed", "handling", "expected"),
    [
        (at("2026-11-25", 9), 1, "2026-11-26"),  # Wednesday morning: Thursday
        (at("2026-11-25", 9), 0, "2026-11-25"),  # same-day handling before the cut-off
        (at("2026-11-25", 14), 0, "2026-11-26"),  # at the cut-off counts as after it
        (at("2026-11-25", 16), 1, "2026-11-27"),  # after the cut-off: from Thursday
        (at("2026-11-27", 16), 1, "2026-12-01"),  # Friday evening: Monday, then Tuesday
        (at("2026-11-28", 10), 0, "2026-11-30"),  # Saturday: the next working day
        (at("2026-11-29", 10), 2, "2026-12-02"),  # Sunday, two handling days
    ],
)
def test_promised_ship_date_counts_working_days_from_the_cutoff(
    settings, placed, handling, expected
):
    settings.TIME_ZONE = "Europe/Berlin"
    with timezone.override(TZ):
        assert promised_ship_date(placed_at=placed, cutoff=CUTOFF, handling_days=handling) == (
            datetime.date.fromisoformat(expected)
        )


def test_working_days_skip_weekends():
    friday = datetime.date(2026, 11, 27)
    assert add_working_days(friday, 1) == datetime.date(2026, 11, 30)
    assert add_working_days(friday, 5) == datetime.date(2026, 12, 4)
    assert add_working_days(datetime.date(2026, 11, 28), 0) == datetime.date(2026, 11, 30)


def test_placement_sets_the_promise_from_the_slowest_warehouse_it_takes_stock_from(
    channel, warehouses, stocked_product, manager, address
):
    from inventory.services import stock_receive

    Warehouse.objects.filter(pk=warehouses[1].pk).update(handling_days=3)
    stock_receive(
        product=stocked_product,
        warehouse=warehouses[1],
        quantity=5,
        actor=manager,
        reference="PO-2",
    )
    now = timezone.now()
    quick = order_place(
        channel=channel,
        email="a@example.com",
        name="A",
        address=address,
        lines=[LineInput(product=stocked_product, quantity=2)],
        actor=manager,
    )
    # 10 in Hamburg (1 handling day), 5 in Berlin (3): 12 units split across both.
    split = order_place(
        channel=channel,
        email="b@example.com",
        name="B",
        address=address,
        lines=[LineInput(product=stocked_product, quantity=12)],
        actor=manager,
        shipping_total=Decimal("0"),
    )
    expected_quick = promised_ship_date(placed_at=now, cutoff=channel.cutoff_time, handling_days=1)
    expected_split = promised_ship_date(placed_at=now, cutoff=channel.cutoff_time, handling_days=3)
    assert quick.promised_ship_date == expected_quick
    assert split.promised_ship_date == expected_split
    assert split.promised_ship_date > quick.promised_ship_date
