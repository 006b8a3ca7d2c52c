from django.db import transaction
from django.db.models import F

from .models import Sequence


def sequence_next(*, name: str) -> int:
    """Return the next value of the named sequence. Must run inside a transaction:
    the row stays locked until the caller commits, which makes the series gapless."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("sequence_next must run inside transaction.atomic()")
    Sequence.objects.get_or_create(name=name)
    Sequence.objects.filter(name=name).update(last_value=F("last_value") + 1)
    return Sequence.objects.select_for_update().values_list("last_value", flat=True).get(name=name)
