"""Shipping screens: buy a label, download it, and the end-of-day manifests."""

import datetime
import io

from django.contrib import messages
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core import roles
from core.errors import DomainError
from core.http import flash_domain_error, id_or_none
from core.roles import has_role, staff_required
from inventory.models import Warehouse

from ..choices import RateChoice
from ..manifests import (
    manifest_close,
    manifest_csv,
    manifest_pdf,
    manifest_rows,
    manifest_totals,
    manifests_pending,
)
from ..models import Carrier, Manifest
from ..shipping import AddressInvalid, shipment_label_buy, shipment_label_pdf
from . import _done, _shipment_or_404

MANIFEST_DAYS_BACK = 7


@staff_required
@require_POST
def label_buy(request, number):
    shipment = _shipment_or_404(request, number)
    choice = request.POST.get("choice") or RateChoice.CHOSEN
    if choice not in RateChoice.values:
        choice = RateChoice.CHOSEN
    service = request.POST.get("service") or None
    try:
        shipment = shipment_label_buy(
            shipment=shipment, choice=choice, service=service, actor=request.user
        )
    except AddressInvalid as exc:
        for msgs in exc.errors.values():
            for msg in msgs:
                messages.error(request, msg)
    except DomainError as exc:
        flash_domain_error(request, exc)
    else:
        messages.success(
            request,
            f"Label bought: {shipment.service}, tracking {shipment.tracking_number}, delivery expected "
            f"{shipment.expected_delivery_date:%a %d %b}. Print it, stick it on the parcel, then hand it over.",
        )
    return _done(request, shipment)


@staff_required
@require_http_methods(["GET"])
def label(request, number):
    shipment = _shipment_or_404(request, number)
    if not shipment.label:
        raise Http404("This shipment has no label.")
    try:
        data = shipment_label_pdf(shipment=shipment)  # drawn now if its drawing was deferred
    except FileNotFoundError as exc:
        raise Http404("The label file is missing.") from exc
    return FileResponse(
        io.BytesIO(data),
        content_type="application/pdf",
        as_attachment=False,
        filename=f"label-{shipment.number}.pdf",
    )


# ---------------------------------------------------------------- manifests


@staff_required
@require_http_methods(["GET", "POST"])
def manifests(request):
    if request.method == "POST":
        carrier_id, warehouse_id = (
            id_or_none(request.POST.get("carrier")),
            id_or_none(request.POST.get("warehouse")),
        )
        carrier = Carrier.objects.filter(pk=carrier_id).first() if carrier_id else None
        warehouse = Warehouse.objects.filter(pk=warehouse_id).first() if warehouse_id else None
        if carrier is None or warehouse is None:
            messages.error(request, "Choose the carrier and warehouse whose day to close.")
            return redirect("fulfillment:manifests")
        today = timezone.localdate()
        try:
            day = datetime.date.fromisoformat(request.POST.get("day") or today.isoformat())
        except ValueError:
            day = today
        if day > today or day < today - datetime.timedelta(days=MANIFEST_DAYS_BACK):
            messages.error(
                request, f"Close a manifest for today or the {MANIFEST_DAYS_BACK} days before."
            )
            return redirect("fulfillment:manifests")
        try:
            manifest = manifest_close(
                carrier=carrier, warehouse=warehouse, actor=request.user, day=day
            )
        except DomainError as exc:
            flash_domain_error(request, exc)
            return redirect("fulfillment:manifests")
        count = manifest.shipments.count()
        messages.success(
            request,
            f"Manifest {manifest.number} closed with {count} shipment{'s' if count != 1 else ''} "
            f"for {carrier.name}. Print it for the driver to sign.",
        )
        return redirect(manifest.get_absolute_url())
    today = timezone.localdate()
    recent = (
        Manifest.objects.select_related("carrier", "warehouse", "created_by")
        .annotate(shipment_count=Count("shipments"))
        .order_by("-ship_date", "-created_at")[:60]
    )
    return TemplateResponse(
        request,
        "fulfillment/manifests.html",
        {
            "today": today,
            "pending": manifests_pending(day=today, days_back=MANIFEST_DAYS_BACK),
            "manifests": recent,
            "can_fulfil": has_role(request.user, roles.FULFIL),
        },
    )


def _manifest_or_404(number) -> Manifest:
    return get_object_or_404(
        Manifest.objects.select_related("carrier", "warehouse", "created_by"), number=number
    )


@staff_required
@require_http_methods(["GET"])
def manifest(request, number):
    m = _manifest_or_404(number)
    rows = manifest_rows(m)
    return TemplateResponse(
        request,
        "fulfillment/manifest.html",
        {
            "manifest": m,
            "rows": rows,
            "totals": manifest_totals(rows),
        },
    )


@staff_required
@require_http_methods(["GET"])
def manifest_download_pdf(request, number):
    m = _manifest_or_404(number)
    response = HttpResponse(manifest_pdf(m), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="manifest-{m.number}.pdf"'
    return response


@staff_required
@require_http_methods(["GET"])
def manifest_download_csv(request, number):
    m = _manifest_or_404(number)
    response = HttpResponse(manifest_csv(m), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="manifest-{m.number}.csv"'
    return response
