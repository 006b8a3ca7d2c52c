"""Rate tables: zones by country and postal prefix, weight bands, and the choice of a service."""

import datetime
from decimal import Decimal

import pytest

from core.errors import DomainError
from fulfillment.choices import RateChoice
from fulfillment.models import (
    Carrier,
    CarrierService,
    Parcel,
    ShippingRate,
    ShippingZone,
    ShippingZoneArea,
)
from fulfillment.rates import (
    NoRateAvailable,
    rate_options,
    rate_select,
    shipment_weights,
    zone_for,
)
from tests.factories import ProductFactory

from ._shipping import packed_shipment, simulated_carrier

pytestmark = pytest.mark.django_db
FRIDAY = datetime.date(2026, 11, 27)


@pytest.fixture
def sim(db):
    return simulated_carrier()


@pytest.mark.parametrize(
    ("country", "postal", "zone"),
    [
        ("DE", "20457", "Hamburg harbour"),  # 204 beats 20 beats the whole country
        ("DE", "20095", "Hamburg"),
        ("DE", "10115", "Germany"),
        ("de", "204 57", "Hamburg harbour"),
        ("NL", "1012 AB", "Netherlands"),
    ],
)
def test_the_longest_matching_postal_prefix_picks_the_zone(sim, country, postal, zone):
    assert zone_for(carrier=sim, country=country, postal_code=postal).name == zone


def test_no_zone_for_a_country_the_carrier_does_not_serve(sim):
    assert zone_for(carrier=sim, country="FR", postal_code="75011") is None


def test_a_parcel_takes_the_lightest_band_that_holds_it(sim):
    light = rate_options(weights=[1000], country="DE", postal_code="10115", ship_date=FRIDAY)
    heavier = rate_options(weights=[1001], country="DE", postal_code="10115", ship_date=FRIDAY)
    assert [(o.service.code, o.price) for o in light] == [
        ("standard", Decimal("4.00")),
        ("express", Decimal("9.00")),
    ]
    assert [(o.service.code, o.price) for o in heavier] == [
        ("standard", Decimal("6.00")),
        ("express", Decimal("12.00")),
    ]


def test_delivery_date_counts_working_days_from_the_ship_date(sim):
    standard, express = rate_options(
        weights=[500], country="DE", postal_code="10115", ship_date=FRIDAY
    )
    assert (standard.transit_days, standard.delivery_date) == (
        2,
        datetime.date(2026, 12, 1),
    )  # Fri + 2 = Tue
    assert (express.transit_days, express.delivery_date) == (1, datetime.date(2026, 11, 30))  # Mon


def test_several_parcels_pay_each_band_and_arrive_with_the_slowest(sim):
    (option,) = list(
        rate_options(weights=[800, 3000], country="NL", postal_code="1012 AB", ship_date=FRIDAY)
    )
    assert option.parcel_prices == (Decimal("10.00"), Decimal("25.00"))
    assert option.price == Decimal("35.00")
    assert option.transit_days == 4


def test_cheapest_fastest_and_the_customers_choice(sim):
    options = rate_options(
        weights=[500],
        country="DE",
        postal_code="10115",
        ship_date=FRIDAY,
        shipping_method="Express",
    )
    assert rate_select(options, choice=RateChoice.CHEAPEST).service.code == "standard"
    assert rate_select(options, choice=RateChoice.FASTEST).service.code == "express"
    assert (
        rate_select(options, choice=RateChoice.CHOSEN, shipping_method="Express").service.code
        == "express"
    )
    assert (
        rate_select(options, choice=RateChoice.CHOSEN, shipping_method="").service.code
        == "standard"
    )
    assert next(o for o in options if o.service.code == "express").tags == (
        "Customer's choice",
        "Fastest",
    )
    assert next(o for o in options if o.service.code == "standard").tags == ("Cheapest",)


def test_a_named_service_is_taken_or_refused(sim):
    options = rate_options(weights=[500], country="DE", postal_code="10115", ship_date=FRIDAY)
    express = CarrierService.objects.get(carrier=sim, code="express")
    assert rate_select(options, service=express).service == express
    assert rate_select(options, service=str(express.pk)).service == express
    with pytest.raises(NoRateAvailable, match="choose another option"):
        rate_select(options, service=999999)


