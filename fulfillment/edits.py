"""Editing an order while the warehouse works on it.

A packed parcel carries its label and slip for the address and shipping method it was packed
for: while one waits for the carrier, neither may change. (To pick or being picked: nothing is
printed yet, so both may still change.) Orders and invoicing cannot see shipments, so the
check lives here, one layer up, in the same transaction as the edit."""

from decimal import Decimal

from django.db import transaction

from core import roles
from core.errors import ValidationFailed
from invoicing.services import order_edit_documented
from orders.choices import EventSource
from orders.models import Order
from orders.services import ADDRESS_KEYS, LineChange

from .choices import OPEN_STATUSES, ShipmentStatus
from .models import Shipment


def _address_changes(order: Order, address: dict | None) -> bool:
    """The same normalisation as ``orders.services.order_edit``."""
    if address is None:
        return False
    new = {k: (address.get(k) or "").strip() for k in ADDRESS_KEYS}
    new["country"] = new["country"].upper()
    return any(getattr(order, f"ship_{k}") != v for k, v in new.items())


def _refuse_while_packed(packed: list[str], *, address_changed: bool, method_changed: bool) -> None:
    if not packed or not (address_changed or method_changed):
        return
    what = " and ".join(
        w
        for w, changed in (
            ("delivery address", address_changed),
            ("shipping method", method_changed),
        )
        if changed
    )
    one = len(packed) == 1
    errors = {
        "": [
            f"Shipment{'' if one else 's'} {', '.join(packed)} {'is' if one else 'are'} packed for the current "
            f"address and shipping method, so the {what} cannot change now. Cancel "
            f"{'that shipment' if one else 'those shipments'} first (the units stay reserved), then edit the order."
        ]
    }
    if address_changed:
        errors["ship_line1"] = ["Packed for the current address: see above."]
    if method_changed:
        errors["shipping_method"] = ["Packed for the current shipping method: see above."]
    raise ValidationFailed(errors)


@transaction.atomic
def order_edit_checked(
    *,
    order: Order,
    actor,
    lines: list[LineChange] | None = None,
    address: dict | None = None,
    shipping_method: str | None = None,
    shipping_total: Decimal | None = None,
    source: str = EventSource.STAFF,
) -> Order:
    """``invoicing.services.order_edit_documented``, refused when it would change the address
    or the shipping method of an order with a packed shipment. The order's open shipments are
    locked first (the order after them, as ``shipment_ship`` does), so a shipment cannot
    become packed between the check and the edit."""
    if source == EventSource.STAFF:
        roles.check_role(actor, roles.PLACE_ORDER)
    open_shipments = list(
        Shipment.objects.select_for_update()
        .filter(order_id=order.pk, status__in=OPEN_STATUSES)
        .order_by("number")
        .values_list("number", "status")
    )
    locked = Order.objects.select_for_update().get(pk=order.pk)
    _refuse_while_packed(
        [number for number, status in open_shipments if status == ShipmentStatus.PACKED],
        address_changed=_address_changes(locked, address),
        method_changed=shipping_method is not None and shipping_method != locked.shipping_method,
    )
    return order_edit_documented(
        order=order,
        actor=actor,
        lines=lines,
        address=address,
        shipping_method=shipping_method,
        shipping_total=shipping_total,
        source=source,
    )
