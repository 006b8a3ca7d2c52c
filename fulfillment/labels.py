"""4x6 inch shipping labels with a Code 128 barcode of the tracking number.

One page per parcel ("1 of 2"), black on white, big type, bars sized for a 203 dpi thermal
printer (3 dots per module). Rendered with WeasyPrint from `fulfillment/pdf/label.html`; no
database access, so a carrier client can call it."""

import base64
import datetime
import re
from dataclasses import dataclass

from django.template.loader import render_to_string

# 203 dpi thermal printers: one dot is 0.125 mm; three dots per narrow bar scan reliably.
MODULE_MM = 0.375
BAR_HEIGHT_MM = 22.0


@dataclass(frozen=True)
class LabelContent:
    tracking_number: str
    carrier_name: str
    service_name: str
    service_code: str
    shipment_number: str
    order_number: str
    ship_from: dict  # name, line1, city, postal_code, country
    ship_to: dict  # name, line1, line2, city, region, postal_code, country
    weights_grams: list[int]
    ship_date: datetime.date
    express: bool = False


def barcode_svg(
    data: str, *, module_mm: float = MODULE_MM, height_mm: float = BAR_HEIGHT_MM
) -> bytes:
    """A Code 128 barcode of `data` as a compact SVG: one black rectangle per bar on white,
    a quiet zone of 10 modules either side (bars only; the text is printed by the label).

    python-barcode encodes (`build()` gives the modules, "1" black); the SVG is written here,
    about a third of the size of its SVGWriter's, which WeasyPrint parses for every label."""
    import barcode

    modules = barcode.get("code128", data).build()[0]
    quiet = 10
    width = (len(modules) + 2 * quiet) * module_mm
    bars = []
    for run in re.finditer("1+", modules):
        bars.append(
            f'<rect x="{(quiet + run.start()) * module_mm:.3f}mm" y="0mm" '
            f'width="{len(run.group()) * module_mm:.3f}mm" height="{height_mm:g}mm" style="fill:black"/>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.3f}mm" height="{height_mm:g}mm">'
        f'<rect width="100%" height="100%" style="fill:white"/>{"".join(bars)}</svg>'
    ).encode("ascii")


def barcode_data_uri(data: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(barcode_svg(data)).decode("ascii")


def _weight(grams: int) -> str:
    return f"{grams / 1000:.2f} kg"


def label_html(content: LabelContent) -> str:
    count = len(content.weights_grams)
    to = content.ship_to
    city_line = " ".join(p for p in [to.get("postal_code", ""), to.get("city", "")] if p)
    if to.get("region"):
        city_line = (
            " ".join(
                p
                for p in [to.get("city", ""), to.get("region", ""), to.get("postal_code", "")]
                if p
            )
            if to.get("country") in ("US", "CA")
            else f"{city_line} ({to['region']})"
        )
    return render_to_string(
        "fulfillment/pdf/label.html",
        {
            "c": content,
            "to_lines": [to.get("name", ""), to.get("line1", ""), to.get("line2", "")],
            "to_city_line": city_line,
            "to_country": to.get("country", ""),
            "from_lines": [
                v
                for v in [
                    content.ship_from.get("name", ""),
                    content.ship_from.get("line1", ""),
                    " ".join(
                        p
                        for p in [
                            content.ship_from.get("postal_code", ""),
                            content.ship_from.get("city", ""),
                        ]
                        if p
                    ),
                    content.ship_from.get("country", ""),
                ]
                if v
            ],
            "barcode": barcode_data_uri(content.tracking_number),
            "parcels": [
                {"number": i + 1, "count": count, "weight": _weight(g)}
                for i, g in enumerate(content.weights_grams)
            ],
            "total_weight": _weight(sum(content.weights_grams)),
            "route": " ".join(
                p
                for p in [
                    to.get("country", ""),
                    "".join(str(to.get("postal_code", "")).split())[:3],
                ]
                if p
            ),
        },
    )


def label_pdf(content: LabelContent) -> bytes:
    """The label PDF: one 4x6 inch page per parcel."""
    from .documents import html_to_pdf

    return html_to_pdf(label_html(content))
