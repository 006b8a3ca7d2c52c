import functools
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .choices import DocumentStatus
from .models import CreditNote, Invoice


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=4,
    autoretry_for=(Exception,),
    retry_backoff=10,
    retry_backoff_max=600,
)
def render_document(self, kind: str, pk: int) -> None:
    """Render an invoice or credit note PDF. Safe to run twice."""
    from .services import document_render

    document_render(kind=kind, pk=pk)


@shared_task
def sweep_documents() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.ORDERLINE_SWEEP_AFTER_SECONDS)
    count = 0
    for kind, model in (("invoice", Invoice), ("credit_note", CreditNote)):
        ids = list(
            model.objects.filter(
                pdf_status=DocumentStatus.PENDING, updated_at__lt=cutoff
            ).values_list("pk", flat=True)[:200]
        )
        for pk in ids:
            transaction.on_commit(functools.partial(render_document.delay, kind, pk))
        model.objects.filter(pk__in=ids).update(updated_at=timezone.now())
        count += len(ids)
    return count
