"""Card payments: the retry plan of a declined charge."""

from datetime import timedelta

# A declined charge is retried 1, 3 and 7 days after the previous attempt.
RETRY_DAYS = (1, 3, 7)


def next_retry(failed_attempts, failed_on, plan=RETRY_DAYS):
    """Date of the next attempt after ``failed_attempts`` declined charges (the
    last one on ``failed_on``), or ``None`` when the plan is exhausted and the
    invoice goes to the payment reminders."""
    if failed_attempts < 1 or failed_attempts > len(plan):
        return None
    return failed_on + timedelta(days=plan[failed_attempts - 1])


def parse_retry_plan(text):
    """``"1,3,7"`` -> ``(1, 3, 7)``; ``ValueError`` unless whole days above 0."""
    days = tuple(int(part) for part in (text or "").split(",") if part.strip())
    if not days or any(day < 1 for day in days):
        raise ValueError(f"invalid retry plan {text!r}")
    return days
