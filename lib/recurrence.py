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


# --------------------------------------------------------------------------
# Billing periods
# --------------------------------------------------------------------------


class Period:
    """One billed period of a contract.

    ``start``/``end`` are the days actually billed (both included);
    ``full_start``/``full_end`` the natural period they belong to, whose length
    is the denominator of the proration. ``invoice_date`` is the start (billing
    in advance) or the end (in arrears) of the billed days.
    """

    __slots__ = ("start", "end", "full_start", "full_end", "invoice_date")

    def __init__(self, start, end, full_start, full_end, invoice_date):
        self.start = start
        self.end = end
        self.full_start = full_start
        self.full_end = full_end
        self.invoice_date = invoice_date

    def __repr__(self):
        return f"Period({self.start} .. {self.end}, invoice {self.invoice_date})"

    def __eq__(self, other):
        return isinstance(other, Period) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__
        )

    def __hash__(self):
        return hash((self.start, self.end))

    @property
    def full_days(self):
        return (self.full_end - self.full_start).days + 1

    @property
    def days(self):
        return (self.end - self.start).days + 1

    @property
    def is_full(self):
        return self.start == self.full_start and self.end == self.full_end


def aligned_anchor(start, interval, unit):
    """First calendar boundary on or after ``start`` for the rule.

    Months bill on the 1st of the month; when the interval divides a year (3, 6)
    the boundaries are quarters or half-years starting in January. Years bill on
    1 January, weeks on Mondays. Days have no calendar: ``start`` is returned.
    """
    check_rule(interval, unit)
    if unit == "day":
        return start
    if unit == "week":
        return start + timedelta(days=(7 - start.weekday()) % 7)
    if unit == "year":
        if start.month == 1 and start.day == 1:
            return start
        return date(start.year + 1, 1, 1)
    step = interval if 12 % interval == 0 else 1
    candidate = date(start.year, start.month, 1)
    if candidate < start:
        candidate += relativedelta(months=1)
    while (candidate.month - 1) % step:
        candidate += relativedelta(months=1)
    return candidate


def period_index(anchor, day, interval, unit):
    """Index ``k`` of the period containing ``day``:
    ``add_periods(anchor, k) <= day < add_periods(anchor, k + 1)``.
    Negative before the anchor."""
    check_rule(interval, unit)
    if unit in ("day", "week"):
        length = interval * (7 if unit == "week" else 1)
        return (day - anchor).days // length
    months = (day.year - anchor.year) * 12 + day.month - anchor.month
    per = interval * (12 if unit == "year" else 1)
    k = months // per
    # The month-based estimate can be one off around month ends.
    while add_periods(anchor, k, interval, unit) > day:
        k -= 1
    while add_periods(anchor, k + 1, interval, unit) <= day:
        k += 1
    return k


def natural_period(anchor, day, interval, unit):
    """(start, end) of the natural period containing ``day``."""
    k = period_index(anchor, day, interval, unit)
    start = add_periods(anchor, k, interval, unit)
    end = add_periods(anchor, k + 1, interval, unit) - ONE_DAY
    return start, end


def period_from(anchor, day, interval, unit, mode, date_start, last_day=None):
    """The billed period that begins on ``day``: it runs to the end of the natural
    period containing ``day``, cut at ``last_day`` (close or end of commitment)
    and never before ``date_start``. ``None`` when nothing is left to bill."""
    day = max(day, date_start)
    if last_day and day > last_day:
        return None
    full_start, full_end = natural_period(anchor, day, interval, unit)
    end = min(full_end, last_day) if last_day else full_end
    invoice_date = end if mode == "arrears" else day
    return Period(day, end, full_start, full_end, invoice_date)


def due_periods(
    *,
    anchor,
    date_start,
    next_start,
    interval,
    unit,
    mode,
    today,
    last_day=None,
    limit=366,
):
    """Every period from ``next_start`` whose invoice date is on or before
    ``today``, oldest first (the catch-up of missed runs). Nothing is returned
    ahead of its date."""
    periods = []
    day = next_start
    while len(periods) < limit:
        period = period_from(anchor, day, interval, unit, mode, date_start, last_day)
        if period is None or period.invoice_date > today:
            break
        periods.append(period)
        day = period.end + ONE_DAY
    return periods


def overlap_days(start, end, intervals):
    """Number of days of [start, end] covered by ``intervals``, a list of
    (from, to) pairs where ``to`` may be ``None`` (still running)."""
    covered = set()
    for begin, finish in intervals:
        lo = max(start, begin)
        hi = min(end, finish) if finish else end
        if lo <= hi:
            covered.update(range(lo.toordinal(), hi.toordinal() + 1))
    return len(covered)


def proration_ratio(period, paused=()):
    """Share of the natural period actually billed: billed days, less the
    suspended ones, over the days of the natural period."""
    days = period.days - overlap_days(period.start, period.end, paused)
    return max(days, 0) / period.full_days


def unbilled_parts(period, billed):
    """The parts of ``period`` whose days are in none of the ``billed`` ranges
    ((start, end) pairs, both days included), oldest first. Each part keeps the
    natural period of ``period``, so that it is prorated over the same days."""
    parts = []
    cursor = period.start
    for start, end in sorted(billed):
        if end < cursor or start > period.end:
            continue
        if start > cursor:
            parts.append(
                Period(
                    cursor,
                    start - ONE_DAY,
                    period.full_start,
                    period.full_end,
                    period.invoice_date,
                )
            )
        cursor = max(cursor, end + ONE_DAY)
        if cursor > period.end:
            return parts
    parts.append(
        Period(
            cursor, period.end, period.full_start, period.full_end, period.invoice_date
        )
    )
    return parts
