from datetime import date

from lib import amendment as a
from lib import recurrence as r


def _monthly(day):
    return r.natural_period(date(2027, 1, 1), day, 1, "month")


def test_days_between_and_ranges():
    days = a.days_between(date(2027, 3, 16), date(2027, 3, 31))
    assert len(days) == 16
    assert a.to_ranges(days) == [(date(2027, 3, 16), date(2027, 3, 31))]
    assert a.days_between(date(2027, 3, 2), date(2027, 3, 1)) == set()


def test_to_ranges_splits_gaps():
    days = a.days_between(date(2027, 3, 1), date(2027, 3, 5)) | a.days_between(
        date(2027, 3, 10), date(2027, 3, 10)
    )
    assert a.to_ranges(days) == [
        (date(2027, 3, 1), date(2027, 3, 5)),
        (date(2027, 3, 10), date(2027, 3, 10)),
    ]


def test_line_days_open_and_closed_lines():
    window = (date(2027, 3, 1), date(2027, 3, 31))
    assert len(a.line_days(date(2027, 3, 16), None, *window)) == 16
    assert len(a.line_days(None, date(2027, 3, 15), *window)) == 15
    assert len(a.line_days(date(2027, 1, 1), date(2027, 2, 28), *window)) == 0
    # A line that ends the day before it starts was never in force.
    assert a.line_days(date(2027, 3, 16), date(2027, 3, 15), *window) == set()


def test_split_by_period_cuts_at_month_ends():
    days = a.days_between(date(2027, 2, 20), date(2027, 3, 10))
    assert a.split_by_period(days, _monthly) == [
        (date(2027, 2, 20), date(2027, 2, 28), date(2027, 2, 1), date(2027, 2, 28)),
        (date(2027, 3, 1), date(2027, 3, 10), date(2027, 3, 1), date(2027, 3, 31)),
    ]
