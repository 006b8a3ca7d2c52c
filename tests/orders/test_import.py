"""CSV import, the domain: the preview's line-numbered problems, each order placed
all-or-nothing, re-imports that create nothing, and the worker path."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import DomainError, NotAllowed, ValidationFailed
from inventory.models import StockLevel
from orders import imports
from orders.models import ImportBatch, Order
from orders.tasks_import import run_import, sweep_imports
from tests.factories import ChannelFactory, ProductFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "external_id,email,name,phone,ship_name,ship_line1,ship_line2,ship_city,ship_region,"
    "ship_postal_code,ship_country,currency,sku,quantity,unit_price,shipping_method,"
    "shipping_total,notes"
)


def row(ext, sku, qty, *, email="ada@example.com", name="Ada Lovelace", line1="Hafenstraße 12",
        city="Hamburg", postal="20457", country="DE", price="", shipping="4.90", notes="",
        blank_order=False):  # fmt: skip
    if blank_order:
        return f"{ext},,,,,,,,,,,,{sku},{qty},{price},,,"
    return (
        f"{ext},{email},{name},,{name},{line1},,{city},,{postal},{country},EUR,{sku},{qty},"
        f"{price},standard,{shipping},{notes}"
    )


def csv_text(*rows) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


@pytest.fixture
def market(db):
    return ChannelFactory(slug="market", name="Marketplace", kind="marketplace")


@pytest.fixture
def mug(warehouses, manager):
    from inventory.services import stock_receive

    product = ProductFactory(sku="MUG-WHT", name="Mug, white", price=Decimal("12.00"))
    stock_receive(product=product, warehouse=warehouses[0], quantity=5, actor=manager)
    return product


def problems_by_line(preview) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for p in preview.problems:
        found.setdefault(p.line, []).append(f"{p.kind}:{p.field}")
    return found


# ---------------------------------------------------------------- preview


def test_preview_groups_rows_into_orders(market, stocked_product, mug):
    preview = imports.import_preview(
        channel=market,
        text=csv_text(
            row("M-1", "TEE-BLK-M", 2),
            row("M-1", "MUG-WHT", 1, blank_order=True),
            row("M-2", "MUG-WHT", 1, email="grace@example.com", name="Grace Hopper"),
        ),
    )
    assert preview.rows == 3
    assert [o.external_id for o in preview.orders] == ["M-1", "M-2"]
    first = preview.orders[0]
    assert first.line_numbers == [2, 3]
    assert first.units == 3
    assert first.summary == "2 × TEE-BLK-M, 1 × MUG-WHT"
    assert first.values["ship_city"] == "Hamburg"
    assert [o.status for o in preview.orders] == ["ready", "ready"]
    assert preview.problems == []


def test_preview_errors_name_their_lines(market, stocked_product, mug):
    preview = imports.import_preview(
        channel=market,
        text=csv_text(
            row("M-1", "NOPE-1", 1),  # line 2: unknown SKU
            row("M-2", "TEE-BLK-M", "two"),  # line 3: bad quantity
            row("M-3", "TEE-BLK-M", 0),  # line 4: bad quantity
            row("M-4", "TEE-BLK-M", 1, city=""),  # line 5: missing address field
            row("M-5", "TEE-BLK-M", 1),  # line 6
            row("M-5", "MUG-WHT", 1, city="Berlin"),  # line 7: inconsistent with line 6
            row("M-6", "TEE-BLK-M", 1, price="abc", email="not-an-email"),  # line 8
            ",ada@example.com,,,,,,,,,,,TEE-BLK-M,1,,,,",  # line 9: no external id
            row("M-7", "TEE-BLK-M", 1, country="Germany"),  # line 10
        ),
    )
    found = problems_by_line(preview)
    assert found[2] == ["error:sku"]
    assert found[3] == ["error:quantity"]
    assert found[4] == ["error:quantity"]
    assert found[5] == ["error:ship_city"]
    assert found[7] == ["error:ship_city"]
    assert sorted(found[8]) == ["error:email", "error:unit_price"]
    assert found[9] == ["error:external_id"]
    assert found[10] == ["error:ship_country"]
    messages = {p.line: p.message for p in preview.problems}
    assert messages[2] == "Unknown SKU “NOPE-1”: no product has it."
    assert messages[3] == "Quantity must be a whole number of at least 1; got “two”."
    assert messages[5] == "ship_city is empty: the address needs the city."
    assert messages[7] == (
        "ship_city is “Berlin” here but “Hamburg” on line 6: the rows of one order must agree "
        "(or leave it blank)."
    )
    assert {o.external_id: o.status for o in preview.orders} == {
        "M-1": "error", "M-2": "error", "M-3": "error", "M-4": "error", "M-5": "error",
        "M-6": "error", "M-7": "error",
    }  # fmt: skip
    assert preview.ready == []


def test_preview_marks_orders_already_imported_as_skipped(market, stocked_product, manager):
    text = csv_text(row("M-1", "TEE-BLK-M", 1), row("M-2", "TEE-BLK-M", 1, email="g@example.com"))
    batch = imports.import_batch_create(
        channel=market, filename="a.csv", data=text.encode(), actor=manager
    )
    imports.import_batch_queue(batch=batch, actor=manager, enqueue=False)
    imports.import_batch_run(batch_id=batch.pk)
    number = Order.objects.get(external_id="M-1").number

    preview = imports.import_preview(channel=market, text=text + row("M-3", "TEE-BLK-M", 1) + "\n")
    assert [o.status for o in preview.orders] == ["skip", "skip", "ready"]
    skip = preview.problems[0]
    assert (skip.line, skip.kind) == (2, "skip")
    assert skip.message == f"Already imported as order {number}; will be skipped."
    # The same ids in another channel are other orders.
    other = ChannelFactory(slug="web", name="Web", kind="web")
    assert [o.status for o in imports.import_preview(channel=other, text=text).orders] == [
        "ready", "ready",
    ]  # fmt: skip


def test_preview_warns_where_stock_will_run_short(market, mug):
    preview = imports.import_preview(
        channel=market,
        text=csv_text(row("M-1", "MUG-WHT", 4), row("M-2", "MUG-WHT", 2, email="b@example.com")),
    )
    assert [o.status for o in preview.orders] == ["ready", "ready"]
    (warning,) = preview.problems
    assert (warning.line, warning.kind, warning.field) == (3, "warning", "quantity")
    assert "Only 5 of MUG-WHT available now for 6 ordered" in warning.message


def test_files_that_cannot_be_read_are_refused_whole(market):
    with pytest.raises(ValidationFailed) as exc:
        imports.decode_upload("external_id;sku\n1;\xe9".encode("latin-1"))
    assert "UTF-8" in exc.value.errors["file"][0]
    with pytest.raises(ValidationFailed) as exc:
        imports.import_preview(channel=market, text="external_id,sku,quantity\nA,B,1\n")
    assert exc.value.errors["file"][0].startswith(
        "The first line must name the columns; missing: email,"
    )
    with pytest.raises(ValidationFailed):
        imports.decode_upload(b"  \n")


def test_semicolons_a_bom_and_other_column_orders_are_read(market, stocked_product):
    text = (
        "\ufeffsku;quantity;External ID;email;ship_name;ship_line1;ship_city;ship_postal_code;"
        "ship_country;colour\nTEE-BLK-M;2;S-1;ada@example.com;Ada;Hafenstraße 12;Hamburg;20457;de;red\n"
    )
    preview = imports.import_preview(channel=market, text=imports.decode_upload(text.encode()))
    assert preview.delimiter == ";"
    (order,) = preview.orders
    assert order.status == "ready"
    assert order.lines[0].quantity == 2
    assert [p.message for p in preview.problems] == ["Column(s) not used and ignored: colour."]


# ---------------------------------------------------------------- import


def run(market, text, actor):
    batch = imports.import_batch_create(
        channel=market, filename="orders.csv", data=text.encode(), actor=actor
    )
    imports.import_batch_queue(batch=batch, actor=actor, enqueue=False)
    return imports.import_batch_run(batch_id=batch.pk)


def test_import_places_each_order_through_order_place(market, stocked_product, mug, manager):
    batch = run(
        market,
        csv_text(
            row("M-1", "TEE-BLK-M", 2, notes="Leave at the door"),
            row("M-1", "MUG-WHT", 1, price="10.00", blank_order=True),
            row("M-2", "MUG-WHT", 1, email="grace@example.com", name="Grace Hopper", shipping="0"),
        ),
        manager,
    )
    assert batch.status == "done"
    assert (batch.total_orders, batch.processed_orders, batch.created_orders) == (2, 2, 2)
    order = Order.objects.get(channel=market, external_id="M-1")
    assert order.created_by is None
    assert order.notes == "Leave at the door"
    assert order.shipping_total == Decimal("4.90")
    assert order.ship_city == "Hamburg"
    lines = list(order.lines.order_by("line_no"))
    assert [(ln.sku, ln.quantity, ln.unit_price) for ln in lines] == [
        ("TEE-BLK-M", 2, Decimal("25.00")),
        ("MUG-WHT", 1, Decimal("10.00")),
    ]
    assert order.events.filter(type="placed", source="channel", actor=None).exists()
    assert "Marketplace" in order.events.get(type="placed").message
    assert Order.objects.get(external_id="M-2").customer.name == "Grace Hopper"


def test_each_order_is_all_or_nothing(market, stocked_product, mug, manager):
    """M-2 asks for more mugs than exist (and mugs cannot be backordered): none of its lines is
    placed, no stock is touched for it, and M-1 and M-3 are placed anyway."""
    mugs_before = StockLevel.objects.get(product=mug).reserved
    batch = run(
        market,
        csv_text(
            row("M-1", "TEE-BLK-M", 1),
            row("M-2", "TEE-BLK-M", 1, email="b@example.com"),
            row("M-2", "MUG-WHT", 9, blank_order=True),
            row("M-3", "MUG-WHT", 1, email="c@example.com"),
        ),
        manager,
    )
    assert batch.status == "done"
    assert (batch.processed_orders, batch.created_orders, batch.skipped_orders) == (3, 2, 0)
    assert set(Order.objects.values_list("external_id", flat=True)) == {"M-1", "M-3"}
    assert StockLevel.objects.get(product=mug).reserved == mugs_before + 1
    assert StockLevel.objects.get(product=stocked_product).reserved == 1
    errors = [p for p in batch.errors if p["kind"] == "error"]
    assert len(errors) == 1
    assert errors[0]["line"] == 4  # the mug line of M-2
    assert errors[0]["external_id"] == "M-2"
    assert errors[0]["field"] == "quantity"
    assert "Only 5 of MUG-WHT available; 9 requested." in errors[0]["message"]
    assert imports.batch_counts(batch)["failed"] == 1


def test_reimporting_the_same_file_creates_nothing_new(market, stocked_product, manager):
    text = csv_text(row("M-1", "TEE-BLK-M", 1), row("M-2", "TEE-BLK-M", 1, email="g@example.com"))
    first = run(market, text, manager)
    assert first.created_orders == 2
    count = Order.objects.count()
    second = imports.import_batch_create(
        channel=market, filename="again.csv", data=text.encode(), actor=manager
    )
    assert second.sha256 == first.sha256
    with pytest.raises(DomainError, match="Nothing to import"):
        imports.import_batch_queue(batch=second, actor=manager)
    assert Order.objects.count() == count
    # Even when a batch was queued before the first one ran, its orders are skipped.
    third = ImportBatch.objects.create(channel=market, filename="x.csv", sha256="x", content=text,
                                       status=ImportBatch.Status.QUEUED)  # fmt: skip
    imports.import_batch_run(batch_id=third.pk)
    third.refresh_from_db()
    assert (third.processed_orders, third.created_orders, third.skipped_orders) == (2, 0, 2)
    assert Order.objects.count() == count


def test_only_staff_who_place_orders_may_import(market, warehouse_user, service_agent):
    data = csv_text(row("M-1", "TEE-BLK-M", 1)).encode()
    with pytest.raises(NotAllowed):
        imports.import_batch_create(
            channel=market, filename="a.csv", data=data, actor=warehouse_user
        )
    batch = imports.import_batch_create(
        channel=market, filename="a.csv", data=data, actor=service_agent
    )
    assert batch.status == "previewed"
    with pytest.raises(NotAllowed):
        imports.import_batch_queue(batch=batch, actor=warehouse_user)


# ---------------------------------------------------------------- the worker


def test_queue_enqueues_the_task_after_commit_and_the_task_imports(
    market, stocked_product, manager, django_capture_on_commit_callbacks
):
    batch = imports.import_batch_create(
        channel=market,
        filename="a.csv",
        data=csv_text(row("M-1", "TEE-BLK-M", 1)).encode(),
        actor=manager,
    )
    with django_capture_on_commit_callbacks() as callbacks:
        imports.import_batch_queue(batch=batch, actor=manager)
    batch.refresh_from_db()
    assert batch.status == "queued"
    assert len([c for c in callbacks if getattr(c, "func", None) == run_import.delay]) == 1
    with pytest.raises(DomainError, match="already queued"):
        imports.import_batch_queue(batch=batch, actor=manager)

    run_import(batch.pk)  # the worker's path, called directly
    batch.refresh_from_db()
    assert (batch.status, batch.created_orders) == ("done", 1)
    run_import(batch.pk)  # delivered twice: nothing more happens
    batch.refresh_from_db()
    assert (batch.processed_orders, batch.created_orders) == (1, 1)
    assert Order.objects.filter(external_id="M-1").count() == 1


def test_a_batch_running_in_another_worker_is_left_alone(market, stocked_product):
    batch = ImportBatch.objects.create(
        channel=market,
        filename="a.csv",
        sha256="x",
        content=csv_text(row("M-1", "TEE-BLK-M", 1)),
        status=ImportBatch.Status.RUNNING,
        total_orders=1,
    )
    run_import(batch.pk)
    batch.refresh_from_db()
    assert batch.processed_orders == 0
    assert not Order.objects.exists()


def test_a_dead_workers_batch_resumes_after_the_last_order_done(market, stocked_product):
    text = csv_text(
        row("M-1", "TEE-BLK-M", 1), row("M-2", "TEE-BLK-M", 1, email="b@example.com"),
        row("M-3", "TEE-BLK-M", 1, email="c@example.com"),
    )  # fmt: skip
    batch = ImportBatch.objects.create(
        channel=market, filename="a.csv", sha256="x", content=text,
        status=ImportBatch.Status.RUNNING, total_orders=3, processed_orders=1, created_orders=1,
    )  # fmt: skip
    ImportBatch.objects.filter(pk=batch.pk).update(
        updated_at=timezone.now() - timedelta(minutes=10)
    )
    assert sweep_imports() == 1  # the periodic sweep re-enqueues it (after commit)
    run_import(batch.pk)
    batch.refresh_from_db()
    assert batch.status == "done"
    assert (batch.processed_orders, batch.created_orders) == (3, 3)
    assert set(Order.objects.values_list("external_id", flat=True)) == {"M-2", "M-3"}


def test_an_unexpected_failure_stops_the_batch_and_says_so(market, stocked_product, monkeypatch):
    batch = ImportBatch.objects.create(
        channel=market, filename="a.csv", sha256="x",
        content=csv_text(row("M-1", "TEE-BLK-M", 1), row("M-2", "TEE-BLK-M", 1, email="b@x.com")),
        status=ImportBatch.Status.QUEUED,
    )  # fmt: skip
    calls = []

    def boom(channel, order):
        calls.append(order.external_id)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return original(channel, order)

    original = imports._place
    monkeypatch.setattr(imports, "_place", boom)
    with pytest.raises(RuntimeError):
        imports.import_batch_run(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == "failed"
    assert (batch.processed_orders, batch.created_orders) == (1, 1)
    assert (
        "The import stopped (RuntimeError: database went away). 1 of 2"
        in batch.errors[-1]["message"]
    )
