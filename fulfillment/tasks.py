"""Celery tasks for fulfillment: tracking sync, feedback requests."""
