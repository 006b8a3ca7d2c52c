"""Working days: promised ship dates and expected delivery dates count Monday to Friday."""

import datetime

from django.utils import timezone


def add_working_days(day: datetime.date, days: int) -> datetime.date:
    """The working day `days` working days after `day` (`day` itself when 0 and a working day)."""
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    while days > 0:
        day += datetime.timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def promised_ship_date(
    *, placed_at: datetime.datetime, cutoff: datetime.time, handling_days: int
) -> datetime.date:
    """Placed before the cut-off on a working day: handling days count from that day (0 means it
    leaves the same day). After the cut-off, or on a weekend, they count from the next working day."""
    local = timezone.localtime(placed_at)
    start = local.date()
    if local.weekday() >= 5 or local.time() >= cutoff:
        start = add_working_days(start + datetime.timedelta(days=1), 0)
    return add_working_days(start, handling_days)
