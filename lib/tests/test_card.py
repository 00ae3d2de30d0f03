from datetime import date

import pytest

from lib import card


def test_retry_plan_then_reminders():
    day = date(2027, 2, 1)
    assert card.next_retry(1, day) == date(2027, 2, 2)
    assert card.next_retry(2, date(2027, 2, 2)) == date(2027, 2, 5)
    assert card.next_retry(3, date(2027, 2, 5)) == date(2027, 2, 12)
    assert card.next_retry(4, date(2027, 2, 12)) is None
    assert card.next_retry(0, day) is None


def test_custom_plan():
    assert card.next_retry(1, date(2027, 2, 1), plan=(2,)) == date(2027, 2, 3)
    assert card.next_retry(2, date(2027, 2, 3), plan=(2,)) is None


def test_retry_plan_parsed_from_the_company_setting():
    assert card.parse_retry_plan("1, 3,7") == (1, 3, 7)
    for bad in ("", "1,0", "a", "-1"):
        with pytest.raises(ValueError):
            card.parse_retry_plan(bad)
