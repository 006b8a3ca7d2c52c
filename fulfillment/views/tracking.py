"""Staff screens for what happens after the parcel leaves: the attention list (tracking
problems, late and silent parcels) and the customers' delivery ratings."""

from django.conf import settings
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from core import roles
from core.roles import staff_required

from ..selectors import (
    ATTENTION_REASONS,
    feedback_summary,
    shipments_attention_counts,
    shipments_needing_attention,
)
from ..selectors import (
    feedback_list as feedback_rows,
)

ATTENTION_LIMIT = 300
FEEDBACK_LIMIT = 200
FEEDBACK_ROLES = (roles.MANAGER, roles.CUSTOMER_SERVICE)


@staff_required
@require_GET
@vary_on_headers("HX-Request")
def attention(request):
    """Shipments that need a person: delivery problem, returned to sender, past the
    expected date, or no carrier news for 3 days. `?fragment=counts` is the dashboard tile."""
    counts = shipments_attention_counts(user=request.user)
    if request.GET.get("fragment") == "counts":
        return TemplateResponse(
            request,
            "fulfillment/attention.html#counts",
            {"counts": counts, "reasons": ATTENTION_REASONS},
        )
    reason = request.GET.get("reason", "")
    if reason not in dict(ATTENTION_REASONS):
        reason = ""
    rows = list(
        shipments_needing_attention(user=request.user, reason=reason or None)[:ATTENTION_LIMIT]
    )
    labels = dict(ATTENTION_REASONS)
    for s in rows:
        s.reasons = [
            (key, labels[key]) for key, _ in ATTENTION_REASONS if getattr(s, f"is_{key}", False)
        ]
    views = [("", "All", counts["total"])] + [
        (key, label, counts[key]) for key, label in ATTENTION_REASONS
    ]
    return TemplateResponse(
        request,
        "fulfillment/attention.html",
        {
            "rows": rows,
            "reason": reason,
            "views": views,
            "counts": counts,
            "limit": ATTENTION_LIMIT,
        },
    )


@staff_required(roles=FEEDBACK_ROLES)
@require_GET
def feedback_list(request):
    """Delivery ratings, newest first, filtered by rating, with the average."""
    try:
        rating = int(request.GET.get("rating", ""))
    except ValueError:
        rating = None
    if rating not in range(1, 6):
        rating = None
    summary = feedback_summary(user=request.user)
    rows = list(feedback_rows(user=request.user, rating=rating)[:FEEDBACK_LIMIT])
    return TemplateResponse(
        request,
        "fulfillment/feedback_list.html",
        {
            "rows": rows,
            "rating": rating,
            "summary": summary,
            "limit": FEEDBACK_LIMIT,
            "feedback_days": settings.FEEDBACK_REQUEST_DAYS,
        },
    )
