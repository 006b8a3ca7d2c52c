from django.conf import settings
from django.template.loader import render_to_string

from .models import Invoice


def render_pdf(doc) -> bytes:
    """Render an invoice or credit note snapshot to PDF bytes with WeasyPrint."""
    from weasyprint import HTML

    is_invoice = isinstance(doc, Invoice)
    html = render_to_string(
        "invoicing/pdf/document.html",
        {
            "doc": doc,
            "lines": list(doc.lines.all()),
            "title": "Invoice" if is_invoice else "Credit note",
            "is_invoice": is_invoice,
            "merchant_name": settings.MERCHANT_NAME,
            "merchant_address": settings.MERCHANT_ADDRESS,
        },
    )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
