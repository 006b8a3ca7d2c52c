"""The warehouse queue per warehouse: counts at a glance, late work flagged, filters, and the
bulk print of pick lists, packing slips and labels as one PDF."""

import datetime
import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import Shipment
from fulfillment.picking import pick_lines_confirm, pick_list_create
from fulfillment.services import shipments_create
from orders.models import Order

from .test_picking import carriers, place, shelf  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _counts(response) -> dict[str, int]:
    return {t["key"]: t["count"] for t in response.context["tiles"]}


@pytest.fixture
def floor(channel, manager, warehouse_user, address, shelf):  # noqa: F811
    """HAM: two ready orders (one late), one pending shipment, a pick list of two orders of
    which one is picked (to pack)."""
    today = timezone.localdate()
    on_list = [place(channel, manager, address, [(shelf["mug"], 1)]) for _ in range(2)]
    pl = pick_list_create(
        warehouse=shelf["ham"], filters={"priority": "placed"}, limit=2, actor=warehouse_user
    )
    t1 = Shipment.objects.get(pick_list=pl, tote="T1")
    pick_lines_confirm(
        pick_list=pl, line_ids=list(t1.lines.values_list("pk", flat=True)), actor=warehouse_user
    )
    by_hand = place(channel, manager, address, [(shelf["tee"], 1)])
    pending = shipments_create(order=by_hand, actor=manager)[0]
    late = place(channel, manager, address, [(shelf["cap"], 1)], method="Express")
    ready = place(channel, manager, address, [(shelf["cap"], 2)])
    Order.objects.filter(pk=late.pk).update(promised_ship_date=today - datetime.timedelta(days=2))
    Order.objects.filter(pk=ready.pk).update(promised_ship_date=today + datetime.timedelta(days=3))
    Order.objects.filter(pk__in=[o.pk for o in on_list]).update(promised_ship_date=today)
    Order.objects.filter(pk=by_hand.pk).update(
        promised_ship_date=today + datetime.timedelta(days=1)
    )
    return {
        "pl": pl,
        "t1": t1,
        "pending": pending,
        "late": late,
        "ready": ready,
        "on_list": on_list,
    }


def test_queue_counts_each_stage_of_the_first_warehouse(client, warehouse_user, floor):
    client.force_login(warehouse_user)
    response = client.get(reverse("fulfillment:queue"))
    assert response.status_code == 200
    assert response.context["warehouse"].code == "HAM"
    assert _counts(response) == {
        "to-pick": 3,
        "picking": 1,
        "to-pack": 1,
        "packed": 0,
        "today": 2,
        "late": 1,
        "in-transit": 0,
    }
    sections = {s["key"]: s["count"] for s in response.context["sections"]}
    assert sections == {
        "ready": 2,
        "to-pick": 1,
        "picking": 1,
        "to-pack": 1,
        "to-ship": 0,
        "in-transit": 0,
    }
    html = response.content.decode()
    assert floor["pl"].number in html
    assert floor["pending"].number in html


def test_late_work_is_flagged_in_amber(client, warehouse_user, floor):
    client.force_login(warehouse_user)
    html = client.get(reverse("fulfillment:queue")).content.decode()

    def row(order):
        start = html.index(f'<tr data-href="{order.get_absolute_url()}"')
        return html[start : html.index("</tr>", start)]

    assert 'class="wh-late"' in row(floor["late"])
    assert 'badge badge-amber" data-status="late">Late' in row(floor["late"])
    assert 'data-status="late"' not in row(floor["ready"])
    assert 'class="wh-late"' not in row(floor["ready"])
    # The late tile is amber and shows only late work.
    assert "wh-tile-late" in html
    late = client.get(reverse("fulfillment:queue"), {"view": "late"})
    keys = [s["key"] for s in late.context["sections"]]
    assert keys == ["ready"]
    assert [o.number for o in late.context["sections"][0]["rows"]] == [floor["late"].number]


def test_ship_today_view_lists_what_is_promised_for_today(client, warehouse_user, floor):
    client.force_login(warehouse_user)
    response = client.get(reverse("fulfillment:queue"), {"view": "today"})
    numbers = {r.number for s in response.context["sections"] for r in s["rows"]}
    assert numbers == set(
        Shipment.objects.filter(pick_list=floor["pl"]).values_list("number", flat=True)
    )


