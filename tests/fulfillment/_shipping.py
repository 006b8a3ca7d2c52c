"""Shared set-up of the shipping tests: a simulated carrier with a small, exact rate table."""

import itertools
from decimal import Decimal

from fulfillment.models import Carrier, CarrierService, ShippingRate, ShippingZone, ShippingZoneArea
from fulfillment.services import shipment_confirm_packed, shipment_confirm_picked, shipments_create
from orders.services import LineInput, order_place

# zone: areas, {service: [(max grams, price, transit days)]}
TABLE = {
    "Germany": (
        [("DE", "")],
        {
            "standard": [(1000, "4.00", 2), (5000, "6.00", 2)],
            "express": [(1000, "9.00", 1), (5000, "12.00", 1)],
        },
    ),
    "Hamburg": ([("DE", "20")], {"standard": [(1000, "3.00", 1), (5000, "5.00", 1)]}),
    "Hamburg harbour": ([("DE", "204")], {"standard": [(1000, "2.50", 1), (5000, "4.50", 1)]}),
    "Netherlands": ([("NL", "")], {"standard": [(1000, "10.00", 3), (31500, "25.00", 4)]}),
}


def simulated_carrier(code="sim", name="Orderline Post") -> Carrier:
    carrier = Carrier.objects.create(
        code=code,
        name=name,
        adapter="simulated",
        tracking_url_template="https://track.example.com/{tracking}",
    )
    services = {
        "standard": CarrierService.objects.create(
            carrier=carrier, code="standard", name="Standard", shipping_method="standard"
        ),
        "express": CarrierService.objects.create(
            carrier=carrier, code="express", name="Express", shipping_method="express"
        ),
    }
    for zone_name, (areas, bands) in TABLE.items():
        zone = ShippingZone.objects.create(carrier=carrier, name=zone_name)
        for country, prefix in areas:
            ShippingZoneArea.objects.create(zone=zone, country=country, postal_prefix=prefix)
        for service, rows in bands.items():
            for grams, price, days in rows:
                ShippingRate.objects.create(
                    service=services[service],
                    zone=zone,
                    max_weight_grams=grams,
                    price=Decimal(price),
                    transit_days=days,
                )
    return carrier


EMAILS = itertools.count(1)


def packed_shipment(*, channel, product, actor, address, quantity=1, shipping_method="standard"):
    order = order_place(
        channel=channel,
        email=f"ship{next(EMAILS)}@example.com",
        name=address.get("name") or "Ada",
        address=address,
        lines=[LineInput(product=product, quantity=quantity)],
        actor=actor,
        shipping_method=shipping_method,
        shipping_total=Decimal("4.90"),
    )
    shipment = shipments_create(order=order, actor=actor)[0]
    shipment_confirm_picked(shipment=shipment, actor=actor)
    return shipment_confirm_packed(shipment=shipment, actor=actor)
