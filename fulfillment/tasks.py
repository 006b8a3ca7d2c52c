"""Celery tasks for fulfillment: tracking sync, late parcels, feedback requests.

Beat triggers them (config/celery.py); the truth is in the database, so each is safe to run
twice or on two workers at once (shipments are claimed with SKIP LOCKED, emails dedupe)."""

from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def tracking_sync_due() -> dict:
    """Poll the carriers that do not push, for open shipments due a sync (one batch)."""
    from .tracking import tracking_sync_due as sync

    report = sync()
    return {"polled": report.polled, "events": report.events, "failed": report.failed}


@shared_task(acks_late=True, reject_on_worker_lost=True)
def shipments_late_notify() -> int:
    """Email the customer once about each parcel past its expected delivery date."""
    from .tracking import shipments_late_notify as notify

    return notify()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def feedback_requests_due() -> int:
    """Ask for a delivery rating FEEDBACK_REQUEST_DAYS after delivery, once per order."""
    from .feedback import feedback_requests_due as queue

    return queue()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def tracking_unmatched_sweep() -> int:
    """Apply kept carrier news whose tracking number now belongs to a shipment that left."""
    from .tracking import tracking_unmatched_sweep as sweep

    return sweep()