def test_stage_tab_shows_only_that_stage(client, warehouse_user, floor):
    client.force_login(warehouse_user)
    response = client.get(reverse("fulfillment:queue"), {"view": "to-pack"})
    assert [s["key"] for s in response.context["sections"]] == ["to-pack"]
    assert [r.number for r in response.context["sections"][0]["rows"]] == [floor["t1"].number]


def test_queue_filters_by_method_carrier_and_search(client, warehouse_user, floor, carriers):  # noqa: F811
    client.force_login(warehouse_user)
    express = client.get(reverse("fulfillment:queue"), {"method": "express"})
    assert {s["key"]: s["count"] for s in express.context["sections"]}["ready"] == 1
    assert _counts(express)["picking"] == 0
    ups = client.get(reverse("fulfillment:queue"), {"carrier": "ups"})  # UPS fulfils "express"
    assert [o.number for o in ups.context["sections"][0]["rows"]] == [floor["late"].number]
    found = client.get(reverse("fulfillment:queue"), {"q": floor["pending"].order.number})
    assert _counts(found)["to-pick"] == 1
    tote = client.get(reverse("fulfillment:queue"), {"q": "t1"})
    assert _counts(tote)["to-pack"] == 1
    assert _counts(tote)["picking"] == 0


def test_other_warehouse_is_chosen_by_code(client, warehouse_user, floor):
    client.force_login(warehouse_user)
    response = client.get(reverse("fulfillment:queue"), {"warehouse": "BER"})
    assert response.context["warehouse"].code == "BER"
    assert sum(t["count"] for t in response.context["tiles"]) == 0
    assert "Berlin" in response.content.decode()


def test_queue_links_the_warehouse_screens(client, warehouse_user, floor):
    client.force_login(warehouse_user)
    html = client.get(reverse("fulfillment:queue")).content.decode()
    assert f"{reverse('fulfillment:pick_lists')}?warehouse=HAM" in html
    assert reverse("fulfillment:attention") in html


def _label_pdf(pages: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=288, height=432)  # 4x6 inch
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_bulk_print_merges_pick_list_slips_and_labels_into_one_pdf(client, warehouse_user, floor):
    from pypdf import PdfReader

    from fulfillment.documents import pick_list_pdf

    shipments = list(Shipment.objects.filter(pick_list=floor["pl"]).order_by("tote"))
    shipments[0].label.save("label.pdf", ContentFile(_label_pdf(1)))
    list_pages = len(PdfReader(io.BytesIO(pick_list_pdf(floor["pl"]))).pages)
    client.force_login(warehouse_user)

    response = client.post(
        reverse("fulfillment:bulk_print"),
        {"shipment": [s.number for s in shipments], "parts": "all"},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = PdfReader(io.BytesIO(response.content))
    # One pick list (both shipments are on it), one slip per shipment, the one label there is.
    assert len(pdf.pages) == list_pages + 2 + 1
    assert response["X-Orderline-Missing-Labels"] == shipments[1].number
    text = pdf.pages[0].extract_text()
    assert floor["pl"].number in text


def test_bulk_print_of_only_labels(client, warehouse_user, floor):
    from pypdf import PdfReader

    shipments = list(Shipment.objects.filter(pick_list=floor["pl"]))
    for s in shipments:
        s.label.save("label.pdf", ContentFile(_label_pdf(1)))
    client.force_login(warehouse_user)
    response = client.post(
        reverse("fulfillment:bulk_print"),
        {"shipment": [s.number for s in shipments], "parts": "labels"},
    )
    assert len(PdfReader(io.BytesIO(response.content)).pages) == 2


def test_bulk_print_without_a_selection_says_what_to_do(client, warehouse_user, floor):
    client.force_login(warehouse_user)
    back = reverse("fulfillment:queue") + "?warehouse=HAM"
    response = client.post(reverse("fulfillment:bulk_print"), {"parts": "all", "next": back})
    assert response.status_code == 302
    assert response["Location"] == back
    assert any(
        "Choose at least one shipment" in str(m) for m in get_messages(response.wsgi_request)
    )


def test_finance_may_not_bulk_print(client, finance_user, floor):
    client.force_login(finance_user)
    response = client.post(
        reverse("fulfillment:bulk_print"), {"shipment": [floor["t1"].number], "parts": "all"}
    )
    assert response.status_code == 403
