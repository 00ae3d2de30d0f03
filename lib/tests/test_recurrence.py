from datetime import date

import pytest

from lib import recurrence


def test_monthly_factor_month_quarter_year():
    assert recurrence.monthly_factor(1, "month") == 1.0
    assert recurrence.monthly_factor(3, "month") == pytest.approx(1 / 3)
    assert recurrence.monthly_factor(1, "year") == pytest.approx(1 / 12)
    assert recurrence.monthly_factor(2, "year") == pytest.approx(1 / 24)


def test_monthly_factor_days_and_weeks_use_average_month():
    # 30.4375 days in an average month: a 30-day period is slightly more than 1/month
    assert recurrence.monthly_factor(30, "day") == pytest.approx(30.4375 / 30)
    assert recurrence.monthly_factor(1, "week") == pytest.approx(30.4375 / 7)


@pytest.mark.parametrize("interval", [0, -1, 1.5, None])
def test_bad_interval_is_refused(interval):
    with pytest.raises(ValueError, match="interval"):
        recurrence.monthly_factor(interval, "month")


def test_bad_unit_is_refused():
    with pytest.raises(ValueError, match="unit"):
        recurrence.monthly_factor(1, "fortnight")


def test_add_periods_keeps_month_end():
    anchor = date(2027, 1, 31)
    assert recurrence.add_periods(anchor, 1, 1, "month") == date(2027, 2, 28)
    assert recurrence.add_periods(anchor, 2, 1, "month") == date(2027, 3, 31)
    assert recurrence.add_periods(date(2028, 1, 31), 1, 1, "month") == date(2028, 2, 29)


def test_add_periods_days_weeks_years():
    anchor = date(2027, 1, 1)
    assert recurrence.add_periods(anchor, 2, 10, "day") == date(2027, 1, 21)
    assert recurrence.add_periods(anchor, 1, 2, "week") == date(2027, 1, 15)
    assert recurrence.add_periods(date(2028, 2, 29), 1, 1, "year") == date(2029, 2, 28)


def test_commitment_end():
    assert recurrence.commitment_end(date(2027, 1, 1), 12, "month") == date(
        2027, 12, 31
    )
    assert recurrence.commitment_end(date(2027, 1, 15), 1, "year") == date(2028, 1, 14)
    assert recurrence.commitment_end(date(2027, 1, 15), 0, "month") is None


def test_last_day_of_month_and_as_date():
    assert recurrence.is_last_day_of_month(date(2027, 2, 28))
    assert not recurrence.is_last_day_of_month(date(2028, 2, 28))
    assert recurrence.as_date("2027-03-01") == date(2027, 3, 1)
