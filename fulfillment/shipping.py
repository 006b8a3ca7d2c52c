"""Shipping: address check, rate choice and label purchase for a packed shipment.

`shipment_label_buy` checks the delivery address (an invalid one puts the order on hold with
the reason and buys nothing), chooses a rate (the customer's service, the cheapest or the
fastest), buys the label from the carrier's client and stores it with the tracking number,
price and promised delivery date. `shipment_hand_over` then ships it through
`fulfillment.services.shipment_ship`; for a manual carrier it takes a typed tracking number."""

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from core import roles
from core.errors import DomainError, ValidationFailed
from core.money import format_money
from customers.addresses import AddressCheck, address_validate, order_address
from orders.choices import EventSource, EventType, HoldCode, OrderStatus
from orders.models import Order
from orders.services import order_event_add, order_hold

from .carriers import client_for, label_adapters
from .carriers.base import CarrierError, LabelRequest, ParcelSpec
from .choices import RateChoice, ShipmentStatus
from .models import Carrier, Parcel, Shipment
from .rates import RateOption, rate_select, shipment_rate_options, shipment_weights
from .services import shipment_ship
from .tracking import tracking_unmatched_claim


class AddressInvalid(ValidationFailed):
    """The delivery address fails validation; the order has been put on hold."""


def shipment_address_check(shipment: Shipment) -> AddressCheck:
    return address_validate(order_address(shipment.order))


