"""End of day: one manifest per carrier and warehouse of the shipments that leave today.

Closing a manifest claims, in one UPDATE, every shipment of that carrier and warehouse that
shipped today and is on no manifest yet, so a shipment is on one manifest only, even when
two people close the day at the same moment. The PDF (A4, for the driver to sign) and the
CSV (for the carrier's systems) are rendered from the rows whenever they are asked for."""

import csv
import datetime
import io
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from core import roles
from core.csv import csv_safe
from core.errors import DomainError
from core.sequences import sequence_next
from inventory.models import Warehouse

from .choices import ShipmentStatus
from .models import Carrier, Manifest, Shipment
from .rates import shipment_weights

CSV_COLUMNS = [
    "manifest",
    "ship_date",
    "shipment",
    "order",
    "tracking_number",
    "carrier",
    "service",
    "parcels",
    "weight_kg",
    "recipient",
    "postal_code",
    "city",
    "country",
    "shipped_at",
]


def _day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    tz = timezone.get_current_timezone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)
    return start, start + datetime.timedelta(days=1)


def shipments_to_manifest(*, day: datetime.date | None = None, carrier=None, warehouse=None):
    """Shipments handed to a carrier on `day` (today) that are on no manifest yet."""
    start, end = _day_bounds(day or timezone.localdate())
    qs = Shipment.objects.filter(
        shipped_at__gte=start, shipped_at__lt=end, manifest__isnull=True, carrier__isnull=False
    ).exclude(status=ShipmentStatus.CANCELLED)
    if carrier is not None:
        qs = qs.filter(carrier=carrier)
    if warehouse is not None:
        qs = qs.filter(warehouse=warehouse)
    return qs


def manifests_pending(*, day: datetime.date | None = None, days_back: int = 7) -> list[dict]:
    """Per day, carrier and warehouse: shipments of `day` (today) and the days before it
    that wait for a manifest, today first."""
    day = day or timezone.localdate()
    start, _ = _day_bounds(day - datetime.timedelta(days=days_back))
    _, end = _day_bounds(day)
    qs = (
        Shipment.objects.filter(
            shipped_at__gte=start, shipped_at__lt=end, manifest__isnull=True, carrier__isnull=False
        )
        .exclude(status=ShipmentStatus.CANCELLED)
        .values_list("pk", "shipped_at", "carrier_id", "warehouse_id")
    )
    groups: dict[tuple, int] = {}
    for _pk, shipped_at, carrier_id, warehouse_id in qs:
        key = (timezone.localtime(shipped_at).date(), carrier_id, warehouse_id)
        groups[key] = groups.get(key, 0) + 1
    carriers = Carrier.objects.in_bulk({k[1] for k in groups})
    warehouses = Warehouse.objects.in_bulk({k[2] for k in groups})
    rows = [
        {
            "day": d,
            "today": d == day,
            "carrier": carriers[c],
            "warehouse": warehouses[w],
            "count": n,
        }
        for (d, c, w), n in groups.items()
    ]
    rows.sort(key=lambda r: (-r["day"].toordinal(), r["carrier"].name, r["warehouse"].code))
    return rows


@transaction.atomic
def manifest_close(
    *, carrier: Carrier, warehouse: Warehouse, actor, day: datetime.date | None = None
) -> Manifest:
    """Close the day for one carrier and warehouse: a new manifest of every shipment that
    left today and is on no manifest yet. Refused when there is none."""
    roles.check_role(actor, roles.FULFIL)
    day = day or timezone.localdate()
    seq = sequence_next(name="manifest")
    manifest = Manifest.objects.create(
        number=f"MF-{day:%Y%m%d}-{seq:04d}",
        carrier=carrier,
        warehouse=warehouse,
        ship_date=day,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    claimed = shipments_to_manifest(day=day, carrier=carrier, warehouse=warehouse).update(
        manifest=manifest
    )
    if not claimed:
        raise DomainError(
            f"Nothing shipped with {carrier.name} from {warehouse.code} on {day:%d %b %Y} "
            "is waiting for a manifest."
        )
    return manifest


@dataclass
class ManifestRow:
    shipment: Shipment
    parcels: int
    weight_grams: int

    @property
    def weight_kg(self) -> str:
        return f"{self.weight_grams / 1000:.2f}"


def manifest_rows(manifest: Manifest) -> list[ManifestRow]:
    shipments = (
        manifest.shipments.select_related("order", "service", "carrier")
        .prefetch_related("parcels", "lines__order_line__product")
        .order_by("shipped_at", "number")
    )
    rows = []
    for s in shipments:
        parcels = list(s.parcels.all())
        weights = [p.weight_grams for p in parcels] if parcels else shipment_weights(s)
        rows.append(ManifestRow(shipment=s, parcels=len(weights), weight_grams=sum(weights)))
    return rows


def manifest_totals(rows: list[ManifestRow]) -> dict:
    return {
        "shipments": len(rows),
        "parcels": sum(r.parcels for r in rows),
        "weight_kg": f"{sum(r.weight_grams for r in rows) / 1000:.2f}",
    }


def manifest_csv(manifest: Manifest) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in manifest_rows(manifest):
        s, o = r.shipment, r.shipment.order
        # Names, addresses and tracking numbers come from customers, channels and carriers:
        # a cell a spreadsheet would run as a formula is quoted.
        writer.writerow(
            [
                manifest.number,
                manifest.ship_date.isoformat(),
                s.number,
                csv_safe(o.number),
                csv_safe(s.tracking_number),
                csv_safe(manifest.carrier.code),
                csv_safe(s.service.code if s.service else ""),
                r.parcels,
                r.weight_kg,
                csv_safe(o.ship_name),
                csv_safe(o.ship_postal_code),
                csv_safe(o.ship_city),
                csv_safe(o.ship_country),
                timezone.localtime(s.shipped_at).isoformat(timespec="minutes")
                if s.shipped_at
                else "",
            ]
        )
    return out.getvalue()


def manifest_pdf(manifest: Manifest) -> bytes:
    from weasyprint import HTML

    rows = manifest_rows(manifest)
    html = render_to_string(
        "fulfillment/pdf/manifest.html",
        {
            "manifest": manifest,
            "rows": rows,
            "totals": manifest_totals(rows),
            "merchant_name": settings.MERCHANT_NAME,
            "printed_at": timezone.localtime(),
        },
    )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
