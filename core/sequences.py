from django.db import connection, transaction

from .models import Sequence


def sequence_next(*, name: str) -> int:
    """Return the next value of the named sequence: one statement in the common case.

    Must run inside a transaction: the incremented row stays locked until the caller commits,
    so numbers are handed out in commit order and a rolled-back transaction gives its number
    back — the series stays gapless."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("sequence_next must run inside transaction.atomic()")
    table = connection.ops.quote_name(Sequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_value = last_value + 1 WHERE name = %s RETURNING last_value",  # noqa: S608
            [name],
        )
        row = cursor.fetchone()
    if row is not None:
        return row[0]
    Sequence.objects.get_or_create(name=name)  # the first number of a new series
    return sequence_next(name=name)
