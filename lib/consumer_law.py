"""French consumer law on tacit renewal (Code de la consommation, L215-1).

The professional informs the consumer in writing no earlier than three months
and no later than one month before the deadline to refuse the renewal. Settings
are in days before the end of the term, so the window is taken in days that hold
for any month: at least 31 days (the longest month) and at most 89 days (the
shortest three months, February to April).
"""

from dateutil.relativedelta import relativedelta

MIN_GAP_DAYS = 31
MAX_GAP_DAYS = 89
DEFAULT_NOTICE_DAYS = 90
DEFAULT_REFUSAL_DAYS = 30
DEFAULT_ALERT_DAYS = 60


def term_min_days(length, unit):
    """Fewest days a term of ``length`` ``unit`` ('month'/'year') can have, or
    None for an open-ended term."""
    if not length:
        return None
    if unit == "year":
        return 365 * length
    # n consecutive months have at least 30 * n - 2 days (28 for February).
    return 30 * length - 2


def notice_window(refusal_days, min_days=None):
    """(earliest, latest) notice, in days before the end, that respects L215-1
    with a refusal deadline ``refusal_days`` before the end, inside a term of at
    least ``min_days`` days; None when no notice can (the term is too short)."""
    earliest = refusal_days + MAX_GAP_DAYS
    latest = refusal_days + MIN_GAP_DAYS
    if min_days is not None:
        earliest = min(earliest, min_days - 1)
    if earliest < latest:
        return None
    return earliest, latest


def is_in_window(notice_days, refusal_days, min_days=None):
    window = notice_window(refusal_days, min_days)
    return bool(window) and window[1] <= notice_days <= window[0]


def default_days(min_days=None):
    """(notice, refusal, alert) days before the end that suit a term of at least
    ``min_days`` days: 90/30/60 when the term allows it, shorter otherwise, the
    notice always inside the term and, when the term allows, in the legal window."""
    if min_days is None or min_days > DEFAULT_NOTICE_DAYS:
        return DEFAULT_NOTICE_DAYS, DEFAULT_REFUSAL_DAYS, DEFAULT_ALERT_DAYS
    notice = max(min_days - 1, 0)
    refusal = max(min(DEFAULT_REFUSAL_DAYS, notice - MIN_GAP_DAYS), 0)
    alert = min(DEFAULT_ALERT_DAYS, notice)
    return notice, refusal, alert


def notice_is_late(day, refusal_deadline):
    """True when a notice sent on ``day`` is later than one month before the
    refusal deadline: L215-1 then lets a consumer end the contract at any time
    after the renewal."""
    return day > refusal_deadline - relativedelta(months=1)
