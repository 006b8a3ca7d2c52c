"""Packing: scans checked against a shipment's lines, parcels, packing slips.

A packer scans a shipment (its number, its order's number or its tote), then every item. Each
scan is checked against what was picked and what is already packed, under a lock on the
shipment, so two scans of the last unit at once count it once. Completing the pack needs every
picked unit scanned and at least one parcel; it then calls `services.shipment_confirm_packed`.

Scans and parcels write no `OrderEvent`: they are counts on the way to "packed", and the
timeline gets the one event that matters (packed, by whom) from `shipment_confirm_packed`.
"""

import base64
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q, Sum
from django.template.loader import render_to_string

from core import roles
from core.errors import DomainError, InvalidTransition, ValidationFailed
from inventory.models import Product
from orders.models import Order

from .choices import OPEN_STATUSES, PickListStatus, ShipmentStatus
from .models import Parcel, Shipment, ShipmentLine
from .services import shipment_confirm_packed

S = ShipmentStatus

# What a box, filler and tape add to the items' weight (a suggestion; the scale decides).
PACKAGING_GRAMS = getattr(settings, "PACKING_PACKAGING_GRAMS", 150)
MAX_WEIGHT_GRAMS = 1_000_000  # 1 t: anything above is a typo (kg typed into grams x 1000)
MAX_DIMENSION_MM = 10_000  # 10 m

# Statuses a shipment leaves the building in: what is "already sent" on a packing slip.
_SENT = {S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED, S.EXCEPTION}


# ---------------------------------------------------------------- finding the shipment


def pack_find(*, code: str, user) -> Shipment:
    """The shipment a packer means by `code`: a shipment number, an order number, or a tote
    of an open pick list. Raises DomainError saying what to scan instead."""
    code = (code or "").strip()
    if not code:
        raise DomainError("Scan a shipment number, order number or tote.", field="code")
    visible = Shipment.objects.filter(order__in=Order.objects.visible_to(user)).select_related(
        "order", "warehouse", "pick_list"
    )
    shipment = visible.filter(number__iexact=code).first()
    if shipment is not None:
        return shipment

    order = Order.objects.visible_to(user).filter(number__iexact=code).first()
    if order is not None:
        shipments = list(visible.filter(order=order).order_by("created_at", "id"))
        candidates = [s for s in shipments if s.status == S.PICKING] or [
            s for s in shipments if s.status in OPEN_STATUSES
        ]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise DomainError(
                f"Order {order.number} has nothing to pack"
                + (" (no shipment yet)." if not shipments else " (no open shipment)."),
                field="code",
            )
        listed = ", ".join(f"{s.number} ({s.warehouse.code})" for s in candidates)
        raise DomainError(
            f"Order {order.number} has {len(candidates)} shipments to pack: {listed}. "
            "Scan the shipment number instead.",
            field="code",
        )

    totes = list(
        visible.filter(tote__iexact=code, status__in=OPEN_STATUSES)
        .filter(Q(pick_list__status=PickListStatus.OPEN) | Q(status=S.PICKING))
        .order_by("-created_at", "-id")
    )
    if totes:
        # The same tote label is reused across lists: the open list's shipment wins.
        on_open_list = [
            s for s in totes if s.pick_list and s.pick_list.status == PickListStatus.OPEN
        ]
        return (on_open_list or totes)[0]

    raise DomainError(
        f"Nothing found for “{code}”: scan a shipment number (SH-…), an order number or a tote.",
        field="code",
    )


# ---------------------------------------------------------------- scanning


@dataclass(frozen=True)
class ScanResult:
    line: ShipmentLine
    sku: str
    name: str
    packed: int  # on this line, after the scan
    picked: int
    units_left: int  # in the whole shipment

    @property
    def line_left(self) -> int:
        return self.picked - self.packed


def _lock_for_packing(shipment: Shipment) -> Shipment:
    s = (
        Shipment.objects.select_for_update(of=("self",))
        .select_related("order", "warehouse")
        .get(pk=shipment.pk)
    )
    if s.status == S.PICKING:
        return s
    if s.status == S.PENDING:
        raise InvalidTransition(
            f"Shipment {s.number} is not picked yet: confirm the pick before packing it."
        )
    if s.status == S.PACKED:
        raise InvalidTransition(f"Shipment {s.number} is already packed.")
    raise InvalidTransition(
        f"Shipment {s.number} is {s.get_status_display().lower()}; there is nothing to pack."
    )


def _units_left(shipment: Shipment) -> int:
    totals = shipment.lines.aggregate(picked=Sum("quantity_picked"), packed=Sum("quantity_packed"))
    return (totals["picked"] or 0) - (totals["packed"] or 0)


