"""The built-in simulated carrier, used in the demo and the tests.

It sells labels (a tracking number "SIM" + 12 digits, the last a check digit, and a 4x6 inch
label PDF per parcel) and reports tracking events that follow a parcel's life over time:
label created, picked up, sorted at hubs with real place names, out for delivery in the
morning of the delivery day, delivered in the afternoon. Everything is a function of the
tracking number and the moment it shipped, so polling twice gives the same events (with the
same ids), and a later poll only adds events. About one parcel in twenty meets a problem
(a delay at a hub, or an address the driver cannot find); most recover, a few go back to the
sender. It is polled (`pushes_events = False`) and never touches the database."""

import datetime
import hashlib
import secrets

from django.utils import timezone

from core.calendar import add_working_days

from ..choices import ShipmentStatus
from .base import CarrierError, CarrierEvent, Label, LabelRequest

PREFIX = "SIM"
S = ShipmentStatus

HUBS = [
    "Hamburg, DE",
    "Hannover, DE",
    "Kassel, DE",
    "Leipzig, DE",
    "Köln, DE",
    "Frankfurt am Main, DE",
    "Nürnberg, DE",
]
DEPOTS = [
    "Delivery depot North",
    "Delivery depot South",
    "Delivery depot East",
    "Delivery depot West",
    "City depot",
    "Regional depot",
]


