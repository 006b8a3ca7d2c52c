"""Background work of inventory: the managers' restock email and its sweep."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .models import RestockAlert


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=5,
    autoretry_for=(OSError, ConnectionError),
    retry_backoff=30,
    retry_backoff_max=900,
)
def send_restock_alert(self, alert_id: int) -> None:
    """Email the managers about one restock alert. Safe to run twice: notified_at is the marker."""
    from .services import restock_alert_notify

    restock_alert_notify(alert_id=alert_id)


@shared_task
def sweep_restock_alerts() -> int:
    """Re-enqueue open alerts whose email has not gone out (a broker outage, a killed
    worker). Returns how many were re-enqueued."""
    cutoff = timezone.now() - timedelta(seconds=settings.ORDERLINE_SWEEP_AFTER_SECONDS)
    ids = list(
        RestockAlert.objects.filter(
            closed_at__isnull=True, notified_at__isnull=True, opened_at__lt=cutoff
        ).values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        send_restock_alert.delay(pk)
    return len(ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def check_restock_alerts(product_ids: list[int]) -> int:
    """Open or close restock alerts after reservations moved availability. Safe to run twice."""
    from .services import restock_alerts_check

    return len(restock_alerts_check(product_ids=product_ids))
