"""The staff order list as CSV: every row the filters match, streamed a chunk at a time."""

import csv
from collections.abc import Iterator

from django.db.models import F, IntegerField, OuterRef, Subquery, Sum
from django.utils import timezone

from core.csv import csv_safe

from .models import OrderLine

EXPORT_COLUMNS = [
    "number",
    "placed_at",
    "channel",
    "external_id",
    "customer",
    "email",
    "status",
    "fulfillment",
    "payment",
    "currency",
    "subtotal",
    "tax",
    "shipping",
    "total",
    "units",
]
_FIELDS = [
    "number",
    "placed_at",
    "channel__name",
    "external_id",
    "customer__name",
    "email",
    "status",
    "fulfillment_status",
    "payment_status",
    "currency",
    "subtotal",
    "tax_total",
    "shipping_total",
    "total",
    "units",
]
CHUNK_SIZE = 2000


def units_subquery() -> Subquery:
    """Units still ordered per order (cancelled units excluded), as a correlated subquery:
    the list and its CSV show it without a second query or a GROUP BY over the orders."""
    units = (
        OrderLine.objects.filter(order=OuterRef("pk"))
        .order_by()  # no join to orders for OrderLine's default ordering
        .values("order")
        .annotate(n=Sum(F("quantity") - F("quantity_cancelled")))
        .values("n")
    )
    return Subquery(units, output_field=IntegerField())


class _Echo:
    """csv.writer writes into this and gets the line back, so rows can be streamed."""

    def write(self, value: str) -> str:
        return value


def order_csv_lines(qs) -> Iterator[str]:
    """The header, then one CSV line per order of ``qs`` in its order (UTF-8 with a BOM
    first, so spreadsheet programs read accents right). Reads CHUNK_SIZE rows at a time."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(EXPORT_COLUMNS)
    rows = qs.annotate(units=units_subquery()).values_list(*_FIELDS)
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        values = dict(zip(_FIELDS, row, strict=True))
        yield writer.writerow(
            [
                values["number"],
                timezone.localtime(values["placed_at"]).isoformat(timespec="seconds"),
                csv_safe(values["channel__name"]),
                csv_safe(values["external_id"]),
                csv_safe(values["customer__name"]),
                csv_safe(values["email"]),
                values["status"],
                values["fulfillment_status"],
                values["payment_status"],
                values["currency"],
                values["subtotal"],
                values["tax_total"],
                values["shipping_total"],
                values["total"],
                values["units"] or 0,
            ]
        )