def check_digit(digits: str) -> str:
    """Luhn (mod 10) check digit of a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def is_valid_tracking_number(value: str) -> bool:
    digits = value[len(PREFIX) :]
    return (
        value.startswith(PREFIX)
        and len(digits) == 12
        and digits.isdigit()
        and check_digit(digits[:-1]) == digits[-1]
    )


def transit_days_for(*, service_code: str, ship_from: dict, ship_to: dict) -> int:
    """How long the simulated network takes: express next working day at home, two abroad;
    standard two working days at home, three in Europe, five further away."""
    home = (ship_from.get("country") or "").upper()
    dest = (ship_to.get("country") or "").upper()
    express = "express" in service_code.lower()
    if dest == home:
        return 1 if express else 2
    europe = {
        "AT",
        "BE",
        "CH",
        "CZ",
        "DK",
        "ES",
        "FR",
        "GB",
        "IE",
        "IT",
        "LU",
        "NL",
        "PL",
        "PT",
        "SE",
    }
    if express:
        return 2 if dest in europe else 3
    return 3 if dest in europe else 5


def tracking_number_new(transit_days: int) -> str:
    """SIM, one digit of transit days, ten random digits, a check digit."""
    body = f"{min(max(transit_days, 1), 9)}{secrets.randbelow(10**10):010d}"
    return f"{PREFIX}{body}{check_digit(body)}"


class SimulatedCarrier:
    pushes_events = False

    def __init__(self, *, carrier_name: str = "Orderline Post", service_names: dict | None = None):
        self.carrier_name = carrier_name
        self.service_names = service_names or {}

    # ------------------------------------------------------------------ labels

    def buy_label(self, request: LabelRequest) -> Label:
        from ..labels import LabelContent, label_pdf

        if not request.parcels:
            raise CarrierError("A label needs at least one parcel.")
        if any(p.weight_grams <= 0 for p in request.parcels):
            raise CarrierError("Every parcel needs a weight above 0 g.")
        if any(p.weight_grams > 31_500 for p in request.parcels):
            raise CarrierError("The simulated carrier takes parcels up to 31.5 kg.")
        # The rate table the merchant keeps for this carrier is what the customer was
        # promised; the simulated network keeps that promise (its own estimate otherwise).
        days = request.transit_days or transit_days_for(
            service_code=request.service_code, ship_from=request.ship_from, ship_to=request.ship_to
        )
        number = tracking_number_new(days)
        pdf = label_pdf(
            LabelContent(
                tracking_number=number,
                carrier_name=self.carrier_name,
                service_name=self.service_names.get(
                    request.service_code, request.service_code.replace("-", " ").title()
                ),
                service_code=request.service_code,
                shipment_number=request.shipment_number,
                order_number=request.order_number,
                ship_from=request.ship_from,
                ship_to=request.ship_to,
                weights_grams=[p.weight_grams for p in request.parcels],
                ship_date=timezone.localdate(),
            )
        )
        return Label(tracking_number=number, pdf=pdf)

    # ------------------------------------------------------------------ tracking

    def track(self, tracking_number: str, *, shipped_at: datetime.datetime) -> list[CarrierEvent]:
        """The events that have happened by now, oldest first."""
        now = timezone.now()
        return [
            e for e in self.timeline(tracking_number, shipped_at=shipped_at) if e.occurred_at <= now
        ]

    def timeline(
        self, tracking_number: str, *, shipped_at: datetime.datetime
    ) -> list[CarrierEvent]:
        """The parcel's whole life, planned from its tracking number and the moment it shipped."""
        if not tracking_number.startswith(PREFIX):
            raise CarrierError(
                f"{tracking_number} is not a tracking number of the simulated carrier."
            )
        seed = hashlib.sha256(tracking_number.encode()).digest()
        rnd = _Draws(seed)
        digits = tracking_number[len(PREFIX) :]
        days = int(digits[0]) if digits[:1].isdigit() and digits[0] != "0" else 2
        tz = timezone.get_current_timezone()
        shipped = timezone.localtime(shipped_at, tz)

        def at(day: datetime.date, hour: int, minute: int) -> datetime.datetime:
            return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=tz)

        events: list[tuple[datetime.datetime, str, str, str, str]] = []

        def add(when, status, carrier_status, location, message):
            last = events[-1][0] if events else shipped
            when = max(when, last + datetime.timedelta(minutes=1))  # strictly after the one before
            events.append((when, status, carrier_status, location, message))

        origin = rnd.pick(HUBS)
        hub = rnd.pick([h for h in HUBS if h != origin])
        depot = rnd.pick(DEPOTS)
        add(
            shipped + datetime.timedelta(minutes=1),
            "",
            "pre_transit",
            origin,
            "Label created; the carrier has the parcel's details.",
        )
        pickup_day = shipped.date()
        pickup = at(pickup_day, 17, rnd.between(0, 50))
        if shipped.weekday() >= 5 or shipped >= pickup:
            pickup_day = add_working_days(shipped.date() + datetime.timedelta(days=1), 0)
            pickup = at(pickup_day, 17, rnd.between(0, 50))
        add(pickup, S.IN_TRANSIT, "in_transit", origin, "Picked up by the driver.")
        add(
            pickup + datetime.timedelta(hours=rnd.between(3, 6), minutes=rnd.between(0, 59)),
            S.IN_TRANSIT,
            "in_transit",
            hub,
            f"Sorted at the {hub.split(',')[0]} hub.",
        )

        delivery_day = add_working_days(pickup_day, days)
        fate = rnd.between(0, 99)
        if fate < 3:  # delayed at the hub, one day late
            add(
                events[-1][0] + datetime.timedelta(hours=2),
                S.EXCEPTION,
                "delayed",
                hub,
                "Delayed: the parcel missed its connection at the hub. It continues on the next run.",
            )
            delivery_day = add_working_days(delivery_day + datetime.timedelta(days=1), 0)
            add(
                at(
                    add_working_days(pickup_day + datetime.timedelta(days=1), 0),
                    4,
                    rnd.between(0, 59),
                ),
                S.IN_TRANSIT,
                "in_transit",
                hub,
                "Departed the hub.",
            )
        # A longer trip is scanned at each night's line haul, so a parcel on its way never
        # goes days without news (no draws here: the rest of the plan stays as it was).
        day = add_working_days(pickup_day + datetime.timedelta(days=1), 0)
        while day < delivery_day:
            if at(day, 3, 15) > events[-1][0]:
                add(
                    at(day, 3, 15),
                    S.IN_TRANSIT,
                    "in_transit",
                    "Line haul",
                    f"In transit towards {depot}.",
                )
            day = add_working_days(day + datetime.timedelta(days=1), 0)
        add(
            at(delivery_day, 5, rnd.between(0, 50)),
            S.IN_TRANSIT,
            "in_transit",
            depot,
            "Arrived at the delivery depot.",
        )
        if 3 <= fate < 6:  # the address cannot be found; the carrier asks the recipient
            add(
                at(delivery_day, 7, rnd.between(0, 40)),
                S.EXCEPTION,
                "address_issue",
                depot,
                "Address problem: the driver could not find the address. The carrier is contacting the recipient.",
            )
            if fate == 5:  # never resolved: back to the sender
                back = add_working_days(delivery_day + datetime.timedelta(days=1), 2)
                add(
                    at(back, 10, rnd.between(0, 59)),
                    S.RETURNED_TO_SENDER,
                    "return_to_sender",
                    origin,
                    "Returned to sender: the address could not be resolved.",
                )
                return self._events(tracking_number, events)
            delivery_day = add_working_days(delivery_day + datetime.timedelta(days=1), 0)
        add(
            at(delivery_day, 7, rnd.between(30, 59)),
            S.OUT_FOR_DELIVERY,
            "out_for_delivery",
            depot,
            "Out for delivery.",
        )
        add(
            at(delivery_day, rnd.between(12, 17), rnd.between(0, 59)),
            S.DELIVERED,
            "delivered",
            depot,
            rnd.pick(
                [
                    "Delivered to the recipient.",
                    "Delivered; left with a neighbour.",
                    "Delivered to the front door.",
                    "Delivered to the recipient; signed for.",
                ]
            ),
        )
        return self._events(tracking_number, events)

    @staticmethod
    def _events(tracking_number, events) -> list[CarrierEvent]:
        return [
            CarrierEvent(
                tracking_number=tracking_number,
                status=str(status),
                carrier_status=carrier_status,
                occurred_at=when,
                event_id=f"{tracking_number}-{i + 1}",
                location=location,
                message=message,
                raw={
                    "simulated": True,
                    "sequence": i + 1,
                    "status": carrier_status,
                    "occurred_at": when.isoformat(),
                    "location": location,
                    "message": message,
                },
            )
            for i, (when, status, carrier_status, location, message) in enumerate(events)
        ]


class _Draws:
    """Deterministic small random numbers from a seed (no global random state)."""

    def __init__(self, seed: bytes):
        self.seed = seed
        self.n = 0

    def between(self, low: int, high: int) -> int:
        self.n += 1
        value = int.from_bytes(
            hashlib.sha256(self.seed + self.n.to_bytes(4, "big")).digest()[:8], "big"
        )
        return low + value % (high - low + 1)

    def pick(self, items: list):
        return items[self.between(0, len(items) - 1)]
