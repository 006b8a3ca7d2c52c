"""4x6 inch shipping labels with a Code 128 barcode of the tracking number.

One page per parcel ("1 of 2"), black on white, big type, bars sized for a 203 dpi thermal
printer (3 dots per module). Rendered with WeasyPrint from `fulfillment/pdf/label.html`; no
database access, so a carrier client can call it."""

import base64
import datetime
from dataclasses import dataclass

from django.conf import settings
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


def barcode_svg(data: str, *, module_mm: float = MODULE_MM, height_mm: float = BAR_HEIGHT_MM) -> bytes:
    """A Code 128 barcode of `data` as SVG (bars only; the text is printed by the label)."""
    import barcode
    from barcode.writer import SVGWriter

    code = barcode.get("code128", data, writer=SVGWriter())
    return code.render({
        "module_width": module_mm, "module_height": height_mm, "quiet_zone": 10 * module_mm,
        "write_text": False, "margin_top": 0, "margin_bottom": 0,
    })


def barcode_data_uri(data: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(barcode_svg(data)).decode("ascii")


def _weight(grams: int) -> str:
    return f"{grams / 1000:.2f} kg"


def label_html(content: LabelContent) -> str:
    count = len(content.weights_grams)
    to = content.ship_to
    city_line = " ".join(p for p in [to.get("postal_code", ""), to.get("city", "")] if p)
    if to.get("region"):
        city_line = " ".join(p for p in [to.get("city", ""), to.get("region", ""), to.get("postal_code", "")] if p) \
            if to.get("country") in ("US", "CA") else f"{city_line} ({to['region']})"
    return render_to_string(
        "fulfillment/pdf/label.html",
        {
            "c": content,
            "to_lines": [to.get("name", ""), to.get("line1", ""), to.get("line2", "")],
            "to_city_line": city_line,
            "to_country": to.get("country", ""),
            "from_lines": [v for v in [content.ship_from.get("name", ""), content.ship_from.get("line1", ""),
                                       " ".join(p for p in [content.ship_from.get("postal_code", ""),
                                                            content.ship_from.get("city", "")] if p),
                                       content.ship_from.get("country", "")] if v],
            "barcode": barcode_data_uri(content.tracking_number),
            "parcels": [{"number": i + 1, "count": count, "weight": _weight(g)}
                        for i, g in enumerate(content.weights_grams)],
            "total_weight": _weight(sum(content.weights_grams)),
            "route": " ".join(p for p in [to.get("country", ""), "".join(str(to.get("postal_code", "")).split())[:3]] if p),
        },
    )


def label_pdf(content: LabelContent) -> bytes:
    """The label PDF: one 4x6 inch page per parcel."""
    from weasyprint import HTML

    return HTML(string=label_html(content), base_url=str(settings.BASE_DIR)).write_pdf()
