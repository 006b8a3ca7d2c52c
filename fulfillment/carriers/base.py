"""What Orderline needs from a carrier, whoever the carrier is.

A carrier client buys labels (a tracking number and a label PDF per shipment) and reports
tracking events. Events are plain values: `fulfillment.tracking` stores them once, in any
order, and moves the shipment's status forward only. Clients never touch the database."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol


class CarrierError(Exception):
    """The carrier refused or could not be reached; the message is shown to staff."""


@dataclass(frozen=True)
class ParcelSpec:
    weight_grams: int
    length_mm: int = 0
    width_mm: int = 0
    height_mm: int = 0


@dataclass(frozen=True)
class LabelRequest:
    shipment_number: str
    order_number: str
    service_code: str
    ship_from: dict  # name, line1, city, postal_code, country
    ship_to: dict  # name, line1, line2, city, region, postal_code, country
    parcels: list[ParcelSpec]
    transit_days: int | None = None  # what the merchant's rate table promises, when known


@dataclass(frozen=True)
class Label:
    tracking_number: str
    pdf: bytes  # one 4x6 inch page per parcel
    cost: Decimal | None = None


@dataclass(frozen=True)
class CarrierEvent:
    """One thing the carrier said about a parcel.

    `status` is a ShipmentStatus value (in_transit, out_for_delivery, delivered, exception,
    returned_to_sender) or "" when the event informs without changing anything.
    `event_id` identifies the event at the carrier; the same event twice has the same id."""

    tracking_number: str
    status: str
    carrier_status: str
    occurred_at: datetime.datetime
    event_id: str
    location: str = ""
    message: str = ""
    raw: dict = field(default_factory=dict)


class CarrierClient(Protocol):
    #: True when the carrier pushes events (webhook); False when Orderline polls `track`.
    pushes_events: bool

    def buy_label(self, request: LabelRequest) -> Label: ...

    def track(
        self, tracking_number: str, *, shipped_at: datetime.datetime
    ) -> list[CarrierEvent]: ...
