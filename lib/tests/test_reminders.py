from datetime import date

from lib import reminders

DUE = date(2027, 3, 31)
OFFSETS = [-5, 0, 7, 15, 30]


def test_nothing_before_the_first_step():
    assert reminders.due_step(DUE, OFFSETS, -1, date(2027, 3, 25)) is None


def test_courtesy_notice_five_days_before():
    assert reminders.due_step(DUE, OFFSETS, -1, date(2027, 3, 26)) == 0


def test_each_step_in_turn():
    assert reminders.due_step(DUE, OFFSETS, 0, date(2027, 3, 31)) == 1
    assert reminders.due_step(DUE, OFFSETS, 1, date(2027, 4, 7)) == 2
    assert reminders.due_step(DUE, OFFSETS, 1, date(2027, 4, 6)) is None


def test_only_the_latest_missed_step_is_sent():
    assert reminders.due_step(DUE, OFFSETS, -1, date(2027, 4, 20)) == 3


def test_nothing_after_the_last_step():
    assert reminders.due_step(DUE, OFFSETS, 4, date(2028, 1, 1)) is None


def test_next_step_and_days_late():
    assert reminders.next_step(DUE, OFFSETS, 1) == (2, date(2027, 4, 7))
    assert reminders.next_step(DUE, OFFSETS, 4) == (None, None)
    assert reminders.days_late(DUE, date(2027, 4, 7)) == 7
    assert reminders.days_late(DUE, date(2027, 3, 26)) == 0