def _lines_for_code(lines: list[ShipmentLine], code: str) -> list[ShipmentLine]:
    folded = code.casefold()
    return [
        sl
        for sl in lines
        if (sl.order_line.product.barcode and sl.order_line.product.barcode == code)
        or sl.order_line.sku.casefold() == folded
        or sl.order_line.product.sku.casefold() == folded
    ]


@transaction.atomic
def pack_scan(*, shipment: Shipment, code: str, actor) -> ScanResult:
    """Count one scanned unit (a product barcode or SKU) into the shipment.

    Refused, with a message naming the item, when it is not in the shipment or when every
    picked unit of it is already packed. Nothing changes on a refusal."""
    roles.check_role(actor, roles.FULFIL)
    code = (code or "").strip()
    if not code:
        raise DomainError("Scan an item's barcode or type its SKU.", field="code")
    s = _lock_for_packing(shipment)
    lines = list(
        ShipmentLine.objects.select_for_update(of=("self",))
        .filter(shipment=s)
        .select_related("order_line__product")
        .order_by("pk")
    )
    matches = _lines_for_code(lines, code)
    if not matches:
        product = (
            Product.objects.filter(Q(barcode=code) | Q(sku__iexact=code))
            .only("name", "sku")
            .first()
        )
        if product is not None:
            raise DomainError(
                f"Scanned {code} ({product.name}) — not in this shipment. Put it aside.",
                field="code",
                code="wrong_item",
            )
        raise DomainError(
            f"Scanned {code} — no product has this barcode or SKU. Not in this shipment.",
            field="code",
            code="unknown_item",
        )
    open_line = next((sl for sl in matches if sl.quantity_packed < sl.quantity_picked), None)
    if open_line is None:
        sl = matches[0]
        sku = sl.order_line.sku
        picked = sum(m.quantity_picked for m in matches)
        if picked == 0:
            raise DomainError(
                f"Scanned {code} ({sl.order_line.name}): SKU {sku} has not been picked for this "
                "shipment. Put it aside.",
                field="code",
                code="not_picked",
            )
        raise DomainError(
            f"All {picked} of SKU {sku} are already packed — this one is extra. Put it aside.",
            field="code",
            code="extra_unit",
        )
    updated = ShipmentLine.objects.filter(
        pk=open_line.pk, quantity_packed__lt=open_line.quantity_picked
    ).update(quantity_packed=open_line.quantity_packed + 1)
    if not updated:  # cannot happen under the lock; the database constraint is the backstop
        raise DomainError(
            f"All {open_line.quantity_picked} of SKU {open_line.order_line.sku} are already packed."
        )
    open_line.refresh_from_db(fields=["quantity_packed"])
    return ScanResult(
        line=open_line,
        sku=open_line.order_line.sku,
        name=open_line.order_line.name,
        packed=open_line.quantity_packed,
        picked=open_line.quantity_picked,
        units_left=_units_left(s),
    )


@transaction.atomic
def pack_scan_undo(*, shipment: Shipment, line_id: int, actor) -> ScanResult:
    """Take back one scanned unit of a line (a mis-scan, or the item went back to the shelf)."""
    roles.check_role(actor, roles.FULFIL)
    s = _lock_for_packing(shipment)
    sl = (
        ShipmentLine.objects.select_for_update(of=("self",))
        .select_related("order_line")
        .filter(shipment=s, pk=line_id)
        .first()
    )
    if sl is None:
        raise DomainError("That line is not in this shipment; nothing was undone.")
    if sl.quantity_packed == 0:
        raise DomainError(f"Nothing of SKU {sl.order_line.sku} is packed; nothing to undo.")
    ShipmentLine.objects.filter(pk=sl.pk, quantity_packed__gt=0).update(
        quantity_packed=sl.quantity_packed - 1
    )
    sl.refresh_from_db(fields=["quantity_packed"])
    return ScanResult(
        line=sl,
        sku=sl.order_line.sku,
        name=sl.order_line.name,
        packed=sl.quantity_packed,
        picked=sl.quantity_picked,
        units_left=_units_left(s),
    )


# ---------------------------------------------------------------- parcels


def _lock_open(shipment: Shipment) -> Shipment:
    s = Shipment.objects.select_for_update(of=("self",)).get(pk=shipment.pk)
    if s.status not in OPEN_STATUSES:
        raise InvalidTransition(
            f"Shipment {s.number} is {s.get_status_display().lower()}; its parcels can no longer change."
        )
    return s


