from datetime import date

import pytest

from lib import recurrence as r


def _due(start, today, interval=1, unit="month", mode="advance", align=False, **kw):
    anchor = r.aligned_anchor(start, interval, unit) if align else start
    return r.due_periods(
        anchor=anchor,
        date_start=start,
        next_start=kw.pop("next_start", start),
        interval=interval,
        unit=unit,
        mode=mode,
        today=today,
        **kw,
    )


def test_month_end_stays_month_end():
    periods = _due(date(2027, 1, 31), date(2027, 3, 31))
    assert [p.invoice_date for p in periods] == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
    ]
    assert periods[0].end == date(2027, 2, 27)
    assert all(p.is_full for p in periods)


def test_leap_year_february():
    periods = _due(date(2028, 1, 31), date(2028, 2, 29))
    assert periods[-1].invoice_date == date(2028, 2, 29)


def test_quarterly_yearly_and_n_days():
    quarterly = _due(date(2027, 1, 1), date(2027, 12, 31), interval=3)
    assert [p.start.month for p in quarterly] == [1, 4, 7, 10]
    assert quarterly[0].end == date(2027, 3, 31)
    yearly = _due(date(2027, 3, 1), date(2029, 3, 1), unit="year")
    assert [p.start for p in yearly] == [
        date(2027, 3, 1),
        date(2028, 3, 1),
        date(2029, 3, 1),
    ]
    ten_days = _due(date(2027, 1, 1), date(2027, 1, 25), interval=10, unit="day")
    assert [(p.start, p.end) for p in ten_days] == [
        (date(2027, 1, 1), date(2027, 1, 10)),
        (date(2027, 1, 11), date(2027, 1, 20)),
        (date(2027, 1, 21), date(2027, 1, 30)),
    ]


def test_arrears_dates_invoice_at_period_end_and_nothing_ahead():
    periods = _due(date(2027, 1, 1), date(2027, 3, 30), mode="arrears")
    assert [p.invoice_date for p in periods] == [date(2027, 1, 31), date(2027, 2, 28)]


def test_advance_bills_nothing_ahead_of_its_date():
    assert _due(date(2027, 2, 1), date(2027, 1, 31)) == []
    assert len(_due(date(2027, 1, 1), date(2027, 1, 31))) == 1


def test_catch_up_from_next_start():
    periods = _due(date(2027, 1, 1), date(2027, 4, 15), next_start=date(2027, 2, 1))
    assert [p.start for p in periods] == [
        date(2027, 2, 1),
        date(2027, 3, 1),
        date(2027, 4, 1),
    ]


def test_calendar_alignment_prorates_first_period():
    periods = _due(date(2027, 1, 15), date(2027, 2, 1), align=True)
    first, second = periods
    assert (first.start, first.end) == (date(2027, 1, 15), date(2027, 1, 31))
    assert r.proration_ratio(first) == pytest.approx(17 / 31)
    assert second.is_full and second.start == date(2027, 2, 1)


def test_alignment_to_quarter_and_year():
    assert r.aligned_anchor(date(2027, 2, 15), 3, "month") == date(2027, 4, 1)
    assert r.aligned_anchor(date(2027, 7, 1), 6, "month") == date(2027, 7, 1)
    assert r.aligned_anchor(date(2027, 8, 2), 6, "month") == date(2028, 1, 1)
    assert r.aligned_anchor(date(2027, 3, 10), 1, "year") == date(2028, 1, 1)
    assert r.aligned_anchor(date(2027, 1, 6), 1, "week") == date(2027, 1, 11)


def test_close_in_middle_of_period_is_cut_and_nothing_after():
    periods = _due(date(2027, 1, 1), date(2027, 6, 1), last_day=date(2027, 2, 14))
    assert [(p.start, p.end) for p in periods] == [
        (date(2027, 1, 1), date(2027, 1, 31)),
        (date(2027, 2, 1), date(2027, 2, 14)),
    ]
    assert r.proration_ratio(periods[1]) == pytest.approx(14 / 28)


def test_suspension_days_are_not_billed():
    period = _due(date(2027, 1, 1), date(2027, 1, 31), mode="arrears")[0]
    paused = [(date(2027, 1, 11), date(2027, 1, 20))]
    assert r.proration_ratio(period, paused) == pytest.approx(21 / 31)
    assert r.proration_ratio(period, [(date(2026, 12, 1), None)]) == 0.0


def test_period_index_around_month_ends():
    anchor = date(2027, 1, 31)
    assert r.period_index(anchor, date(2027, 2, 27), 1, "month") == 0
    assert r.period_index(anchor, date(2027, 2, 28), 1, "month") == 1
    assert r.period_index(anchor, date(2027, 1, 30), 1, "month") == -1


def _feb():
    return r.Period(
        date(2027, 2, 1),
        date(2027, 2, 28),
        date(2027, 2, 1),
        date(2027, 2, 28),
        date(2027, 2, 1),
    )


def test_unbilled_parts_leave_out_billed_days():
    feb = _feb()
    assert r.unbilled_parts(feb, []) == [feb]
    # The renewal reproduction: 15-28 Feb billed, 1-14 Feb cancelled.
    (part,) = r.unbilled_parts(feb, [(date(2027, 2, 15), date(2027, 2, 28))])
    assert (part.start, part.end, part.days, part.full_days) == (
        date(2027, 2, 1),
        date(2027, 2, 14),
        14,
        28,
    )
    assert r.proration_ratio(part) == 0.5
    parts = r.unbilled_parts(
        feb,
        [
            (date(2027, 2, 20), date(2027, 3, 31)),
            (date(2027, 1, 1), date(2027, 2, 3)),
            (date(2027, 2, 10), date(2027, 2, 12)),
        ],
    )
    assert [(p.start.day, p.end.day) for p in parts] == [(4, 9), (13, 19)]
    assert r.unbilled_parts(feb, [(date(2027, 1, 1), date(2027, 3, 1))]) == []
