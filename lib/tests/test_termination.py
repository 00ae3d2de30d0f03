from datetime import date

from ..termination import (
    FREE,
    NOTICE,
    RENEWED_END,
    TERM_END,
    can_refuse_renewal,
    termination_date,
)

TERM = {
    "date_end": date(2027, 12, 31),
    "refusal_deadline": date(2027, 12, 1),
    "renewed_end": date(2028, 12, 31),
    "auto_renew": True,
}


def test_within_the_term_it_ends_at_the_term_end():
    assert termination_date(date(2027, 6, 10), **TERM) == (date(2027, 12, 31), TERM_END)
    # The deadline day itself is still in time.
    assert termination_date(date(2027, 12, 1), **TERM) == (date(2027, 12, 31), TERM_END)


def test_past_the_deadline_it_ends_after_the_renewed_term():
    assert termination_date(date(2027, 12, 2), **TERM) == (
        date(2028, 12, 31),
        RENEWED_END,
    )
    refused = dict(TERM, renewal_refused=True)
    assert termination_date(date(2027, 12, 2), **refused)[1] == TERM_END


def test_late_notice_frees_the_consumer_from_the_renewal_day():
    free = dict(TERM, free_from=date(2027, 3, 1))
    assert termination_date(date(2027, 4, 15), **free) == (date(2027, 4, 15), FREE)
    assert termination_date(date(2027, 2, 15), **free)[1] == TERM_END


def test_open_ended_notice_and_paid_period():
    day = date(2027, 2, 10)
    assert termination_date(day) == (day, NOTICE)
    assert termination_date(day, paid_until=date(2027, 3, 31)) == (
        date(2027, 3, 31),
        NOTICE,
    )
    assert termination_date(day, paid_until=date(2027, 3, 31), notice_days=60) == (
        date(2027, 4, 11),
        NOTICE,
    )


def test_refusal_until_the_deadline_included():
    args = (date(2027, 12, 31), date(2027, 12, 1), True, False)
    assert can_refuse_renewal(date(2027, 12, 1), *args)
    assert not can_refuse_renewal(date(2027, 12, 2), *args)
    assert not can_refuse_renewal(
        date(2027, 6, 1), date(2027, 12, 31), None, True, False
    )
    assert not can_refuse_renewal(date(2027, 6, 1), *args[:2], False, False)