def _whole(value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.lstrip("-").isdigit():
        raise ValueError
    return int(text)


def _parcel_values(weight_grams, length_mm, width_mm, height_mm) -> dict[str, int]:
    errors: dict[str, list[str]] = {}
    values: dict[str, int] = {}
    try:
        weight = _whole(weight_grams)
    except (TypeError, ValueError):
        errors["weight_grams"] = ["Enter the weight in whole grams, e.g. 1250."]
    else:
        if weight is None:
            errors["weight_grams"] = ["Enter the parcel's weight in grams (put it on the scale)."]
        elif weight <= 0:
            errors["weight_grams"] = ["The weight must be more than 0 g."]
        elif weight > MAX_WEIGHT_GRAMS:
            errors["weight_grams"] = [
                f"{weight} g is more than {MAX_WEIGHT_GRAMS // 1000} kg: enter grams, not milligrams."
            ]
        else:
            values["weight_grams"] = weight
    for name, raw, label in (
        ("length_mm", length_mm, "Length"),
        ("width_mm", width_mm, "Width"),
        ("height_mm", height_mm, "Height"),
    ):
        try:
            mm = _whole(raw)
        except (TypeError, ValueError):
            errors[name] = [f"{label}: enter whole millimetres (0 if not measured)."]
            continue
        if mm is None:
            mm = 0
        if mm < 0:
            errors[name] = [f"{label} cannot be negative (0 if not measured)."]
        elif mm > MAX_DIMENSION_MM:
            errors[name] = [
                f"{label} of {mm} mm is more than {MAX_DIMENSION_MM // 1000} m: enter millimetres."
            ]
        else:
            values[name] = mm
    if errors:
        raise ValidationFailed(errors)
    return values


@transaction.atomic
def parcel_add(
    *, shipment: Shipment, weight_grams, length_mm=0, width_mm=0, height_mm=0, actor
) -> Parcel:
    """Add a box to a shipment that has not left: numbered 1, 2, 3… within the shipment."""
    roles.check_role(actor, roles.FULFIL)
    values = _parcel_values(weight_grams, length_mm, width_mm, height_mm)
    s = _lock_open(shipment)
    last = s.parcels.aggregate(m=Max("number"))["m"] or 0
    return Parcel.objects.create(shipment=s, number=last + 1, **values)


@transaction.atomic
def parcel_update(
    *, parcel: Parcel, weight_grams, length_mm=0, width_mm=0, height_mm=0, actor
) -> Parcel:
    roles.check_role(actor, roles.FULFIL)
    values = _parcel_values(weight_grams, length_mm, width_mm, height_mm)
    _lock_open(parcel.shipment)
    p = Parcel.objects.select_for_update().get(pk=parcel.pk)
    for name, value in values.items():
        setattr(p, name, value)
    p.save(update_fields=list(values))
    return p


@transaction.atomic
def parcel_remove(*, parcel: Parcel, actor) -> None:
    """Remove a box; the ones after it move up a number (2, 3 become 1, 2)."""
    roles.check_role(actor, roles.FULFIL)
    s = _lock_open(parcel.shipment)
    parcels = list(s.parcels.select_for_update().order_by("number"))
    if not any(p.pk == parcel.pk for p in parcels):
        raise DomainError("That parcel was already removed.")
    if s.status == S.PACKED and len(parcels) == 1:
        raise DomainError(
            f"Shipment {s.number} is packed and needs at least one parcel: add the new one first, "
            "then remove this one."
        )
    Parcel.objects.filter(pk=parcel.pk).delete()
    # One by one, in order, so (shipment, number) stays unique at every step.
    for p in parcels:
        if p.number > parcel.number:
            Parcel.objects.filter(pk=p.pk).update(number=p.number - 1)


def items_weight_grams(*, shipment: Shipment) -> int:
    """What the picked items weigh, from the catalogue (0 for products without a weight)."""
    return sum(
        sl.order_line.product.weight_grams * (sl.quantity_picked or sl.quantity)
        for sl in shipment.lines.select_related("order_line__product")
    )


def parcel_weight_suggestion(*, shipment: Shipment) -> int | None:
    """A starting weight for the next parcel: the items not yet in a parcel plus packaging.
    None when the parcels already account for everything (the packer weighs the new box)."""
    items = items_weight_grams(shipment=shipment)
    parcels = list(shipment.parcels.values_list("weight_grams", flat=True))
    in_parcels = sum(max(w - PACKAGING_GRAMS, 0) for w in parcels)
    left = items - in_parcels
    if left <= 0:
        return None if parcels else PACKAGING_GRAMS
    return left + PACKAGING_GRAMS


# ---------------------------------------------------------------- completing


def pack_problems(*, shipment: Shipment) -> dict[str, list[str]]:
    """Why the shipment cannot be completed yet (empty when it can), keyed by what to fix."""
    problems: dict[str, list[str]] = {}
    lines = list(shipment.lines.select_related("order_line").order_by("order_line__line_no"))
    unpicked = [sl for sl in lines if sl.quantity_picked < sl.quantity]
    if unpicked:
        problems["pick"] = [
            f"SKU {sl.order_line.sku}: only {sl.quantity_picked} of {sl.quantity} picked — "
            "finish the pick or record the short pick first."
            for sl in unpicked
        ]
    left = [sl for sl in lines if sl.quantity_packed < sl.quantity_picked]
    if left:
        units = sum(sl.quantity_picked - sl.quantity_packed for sl in left)
        listed = ", ".join(
            f"{sl.quantity_picked - sl.quantity_packed} × {sl.order_line.sku}" for sl in left
        )
        problems.setdefault("lines", []).append(
            f"{units} unit{'s' if units != 1 else ''} still to scan: {listed}."
        )
    if not any(sl.quantity_picked for sl in lines):
        problems.setdefault("pick", []).append("Nothing in this shipment was picked.")
    if not shipment.parcels.exists():
        problems["parcels"] = ["Add at least one parcel (weigh the box) before completing."]
    return problems


@transaction.atomic
def pack_complete(*, shipment: Shipment, actor) -> Shipment:
    """Every picked unit scanned and at least one parcel: the shipment becomes packed."""
    roles.check_role(actor, roles.FULFIL)
    s = _lock_for_packing(shipment)
    problems = pack_problems(shipment=s)
    if problems:
        raise ValidationFailed(problems)
    # The lock is held: the scanned counts equal the picked ones, which is what
    # shipment_confirm_packed writes, so the scans stand as they are.
    return shipment_confirm_packed(shipment=s, actor=actor)


# ---------------------------------------------------------------- packing slip


def _code128_data_uri(data: str) -> str:
    import barcode
    from barcode.writer import SVGWriter

    svg = barcode.get("code128", data, writer=SVGWriter()).render(
        writer_options={
            "module_height": 9.0,
            "module_width": 0.28,
            "quiet_zone": 2.0,
            "write_text": False,
        }
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def packing_slip_context(shipment: Shipment) -> dict:
    """What one packing slip shows: the items in this parcel, and what is still to follow."""
    order = shipment.order
    lines = list(shipment.lines.select_related("order_line").order_by("order_line__line_no"))
    items = []
    for sl in lines:
        quantity = sl.quantity_packed or sl.quantity_picked or sl.quantity
        if quantity:
            items.append(
                {"sku": sl.order_line.sku, "name": sl.order_line.name, "quantity": quantity}
            )
    in_this = {
        sl.order_line_id: (sl.quantity_packed or sl.quantity_picked or sl.quantity) for sl in lines
    }
    others = (
        ShipmentLine.objects.filter(shipment__order=order)
        .exclude(shipment=shipment)
        .values("order_line_id", "shipment__status")
        .annotate(q=Sum("quantity"))
    )
    sent: dict[int, int] = {}
    coming: dict[int, int] = {}
    for row in others:
        if row["shipment__status"] in _SENT or row["shipment__status"] == S.RETURNED_TO_SENDER:
            sent[row["order_line_id"]] = sent.get(row["order_line_id"], 0) + row["q"]
        elif row["shipment__status"] in OPEN_STATUSES:
            coming[row["order_line_id"]] = coming.get(row["order_line_id"], 0) + row["q"]
    to_follow = []
    for ol in order.lines.order_by("line_no"):
        left = ol.quantity_effective - in_this.get(ol.pk, 0) - sent.get(ol.pk, 0)
        if left <= 0:
            continue
        separate = min(coming.get(ol.pk, 0), left)
        if separate:
            to_follow.append(
                {
                    "sku": ol.sku,
                    "name": ol.name,
                    "quantity": separate,
                    "note": "In a separate parcel",
                }
            )
        if left - separate:
            to_follow.append(
                {
                    "sku": ol.sku,
                    "name": ol.name,
                    "quantity": left - separate,
                    "note": "Backordered: sent as soon as it is back in stock",
                }
            )
    return {
        "shipment": shipment,
        "order": order,
        "items": items,
        "units": sum(i["quantity"] for i in items),
        "to_follow": to_follow,
        "parcels": list(shipment.parcels.order_by("number")),
        "status_url": order.status_url(),
        "barcode": _code128_data_uri(shipment.number),
    }


def packing_slip_pdf(shipments: list[Shipment]) -> bytes:
    """One A4 page per shipment (a long one runs on), in the order given, as one PDF."""
    from .documents import html_to_pdf  # the print stylesheet parsed once per process

    if not shipments:
        raise DomainError("Choose at least one shipment to print a packing slip for.")
    slips = [
        packing_slip_context(s)
        for s in Shipment.objects.filter(pk__in=[s.pk for s in shipments]).select_related(
            "order", "warehouse"
        )
    ]
    position = {s.pk: i for i, s in enumerate(shipments)}
    slips.sort(key=lambda c: position[c["shipment"].pk])
    html = render_to_string(
        "fulfillment/pdf/packing_slip.html",
        {
            "slips": slips,
            "merchant_name": settings.MERCHANT_NAME,
            "merchant_address": settings.MERCHANT_ADDRESS,
        },
    )
    return html_to_pdf(html)
