import functools
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .choices import NotificationStatus
from .models import Notification


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=5,
    autoretry_for=(OSError, ConnectionError),
    retry_backoff=30,
    retry_backoff_max=900,
)
def send_notification(self, notification_id: int) -> None:
    """Send one customer email. Safe to run twice: a sent row is left alone."""
    from .services import notification_send

    notification_send(notification_id=notification_id)


@shared_task
def purge_idempotency_keys() -> int:
    from .idempotency import idempotency_purge

    return idempotency_purge()


@shared_task
def sweep_notifications() -> int:
    """Re-enqueue emails left pending (a broker outage, a killed worker). Returns how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.ORDERLINE_SWEEP_AFTER_SECONDS)
    ids = list(
        Notification.objects.filter(
            status=NotificationStatus.PENDING, updated_at__lt=cutoff, attempts__lt=10
        ).values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        transaction.on_commit(functools.partial(send_notification.delay, pk))
    Notification.objects.filter(pk__in=ids).update(updated_at=timezone.now())
    return len(ids)


from .tasks_import import run_import, sweep_imports  # noqa: E402, F401  (registers the CSV import tasks)
