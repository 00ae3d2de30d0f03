"""Day arithmetic of contract amendments: which days of a contract line are
billed, which are due, and how they split into the natural billing periods.

Days are handled as sets of ordinals (``date.toordinal()``): a contract line
is in force on a set of days, an invoice line bills a set of days, and the
adjustment of an amendment is the difference between the two. Plain Python,
tested by pytest without a database.
"""

from datetime import date


def days_between(start, end):
    """The set of days from ``start`` to ``end``, both included (empty when
    ``end`` is before ``start``)."""
    if not start or not end or end < start:
        return set()
    return set(range(start.toordinal(), end.toordinal() + 1))


def to_ranges(days):
    """Contiguous ``(start, end)`` date ranges of a set of day ordinals, in order."""
    ranges = []
    for day in sorted(days):
        if ranges and day == ranges[-1][1] + 1:
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return [(date.fromordinal(lo), date.fromordinal(hi)) for lo, hi in ranges]


def line_days(line_start, line_end, window_start, window_end):
    """Days of ``[window_start, window_end]`` on which a line that runs from
    ``line_start`` to ``line_end`` (``None``: open) is in force."""
    start = max(line_start, window_start) if line_start else window_start
    end = min(line_end, window_end) if line_end else window_end
    return days_between(start, end)


def split_by_period(days, natural_period):
    """Cut a set of days into ranges that each lie within one natural period.

    ``natural_period(day)`` returns ``(start, end)`` of the natural period of a
    ``date``. Returns ``(start, end, full_start, full_end)`` tuples, in order.
    """
    pieces = []
    for start, end in to_ranges(days):
        day = start
        while day <= end:
            full_start, full_end = natural_period(day)
            piece_end = min(end, full_end)
            pieces.append((day, piece_end, full_start, full_end))
            day = date.fromordinal(piece_end.toordinal() + 1)
    return pieces
