"""Payment reminder schedule: which step of a policy is due for an invoice.

A policy is a list of steps, each with an offset in days from the invoice due
date (negative: before it, 0: on the day, positive: after it). Steps are sent
in order, each at most once; when the reminders were not run for a while and
several steps are due, only the latest due one goes out.
"""

from datetime import timedelta


def step_date(due_date, offset):
    return due_date + timedelta(days=offset)


def due_step(due_date, offsets, last_sent_index, today):
    """Index (in ``offsets``, sorted ascending) of the step to send today, or
    ``None``. ``last_sent_index`` is the index of the last step sent, -1 if none.
    Only the latest due step is returned: earlier missed ones are skipped."""
    chosen = None
    for index in range(last_sent_index + 1, len(offsets)):
        if step_date(due_date, offsets[index]) <= today:
            chosen = index
        else:
            break
    return chosen


def next_step(due_date, offsets, last_sent_index):
    """(index, date) of the next step after ``last_sent_index``, or (None, None)."""
    index = last_sent_index + 1
    if index >= len(offsets):
        return None, None
    return index, step_date(due_date, offsets[index])


def days_late(due_date, today):
    """Days past the due date (0 on the day or before it)."""
    return max((today - due_date).days, 0)
