"""Rate tables: the carrier services that can take a parcel to an address, their price and transit days.

A carrier's zones cover countries, optionally narrowed by postal-code prefixes; for one
destination the zone with the longest matching prefix wins (per carrier). A service's rates
in that zone are weight bands: a parcel takes the lightest band that holds it. A shipment of
several parcels pays each parcel's band; it arrives when the slowest one does."""

import datetime
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.utils import timezone

from core.calendar import add_working_days
from core.errors import DomainError

from .choices import RateChoice
from .models import CarrierService, Parcel, Shipment, ShippingRate, ShippingZone, ShippingZoneArea

# A shipment packed without a weighed parcel and without product weights still needs a band.
MIN_WEIGHT_GRAMS = 100


class NoRateAvailable(DomainError):
    def __init__(self, message: str):
        super().__init__(message, field="service", code="no_rate")


@dataclass(frozen=True)
class RateOption:
    service: CarrierService
    zone: ShippingZone
    price: Decimal
    currency: str
    transit_days: int
    delivery_date: datetime.date
    parcel_prices: tuple[Decimal, ...] = ()
    chosen_by_customer: bool = False
    tags: tuple[str, ...] = field(default=(), compare=False)

    @property
    def carrier(self):
        return self.service.carrier

    @property
    def key(self) -> str:
        return str(self.service.pk)


def compact_postal(code: str) -> str:
    return "".join(str(code or "").split()).upper()


def format_weight(grams: int) -> str:
    return f"{grams / 1000:.2f} kg".replace(".00 kg", " kg") if grams >= 1000 else f"{grams} g"


def shipment_weights(shipment: Shipment) -> list[int]:
    """Grams per parcel: the weighed parcels, else one parcel of the products' weights."""
    parcels = list(
        Parcel.objects.filter(shipment=shipment)
        .order_by("number")
        .values_list("weight_grams", flat=True)
    )
    if parcels:
        return parcels
    total = sum(
        (sl.order_line.product.weight_grams if sl.order_line.product_id else 0) * sl.quantity
        for sl in shipment.lines.select_related("order_line__product")
    )
    return [max(total, MIN_WEIGHT_GRAMS)]


def _matching_areas(
    *, carriers, country: str, postal_code: str
) -> list[tuple[int, ShippingZoneArea]]:
    """(prefix length, area) of every area covering the destination, longest prefix first."""
    code = compact_postal(postal_code)
    found = []
    for area in ShippingZoneArea.objects.filter(
        zone__carrier__in=carriers, country=country.upper()
    ).select_related("zone"):
        prefix = compact_postal(area.postal_prefix)
        if code.startswith(prefix):
            found.append((len(prefix), area))
    found.sort(key=lambda t: (-t[0], t[1].zone.name))
    return found


def zone_for(*, carrier, country: str, postal_code: str, service=None) -> ShippingZone | None:
    """The carrier's zone for a destination: the longest matching postal prefix wins; an
    area without a prefix covers the whole country. With `service`, only zones where that
    service has rates count (a cheaper local zone for one service does not hide the others)."""
    areas = _matching_areas(carriers=[carrier], country=country, postal_code=postal_code)
    if service is not None:
        priced = set(ShippingRate.objects.filter(service=service).values_list("zone_id", flat=True))
        areas = [(n, a) for n, a in areas if a.zone_id in priced]
    return areas[0][1].zone if areas else None


