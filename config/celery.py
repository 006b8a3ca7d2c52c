import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("orderline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Durable rows left pending (broker outage, killed worker) are re-enqueued.
    "sweep-notifications": {"task": "orders.tasks.sweep_notifications", "schedule": 60.0},
    "sweep-documents": {"task": "invoicing.tasks.sweep_documents", "schedule": 60.0},
    "sweep-imports": {"task": "orders.tasks_import.sweep_imports", "schedule": 60.0},
    "sweep-restock-alerts": {"task": "inventory.tasks.sweep_restock_alerts", "schedule": 300.0},
    # Tracking (issue C): poll carriers that do not push; late parcels; delivery feedback.
    "tracking-sync-due": {"task": "fulfillment.tasks.tracking_sync_due", "schedule": 300.0},
    "tracking-unmatched-sweep": {
        "task": "fulfillment.tasks.tracking_unmatched_sweep",
        "schedule": 600.0,
    },
    "shipments-late-notify": {
        "task": "fulfillment.tasks.shipments_late_notify",
        "schedule": 3600.0,
    },
    "feedback-requests-due": {
        "task": "fulfillment.tasks.feedback_requests_due",
        "schedule": 3600.0,
    },
    # Used idempotency keys are kept a week, then purged.
    "purge-idempotency-keys": {"task": "orders.tasks.purge_idempotency_keys", "schedule": 86400.0},
}
