"""A real Celery worker imports a queued CSV batch: the web process only queues it (after
commit); a separate process reads the committed batch, places the orders and counts."""

import time

import pytest

from orders import imports
from orders.models import ImportBatch, Order
from tests.factories import ChannelFactory
from tests.test_celery_worker import worker  # noqa: F401  (the real worker fixture)

from .test_import import csv_text, row

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_imports_a_queued_batch(worker, stocked_product, manager):  # noqa: F811
    proc, _ = worker
    market = ChannelFactory(slug="market", name="Marketplace", kind="marketplace")
    text = csv_text(
        row("W-1", "TEE-BLK-M", 1),
        row("W-2", "TEE-BLK-M", 2, email="b@example.com"),
        row("W-3", "NOPE", 1, email="c@example.com"),
    )
    batch = imports.import_batch_create(
        channel=market, filename="w.csv", data=text.encode(), actor=manager
    )
    imports.import_batch_queue(batch=batch, actor=manager)  # enqueued on commit (autocommit)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batch.refresh_from_db()
        if batch.status in ("done", "failed"):
            break
        if proc.poll() is not None:
            pytest.fail("worker died:\n" + proc.stdout.read())
        time.sleep(0.3)
    else:
        proc.terminate()
        pytest.fail(
            "the worker did not import in 60 s:\n" + proc.communicate(timeout=20)[0][-4000:]
        )

    assert batch.status == "done"
    assert (batch.total_orders, batch.processed_orders, batch.created_orders) == (3, 3, 2)
    assert set(Order.objects.values_list("external_id", flat=True)) == {"W-1", "W-2"}
    assert [p["line"] for p in batch.errors if p["kind"] == "error"] == [4]
    assert ImportBatch.objects.get(pk=batch.pk).skipped_orders == 0