def rate_options(
    *,
    weights: list[int],
    country: str,
    postal_code: str,
    ship_date: datetime.date | None = None,
    shipping_method: str = "",
    adapters: set[str] | None = None,
) -> list[RateOption]:
    """Every active service that takes all the parcels to the destination, cheapest first.
    Raises NoRateAvailable saying why when none can."""
    ship_date = ship_date or timezone.localdate()
    services = CarrierService.objects.filter(active=True, carrier__active=True).select_related(
        "carrier"
    )
    if adapters is not None:
        services = services.filter(carrier__adapter__in=adapters)
    services = list(services)
    areas = _matching_areas(
        carriers={s.carrier_id for s in services}, country=country, postal_code=postal_code
    )
    zone_ids = {a.zone_id for _, a in areas}
    bands: dict[tuple[int, int], list[ShippingRate]] = {}
    for rate in ShippingRate.objects.filter(service__in=services, zone_id__in=zone_ids).order_by(
        "max_weight_grams"
    ):
        bands.setdefault((rate.service_id, rate.zone_id), []).append(rate)

    heaviest = max(weights)
    options: list[RateOption] = []
    too_heavy: list[tuple[int, str]] = []
    method = shipping_method.strip().lower()
    for service in services:
        # The longest matching prefix among the carrier's zones that price this service.
        zone = next(
            (
                a.zone
                for _, a in areas
                if a.zone.carrier_id == service.carrier_id and (service.pk, a.zone_id) in bands
            ),
            None,
        )
        if zone is None:
            continue
        rates = bands[(service.pk, zone.pk)]
        picked = []
        for grams in weights:
            band = next((r for r in rates if r.max_weight_grams >= grams), None)
            if band is None:
                too_heavy.append((rates[-1].max_weight_grams, str(service)))
                break
            picked.append(band)
        else:
            transit = max(r.transit_days for r in picked)
            options.append(
                RateOption(
                    service=service,
                    zone=zone,
                    price=sum((r.price for r in picked), Decimal("0")),
                    currency=picked[0].currency,
                    transit_days=transit,
                    delivery_date=add_working_days(ship_date, transit),
                    parcel_prices=tuple(r.price for r in picked),
                    chosen_by_customer=bool(method)
                    and service.shipping_method.strip().lower() == method,
                )
            )
    if not options:
        where = f"{country.upper()} {postal_code}".strip()
        if too_heavy:
            limit, name = max(too_heavy)
            raise NoRateAvailable(
                f"No carrier service takes a {format_weight(heaviest)} parcel to {where}: "
                f"the heaviest band is {format_weight(limit)} ({name}). Split it into lighter parcels."
            )
        raise NoRateAvailable(
            f"No carrier service delivers to {where}: add a shipping zone and rates for it in the admin."
        )
    options.sort(key=lambda o: (o.price, o.transit_days, o.service.carrier.name, o.service.name))
    cheapest = options[0]
    fastest = min(options, key=lambda o: (o.transit_days, o.price))
    return [
        replace(
            o,
            tags=tuple(
                t
                for t, on in (
                    ("Customer's choice", o.chosen_by_customer),
                    ("Cheapest", o is cheapest),
                    ("Fastest", o is fastest),
                )
                if on
            ),
        )
        for o in options
    ]


def rate_select(
    options: list[RateOption],
    *,
    choice: str = RateChoice.CHOSEN,
    service=None,
    shipping_method: str = "",
) -> RateOption:
    """One option: the given service, or by the rule (the customer's choice, cheapest, fastest).
    With no shipping method on the order, "the customer's choice" means the cheapest."""
    if service is not None:
        service_id = getattr(service, "pk", service)
        found = next((o for o in options if str(o.service.pk) == str(service_id)), None)
        if found is None:
            raise NoRateAvailable(
                "That service cannot take this shipment to its address; choose another option."
            )
        return found
    if choice == RateChoice.FASTEST:
        return min(options, key=lambda o: (o.transit_days, o.price))
    if choice == RateChoice.CHOSEN and shipping_method.strip():
        chosen = [o for o in options if o.chosen_by_customer]
        if not chosen:
            raise NoRateAvailable(
                f"The customer chose “{shipping_method}” shipping, and no service for it can take this "
                "shipment: choose another option, or map a service to it in the admin."
            )
        return min(chosen, key=lambda o: (o.price, o.transit_days))
    return min(options, key=lambda o: (o.price, o.transit_days))


def shipment_rate_options(shipment: Shipment, *, ship_date=None, adapters=None) -> list[RateOption]:
    order = shipment.order
    return rate_options(
        weights=shipment_weights(shipment),
        country=order.ship_country,
        postal_code=order.ship_postal_code,
        ship_date=ship_date,
        shipping_method=order.shipping_method,
        adapters=adapters,
    )