def test_a_chosen_method_nobody_serves_is_a_clear_error(sim):
    options = rate_options(
        weights=[500],
        country="DE",
        postal_code="10115",
        ship_date=FRIDAY,
        shipping_method="Overnight",
    )
    with pytest.raises(NoRateAvailable, match="The customer chose “Overnight” shipping"):
        rate_select(options, choice=RateChoice.CHOSEN, shipping_method="Overnight")


def test_no_service_for_the_destination(sim):
    with pytest.raises(NoRateAvailable) as exc:
        rate_options(weights=[500], country="FR", postal_code="75011")
    assert exc.value.message == (
        "No carrier service delivers to FR 75011: add a shipping zone and rates for it in the admin."
    )
    assert isinstance(exc.value, DomainError)


def test_no_service_takes_a_parcel_that_heavy(sim):
    with pytest.raises(NoRateAvailable) as exc:
        rate_options(weights=[500, 6000], country="DE", postal_code="10115")
    assert "No carrier service takes a 6 kg parcel to DE 10115" in exc.value.message
    assert "the heaviest band is 5 kg" in exc.value.message


def test_inactive_services_carriers_and_other_adapters_are_left_out(sim):
    CarrierService.objects.filter(carrier=sim, code="express").update(active=False)
    manual = Carrier.objects.create(code="van", name="Own van", adapter="manual")
    service = CarrierService.objects.create(carrier=manual, code="van", name="Van")
    zone = ShippingZone.objects.create(carrier=manual, name="All Germany")
    ShippingZoneArea.objects.create(zone=zone, country="DE")
    ShippingRate.objects.create(
        service=service, zone=zone, max_weight_grams=5000, price=Decimal("1.00"), transit_days=1
    )

    every = rate_options(weights=[500], country="DE", postal_code="10115")
    assert [o.service.code for o in every] == ["van", "standard"]
    labels = rate_options(weights=[500], country="DE", postal_code="10115", adapters={"simulated"})
    assert [o.service.code for o in labels] == ["standard"]
    Carrier.objects.filter(pk=sim.pk).update(active=False)
    with pytest.raises(NoRateAvailable):
        rate_options(weights=[500], country="DE", postal_code="10115", adapters={"simulated"})


def test_shipment_weight_comes_from_parcels_else_from_the_products(
    sim, channel, manager, warehouses, address
):
    from inventory.services import stock_receive

    boots = ProductFactory(sku="BOOT-42", weight_grams=1400)
    stock_receive(product=boots, warehouse=warehouses[0], quantity=5, actor=manager)
    shipment = packed_shipment(
        channel=channel, product=boots, actor=manager, address=address, quantity=2
    )
    assert shipment_weights(shipment) == [2800]
    Parcel.objects.create(shipment=shipment, number=1, weight_grams=1500)
    Parcel.objects.create(shipment=shipment, number=2, weight_grams=1450)
    assert shipment_weights(shipment) == [1500, 1450]


def test_products_without_weight_still_get_the_lightest_band(
    sim, channel, manager, stocked_product, address
):
    stocked_product.weight_grams = 0
    stocked_product.save(update_fields=["weight_grams"])
    shipment = packed_shipment(
        channel=channel, product=stocked_product, actor=manager, address=address
    )
    assert shipment_weights(shipment) == [100]


def test_a_local_zone_for_one_service_does_not_hide_the_others(sim):
    options = rate_options(weights=[500], country="DE", postal_code="20457", ship_date=FRIDAY)
    assert [(o.service.code, o.zone.name, o.price) for o in options] == [
        ("standard", "Hamburg harbour", Decimal("2.50")),
        ("express", "Germany", Decimal("9.00")),
    ]
    express = CarrierService.objects.get(carrier=sim, code="express")
    assert (
        zone_for(carrier=sim, country="DE", postal_code="20457", service=express).name == "Germany"
    )
