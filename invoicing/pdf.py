from django.conf import settings
from django.template.loader import render_to_string

from .models import Invoice


def render_pdf(doc) -> bytes:
    """Render an invoice or credit note snapshot to PDF bytes with WeasyPrint."""
    from weasyprint import HTML

    is_invoice = isinstance(doc, Invoice)
    lines = list(doc.lines.all())
    html = render_to_string(
        "invoicing/pdf/document.html",
        {
            "doc": doc,
            "lines": lines,
            "tax_summary": tax_summary(lines),
            "title": "Invoice" if is_invoice else "Credit note",
            "is_invoice": is_invoice,
            "merchant_name": settings.MERCHANT_NAME,
            "merchant_address": settings.MERCHANT_ADDRESS,
        },
    )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def tax_summary(lines) -> list[dict]:
    """Net and tax per rate, as an invoice with mixed rates must show them."""
    rates: dict = {}
    for line in lines:
        row = rates.setdefault(line.tax_rate, {"rate": line.tax_rate, "net": 0, "tax": 0})
        row["net"] += line.net
        row["tax"] += line.tax
    return [rates[r] for r in sorted(rates, reverse=True)]
