"""Billing recurrence arithmetic: periods, month-end anchoring, MRR factors.

Everything here works on ``datetime.date`` and plain numbers so that it can be
tested without a database. The Odoo models call these functions.
"""

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

UNITS = ("day", "week", "month", "year")

# Average number of days and weeks in a month, used to normalise a recurring
# amount to one month (MRR). 365.25 / 12 accounts for leap years.
ONE_DAY = timedelta(days=1)

DAYS_PER_MONTH = 365.25 / 12
WEEKS_PER_MONTH = DAYS_PER_MONTH / 7


def check_rule(interval, unit):
    """Raise ``ValueError`` when a billing rule is not usable."""
    if unit not in UNITS:
        raise ValueError(f"unknown billing unit {unit!r}, expected one of {UNITS}")
    if not isinstance(interval, int) or interval < 1:
        raise ValueError(f"billing interval must be an integer >= 1, got {interval!r}")


def months_per_period(interval, unit):
    """Length of one billing period expressed in months (a float)."""
    check_rule(interval, unit)
    if unit == "month":
        return float(interval)
    if unit == "year":
        return 12.0 * interval
    if unit == "week":
        return interval / WEEKS_PER_MONTH
    return interval / DAYS_PER_MONTH


def monthly_factor(interval, unit):
    """Factor that turns the amount of one period into a monthly amount (MRR)."""
    return 1.0 / months_per_period(interval, unit)


def add_periods(anchor, count, interval, unit):
    """Start of the period ``count`` periods after ``anchor``.

    Always computed from the anchor, never step by step, so that month ends
    stay month ends: a contract anchored on 31 January gives 28/29 February,
    then 31 March (not 28 March).
    """
    check_rule(interval, unit)
    if unit == "day":
        return anchor + timedelta(days=interval * count)
    if unit == "week":
        return anchor + timedelta(weeks=interval * count)
    if unit == "month":
        return anchor + relativedelta(months=interval * count)
    return anchor + relativedelta(years=interval * count)


def add_duration(start, length, unit):
    """``start`` moved by ``length`` units (commitment and renewal terms)."""
    return add_periods(start, 1, length, unit) if length else start


def commitment_end(start, length, unit):
    """Last day of a commitment of ``length`` units starting on ``start``.

    A 12-month commitment starting on 1 January 2027 ends on 31 December 2027.
    ``None`` when the length is 0 (open-ended contract).
    """
    if not length:
        return None
    return add_duration(start, length, unit) - timedelta(days=1)


def is_last_day_of_month(day):
    return (day + timedelta(days=1)).month != day.month


def as_date(value):
    """Accept a ``date`` or an ISO string (for callers outside the ORM)."""
    if isinstance(value, date):
        return value
    return date.fromisoformat(value)
