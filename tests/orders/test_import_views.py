"""CSV import over HTTP: upload, preview with line-numbered errors, import, progress, result."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.models import ImportBatch, Order
from tests.factories import ChannelFactory

from .test_import import csv_text, row

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(db):
    return ChannelFactory(slug="market", name="Marketplace", kind="marketplace")


def upload(client, channel, text, name="orders.csv"):
    return client.post(
        "/orders/import/",
        {"channel": channel.pk, "file": SimpleUploadedFile(name, text.encode(), "text/csv")},
    )


def test_upload_page_documents_the_format(client, service_agent, market):
    client.force_login(service_agent)
    html = client.get("/orders/import/").content.decode()
    assert "Import orders from CSV" in html
    assert f'<option value="{market.pk}">Marketplace</option>' in html
    for column in ("external_id", "ship_postal_code", "unit_price", "shipping_total", "notes"):
        assert f"<code>{column}</code>" in html
    assert "Rows with the same <code>external_id</code> form one order." in html
    sample = client.get("/orders/import/sample.csv")
    assert sample["Content-Type"] == "text/csv; charset=utf-8"
    assert sample.content.decode().startswith("external_id,email,name,phone,ship_name")


def test_only_roles_that_place_orders_may_import(client, warehouse_user, finance_user):
    for user in (warehouse_user, finance_user):
        client.force_login(user)
        assert client.get("/orders/import/").status_code == 403
    client.logout()
    assert client.get("/orders/import/").status_code == 302


def test_upload_shows_a_preview_with_line_numbered_errors(
    client, service_agent, market, stocked_product
):
    client.force_login(service_agent)
    response = upload(
        client,
        market,
        csv_text(
            row("M-1", "TEE-BLK-M", 2),
            row("M-1", "TEE-BLK-M", 1, blank_order=True),
            row("M-2", "NOPE-9", 1, email="b@example.com"),
            row("M-3", "TEE-BLK-M", "x", email="c@example.com", city=""),
        ),
    )
    batch = ImportBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/import/{batch.pk}/"
    assert batch.status == "previewed"
    assert batch.created_by == service_agent
    assert batch.total_orders == 3
    assert not Order.objects.exists()

    html = client.get(response["Location"]).content.decode()
    assert "Import 1 order" in html
    assert "Unknown SKU “NOPE-9”: no product has it." in html
    assert 'class="num mono">4</td>' in html  # the unknown SKU's line
    assert 'class="num mono">5</td>' in html  # M-3's bad quantity and missing city
    assert "ship_city is empty: the address needs the city." in html
    assert "Quantity must be a whole number of at least 1; got “x”." in html
    assert "2, 3" in html  # M-1's lines
    assert "3 × TEE-BLK-M" not in html
    assert "2 × TEE-BLK-M, 1 × TEE-BLK-M" in html


def test_an_unreadable_file_is_refused_next_to_the_field(client, service_agent, market):
    client.force_login(service_agent)
    response = upload(client, market, "order,qty\n1,2\n")
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        'class="field-error" id="id_file-error">The first line must name the columns; missing:'
        in html
    )
    assert not ImportBatch.objects.exists()
    response = client.post("/orders/import/", {"channel": market.pk})
    assert "This field is required." in response.content.decode()


def test_import_runs_in_the_worker_and_shows_the_result(
    client, service_agent, market, stocked_product, eager_celery, django_capture_on_commit_callbacks
):
    client.force_login(service_agent)
    upload(
        client, market, csv_text(row("M-1", "TEE-BLK-M", 1), row("M-2", "NOPE", 1, email="b@x.com"))
    )
    batch = ImportBatch.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/orders/import/{batch.pk}/run/")
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == "done"
    assert (batch.created_orders, batch.processed_orders) == (1, 2)
    order = Order.objects.get(external_id="M-1")

    html = client.get(f"/orders/import/{batch.pk}/").content.decode()
    assert "Import finished." in html
    assert "1 order created, 0 skipped as already imported, 1 not imported" in html
    assert f'href="/orders/{order.number}/"' in html
    assert "Unknown SKU “NOPE”" in html
    assert ">Created<" in html
    assert ">Not imported<" in html

    # Importing it again is refused with a message; nothing new is created.
    response = client.post(f"/orders/import/{batch.pk}/run/", follow=True)
    assert "This import is already done." in response.content.decode()
    assert Order.objects.count() == 1


def test_the_same_file_uploaded_again_says_it_and_imports_nothing(
    client, service_agent, market, stocked_product, eager_celery, django_capture_on_commit_callbacks
):
    client.force_login(service_agent)
    text = csv_text(row("M-1", "TEE-BLK-M", 1))
    upload(client, market, text)
    first = ImportBatch.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/orders/import/{first.pk}/run/")
    response = upload(client, market, text)
    html = client.get(response["Location"]).content.decode()
    assert "This same file was uploaded before" in html
    assert "Already imported as order" in html
    assert "Import 0 orders" in html
    assert "disabled" in html
    assert "Nothing to import" in html


def test_progress_is_polled_and_turns_into_the_result(
    client, service_agent, market, stocked_product
):
    client.force_login(service_agent)
    batch = ImportBatch.objects.create(
        channel=market, filename="big.csv", sha256="x", content=csv_text(row("M-1", "TEE-BLK-M", 1)),
        status=ImportBatch.Status.RUNNING, total_orders=40, processed_orders=10, created_orders=9,
    )  # fmt: skip
    html = client.get(f"/orders/import/{batch.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert "Importing 10 of 40 orders" in html
    assert 'aria-valuenow="10"' in html
    assert "width: 25%" in html
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in html

    fragment = client.get(f"/orders/import/{batch.pk}/", HTTP_HX_REQUEST="true")
    assert fragment.content.decode().lstrip().startswith('<section id="import-progress"')
    assert "<html" not in fragment.content.decode()
    assert "HX-Request" in fragment["Vary"]

    ImportBatch.objects.filter(pk=batch.pk).update(status="done", processed_orders=40)
    done = client.get(f"/orders/import/{batch.pk}/", HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true"


def test_recent_imports_are_listed(client, service_agent, market, stocked_product):
    client.force_login(service_agent)
    upload(client, market, csv_text(row("M-1", "TEE-BLK-M", 1)), name="monday.csv")
    html = client.get("/orders/import/").content.decode()
    assert "monday.csv" in html
    assert "Not imported yet" in html
