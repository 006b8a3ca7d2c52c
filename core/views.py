from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _database_state() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:
        return {"ok": False, "error": exc.__class__.__name__}


def _broker_state() -> dict:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = (
                conn.transport_cls
                if isinstance(conn.transport_cls, str)
                else conn.transport.driver_type
            )
        return {"ok": True, "transport": str(transport)}
    except Exception as exc:
        return {"ok": False, "error": exc.__class__.__name__}


@never_cache
@require_GET
def healthz(request):
    """Liveness and readiness: 200 when the database and the broker both answer."""
    db = _database_state()
    broker = _broker_state()
    ok = db["ok"] and broker["ok"]
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "database": db, "broker": broker},
        status=200 if ok else 503,
    )
