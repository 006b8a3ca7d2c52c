"""PDFs that leave the warehouse: pick lists, packing slips and bulk prints.

`pick_list_pdf` renders one pick list (the bin-sorted walk and its totes) with WeasyPrint;
`bulk_print_pdf` merges, for the chosen shipments, their pick lists, packing slips (from
`packing.packing_slip_pdf`) and carrier labels (the PDFs stored in `Shipment.label`) into one
PDF with pypdf, so the warehouse prints a batch with one click.

`html_to_pdf` is the one way these documents reach WeasyPrint: the template's own `<style>`
block is parsed once per process (a `weasyprint.CSS` cached by its text) and passed as a
stylesheet, so a batch of labels does not re-parse the same CSS for every page. See
docs/benchmarks.md ("Warehouse PDFs") for what each choice in the print templates saves.
"""

import functools
import io
import re

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.errors import DomainError

from .models import PickList, Shipment
from .selectors import PICK_PRIORITIES, pick_list_totes, pick_list_walk

PRINT_PARTS = {"pick_lists": "Pick lists", "slips": "Packing slips", "labels": "Labels"}


_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


@functools.lru_cache(maxsize=16)
def _stylesheet(css: str):
    from weasyprint import CSS

    return CSS(string=css, base_url=str(settings.BASE_DIR))


def html_to_pdf(html: str) -> bytes:
    """Render a print template's HTML with WeasyPrint. The first `<style>` block is taken out
    and parsed once per process (keyed by its text, so keep print stylesheets free of template
    variables); the rest of the document is parsed as usual."""
    from weasyprint import HTML

    stylesheets = []
    match = _STYLE.search(html)
    if match:
        stylesheets.append(_stylesheet(match.group(1)))
        html = html[: match.start()] + html[match.end() :]
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf(stylesheets=stylesheets)


def pick_list_context(pick_list: PickList) -> dict:
    walk = pick_list_walk(pick_list=pick_list)
    totes = pick_list_totes(pick_list=pick_list)
    today = timezone.localdate()
    # Links and dates worked out once here: a list of 1,000 totes renders fast.
    shipment_url = reverse("fulfillment:shipment", args=["0"])[:-2]
    order_url = reverse("orders:detail", args=["0"])[:-2]
    for s in totes:
        promised = s.order.promised_ship_date
        s.late = bool(promised and promised < today and not s.shipped_at)
        s.url = f"{shipment_url}{s.number}/"
        s.order_url = f"{order_url}{s.order.number}/"
        s.ship_by = promised.strftime("%a %d %b") if promised else ""
    f = pick_list.filters or {}
    return {
        "pick_list": pick_list,
        "walk": walk,
        "totes": totes,
        "units": sum(r["quantity"] for r in walk),
        "late_count": sum(1 for s in totes if s.late),
        "filters_text": filters_text(f),
        "merchant_name": settings.MERCHANT_NAME,
        "printed_at": timezone.localtime(),
    }


def filters_text(f: dict) -> str:
    parts = []
    if f.get("carrier"):
        parts.append(f"carrier {f['carrier']}")
    if f.get("shipping_method"):
        parts.append(f"method {f['shipping_method']}")
    if f.get("single_line"):
        parts.append("single-line orders")
    parts.append(PICK_PRIORITIES.get(f.get("priority") or "promised", "").lower())
    if f.get("limit"):
        parts.append(f"at most {f['limit']}")
    return ", ".join(p for p in parts if p)


def pick_list_pdf(pick_list: PickList) -> bytes:
    """One pick list as an A4 PDF: the walk sorted by bin, tick boxes, and the tote index."""
    context = pick_list_context(pick_list)
    for row in context["walk"]:
        # "T12 x2, T15 x1" (with the multiplication sign): a word joiner after each space keeps a
        # tote and its count on one line.
        row["print_breakdown"] = row["breakdown"].replace(" ×", " \u2060×")
    context["index"] = tote_index(context["totes"])
    return html_to_pdf(render_to_string("fulfillment/pdf/pick_list.html", context))


def tote_index(totes: list) -> dict:
    """The printed tote index as fixed-width text columns (tote, shipment, order, ship by,
    units), the ship-to last so that a long one wraps without pushing the columns about.
    `indent` is where the ship-to starts, in characters of the monospaced font."""
    tw, sw, ow, bw = (
        max([len(h)] + [len(v) for v in values]) + 2
        for h, values in [
            ("Tote", [s.tote for s in totes]),
            ("Shipment", [s.number for s in totes]),
            ("Order", [s.order.number for s in totes]),
            ("Ship by", [s.ship_by + (" LATE" if s.late else "") or "—" for s in totes]),
        ]
    )
    rows = []
    for s in totes:
        o = s.order
        ship_to = f"{o.ship_name}, {o.ship_city} {o.ship_country.upper()}"
        if o.shipping_method:
            ship_to += f" · {o.shipping_method}"
        by = (s.ship_by + " LATE") if s.late else (s.ship_by or "—")
        rows.append(
            {
                "tote": s.tote.ljust(tw),
                "refs": s.number.ljust(sw) + o.number.ljust(ow),
                "by": by.ljust(bw),
                "late": s.late,
                "rest": f"{s.units or 0:>5}  {ship_to}",
            }
        )
    header = (
        "Tote".ljust(tw)
        + "Shipment".ljust(sw)
        + "Order".ljust(ow)
        + "Ship by".ljust(bw)
        + "Units  Ship to"
    )
    return {"header": header, "rows": rows, "indent": tw + sw + ow + bw + 7}


def bulk_print_pdf(
    *, shipments: list[Shipment], parts=("pick_lists", "slips", "labels")
) -> tuple[bytes, dict]:
    """One PDF for a batch: the pick lists the shipments are on, then their packing slips,
    then their labels. Returns (pdf, counts) where counts says how many documents of each
    part went in and which shipments had no label yet ("missing_labels")."""
    from pypdf import PdfReader, PdfWriter

    if not shipments:
        raise DomainError("Choose at least one shipment to print.")
    unknown = set(parts) - set(PRINT_PARTS)
    if unknown or not parts:
        raise DomainError("Choose what to print: pick lists, packing slips or labels.")
    writer = PdfWriter()
    counts = {"pick_lists": 0, "slips": 0, "labels": 0, "missing_labels": []}

    def add(data: bytes) -> None:
        writer.append(PdfReader(io.BytesIO(data)))

    if "pick_lists" in parts:
        seen = []
        for s in shipments:
            if s.pick_list_id and s.pick_list_id not in seen:
                seen.append(s.pick_list_id)
        lists = PickList.objects.in_bulk(seen)
        for pk in seen:
            add(pick_list_pdf(lists[pk]))
            counts["pick_lists"] += 1
    if "slips" in parts:
        from .packing import packing_slip_pdf

        add(packing_slip_pdf(shipments))
        counts["slips"] = len(shipments)
    if "labels" in parts:
        from .shipping import shipment_label_pdf  # draws a label whose drawing was deferred

        for s in shipments:
            if not s.label:
                counts["missing_labels"].append(s.number)
                continue
            add(shipment_label_pdf(shipment=s))
            counts["labels"] += 1
    if not len(writer.pages):
        raise DomainError(
            "Nothing to print: none of the chosen shipments is on a pick list or has a label yet."
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), counts