def _hold_for_address(*, order: Order, check: AddressCheck, actor) -> None:
    """Put the order on hold with the reason, in its own transaction (it stays held even
    though the label purchase is refused)."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != OrderStatus.OPEN:
            return
        order_hold(
            order=locked,
            reason=f"Address fails validation: {check.summary()}"[:255],
            actor=actor,
            source=EventSource.SYSTEM,
            code=HoldCode.INVALID_ADDRESS,
        )


def _refuse_invalid_address(*, shipment: Shipment, actor) -> None:
    check = shipment_address_check(shipment)
    if check.ok:
        return
    _hold_for_address(order=shipment.order, check=check, actor=actor)
    errors = {k.removeprefix("ship_"): v for k, v in check.errors.items()}
    raise AddressInvalid(
        {
            "": [
                f"Order {shipment.order.number} is on hold: its address fails validation. "
                "Correct the address on the order, release it, then ship."
            ],
            **errors,
        }
    )


def ship_from(shipment: Shipment) -> dict:
    wh = shipment.warehouse
    return {
        "name": settings.MERCHANT_NAME,
        "line1": wh.line1,
        "city": wh.city,
        "postal_code": wh.postal_code,
        "country": wh.country,
    }


def shipment_rates(*, shipment: Shipment) -> list[RateOption]:
    """The options a label can be bought with (carriers Orderline buys labels from)."""
    return shipment_rate_options(shipment, adapters=label_adapters())


def shipment_label_buy(
    *, shipment: Shipment, choice: str = RateChoice.CHOSEN, service=None, actor
) -> Shipment:
    """Buy the label of a packed shipment. Refused (nothing bought) when the shipment is not
    packed or already has one, when the order is not open, when no service can take it, or
    when the address is invalid (then the order goes on hold with the reason)."""
    roles.check_role(actor, roles.FULFIL)
    shipment = Shipment.objects.select_related("order", "warehouse").get(pk=shipment.pk)
    if shipment.status == ShipmentStatus.PACKED and shipment.order.status == OrderStatus.OPEN:
        _refuse_invalid_address(shipment=shipment, actor=actor)
    with transaction.atomic():
        s = (
            Shipment.objects.select_for_update(of=("self",))
            .select_related("order", "warehouse")
            .get(pk=shipment.pk)
        )
        if s.status != ShipmentStatus.PACKED:
            raise DomainError(
                f"Shipment {s.number} is {s.get_status_display().lower()}; "
                "a label is bought for a packed shipment."
            )
        if s.tracking_number:
            raise DomainError(f"Shipment {s.number} already has a label ({s.tracking_number}).")
        order = s.order
        if order.status != OrderStatus.OPEN:
            raise DomainError(
                f"Order {order.number} is {order.get_status_display().lower()}; "
                "release it before buying a label."
            )
        option = rate_select(
            shipment_rates(shipment=s),
            choice=choice,
            service=service,
            shipping_method=order.shipping_method,
        )
        weights = shipment_weights(s)
        dims = {p.number: p for p in Parcel.objects.filter(shipment=s)}
        parcels = [
            ParcelSpec(
                weight_grams=g,
                length_mm=getattr(dims.get(i + 1), "length_mm", 0),
                width_mm=getattr(dims.get(i + 1), "width_mm", 0),
                height_mm=getattr(dims.get(i + 1), "height_mm", 0),
            )
            for i, g in enumerate(weights)
        ]
        check = address_validate(order_address(order))
        request = LabelRequest(
            shipment_number=s.number,
            order_number=order.number,
            service_code=option.service.code,
            ship_from=ship_from(s),
            ship_to=check.address,
            parcels=parcels,
            transit_days=option.transit_days,
        )
        carrier = option.service.carrier
        try:
            label = client_for(carrier).buy_label(request)
        except CarrierError as exc:
            raise DomainError(f"{carrier.name} refused the label: {exc}") from exc
        if Shipment.objects.filter(carrier=carrier, tracking_number=label.tracking_number).exists():
            raise DomainError(
                f"{carrier.name} issued tracking number {label.tracking_number} twice; try again."
            )
        s.carrier = carrier
        s.service = option.service
        s.tracking_number = label.tracking_number
        s.shipping_cost = label.cost if label.cost is not None else option.price
        s.expected_delivery_date = option.delivery_date
        s.label.save(f"{s.number}-{label.tracking_number}.pdf", ContentFile(label.pdf), save=False)
        s.save(
            update_fields=[
                "carrier",
                "service",
                "tracking_number",
                "shipping_cost",
                "expected_delivery_date",
                "label",
                "updated_at",
            ]
        )
        order_event_add(
            order=order,
            type=EventType.LABEL_CREATED,
            actor=actor,
            message=(
                f"Label bought for {s.number}: {option.service} ({option.zone.name}), "
                f"{format_money(s.shipping_cost, option.currency)}, tracking {s.tracking_number}, "
                f"{len(parcels)} parcel(s); delivery expected {s.expected_delivery_date:%a %d %b}."
            ),
            payload={
                "shipment": s.number,
                "carrier": carrier.code,
                "service": option.service.code,
                "tracking_number": s.tracking_number,
                "price": str(s.shipping_cost),
                "currency": option.currency,
                "choice": str(choice) if service is None else "service",
                "expected_delivery_date": s.expected_delivery_date.isoformat(),
            },
        )
    return s


def shipment_label_pdf(*, shipment: Shipment) -> bytes:
    """The label PDF of a shipment (FileNotFoundError when it has none). A label bought with
    its drawing deferred (the demo seed buys hundreds at once and stores an empty file) is
    drawn on first use, from the shipment, for carriers whose labels Orderline draws itself
    (the simulated carrier), and stored in place."""
    if not shipment.label:
        raise FileNotFoundError(f"Shipment {shipment.number} has no label.")
    with shipment.label.open("rb") as fh:
        data = fh.read()
    if data:
        return data
    from .choices import CarrierAdapter
    from .labels import LabelContent, label_pdf

    s = Shipment.objects.select_related("order", "warehouse", "carrier", "service").get(
        pk=shipment.pk
    )
    if s.carrier is None or s.carrier.adapter != CarrierAdapter.SIMULATED or not s.tracking_number:
        raise FileNotFoundError(f"The label file of shipment {s.number} is empty.")
    data = label_pdf(
        LabelContent(
            tracking_number=s.tracking_number,
            carrier_name=s.carrier.name,
            service_name=s.service.name if s.service else "",
            service_code=s.service.code if s.service else "",
            shipment_number=s.number,
            order_number=s.order.number,
            ship_from=ship_from(s),
            ship_to=address_validate(order_address(s.order)).address,
            weights_grams=shipment_weights(s),
            ship_date=timezone.localdate(s.shipped_at) if s.shipped_at else timezone.localdate(),
        )
    )
    with s.label.storage.open(s.label.name, "wb") as fh:
        fh.write(data)
    return data


def shipment_hand_over(
    *, shipment: Shipment, actor, carrier: Carrier | None = None, tracking_number: str = ""
) -> Shipment:
    """Hand a packed shipment to the carrier. With a bought label, its carrier and tracking
    number; without one (a manual carrier), the carrier and the tracking number typed in.
    An invalid address puts the order on hold and nothing ships."""
    roles.check_role(actor, roles.FULFIL)
    shipment = Shipment.objects.select_related("order", "warehouse", "carrier").get(pk=shipment.pk)
    if shipment.status == ShipmentStatus.PACKED and shipment.order.status == OrderStatus.OPEN:
        _refuse_invalid_address(shipment=shipment, actor=actor)
    if shipment.tracking_number and shipment.carrier_id:
        if tracking_number.strip() and tracking_number.strip() != shipment.tracking_number:
            raise DomainError(
                f"This shipment's label has tracking number {shipment.tracking_number}; "
                "scan that label.",
                field="tracking_number",
            )
        shipped = shipment_ship(
            shipment=shipment,
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            actor=actor,
        )
    else:
        shipped = shipment_ship(
            shipment=shipment, carrier=carrier, tracking_number=tracking_number, actor=actor
        )
    # A carrier may have pushed news of this tracking number before we knew it: apply it now.
    tracking_unmatched_claim(shipment=shipped)
    return shipped
