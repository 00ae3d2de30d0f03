from datetime import date

from ..consumer_law import (
    default_days,
    is_in_window,
    notice_is_late,
    notice_window,
    term_min_days,
)


def test_window_of_the_default_settings():
    assert notice_window(30) == (119, 61)
    assert is_in_window(90, 30)
    assert not is_in_window(40, 30)  # 10 days before the deadline
    assert not is_in_window(150, 30)  # 120 days before the deadline


def test_window_inside_the_term():
    assert term_min_days(1, "month") == 28
    assert term_min_days(3, "month") == 88
    assert term_min_days(1, "year") == 365
    assert term_min_days(0, "month") is None
    assert notice_window(0, 28) is None  # a 1-month term cannot hold it
    assert notice_window(30, term_min_days(3, "month")) == (87, 61)


def test_defaults_fit_any_term():
    assert default_days(None) == (90, 30, 60)
    assert default_days(365) == (90, 30, 60)
    for months in range(1, 13):
        min_days = term_min_days(months, "month")
        notice, refusal, alert = default_days(min_days)
        assert 0 <= refusal <= notice < min_days
        assert alert <= notice
        if notice_window(refusal, min_days):
            assert is_in_window(notice, refusal, min_days), months


def test_late_notice():
    deadline = date(2027, 12, 1)
    assert not notice_is_late(date(2027, 11, 1), deadline)
    assert notice_is_late(date(2027, 11, 2), deadline)
