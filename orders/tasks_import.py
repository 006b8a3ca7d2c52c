"""Celery tasks of the CSV import. Registered by a one-line import at the end of orders/tasks.py
(autodiscovery only finds tasks.py)."""

import functools

from celery import shared_task
from django.db import transaction


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_import(batch_id: int) -> None:
    """Import one queued batch. Safe to run twice: the batch row says what is done."""
    from .imports import import_batch_run

    import_batch_run(batch_id=batch_id)


@shared_task
def sweep_imports() -> int:
    """Re-enqueue batches left queued (broker outage) or running without a worker (killed)."""
    from .imports import import_batch_sweep

    ids = import_batch_sweep()
    for pk in ids:
        transaction.on_commit(functools.partial(run_import.delay, pk))
    return len(ids)
