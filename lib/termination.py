"""When a customer's own termination takes effect (French Consumer Code,
L215-1 and L215-1-1), without a database: the portal shows this date before
the customer confirms, and the contract ends on it.

Rules, in this order:
- a consumer told late of a tacit renewal may end the contract at any time
  from the renewal date, free of charge (L215-1 al. 2): it ends today;
- a contract with a commitment ends at the end of its term, if the refusal
  deadline has not passed (or the renewal is already refused, or there is no
  tacit renewal); past the deadline, the term renews and it ends at the end of
  the renewed term;
- an open-ended contract ends once the notice has run (0 days for a consumer)
  and never before the last day already invoiced in advance.
"""

from datetime import timedelta

FREE = "free"
TERM_END = "term_end"
RENEWED_END = "renewed_end"
NOTICE = "notice"


def termination_date(
    today,
    date_end=None,
    refusal_deadline=None,
    renewed_end=None,
    auto_renew=False,
    renewal_refused=False,
    free_from=None,
    paid_until=None,
    notice_days=0,
):
    """(last day of the contract, rule) for a termination asked on ``today``."""
    if free_from and today >= free_from:
        return today, FREE
    if date_end and date_end >= today:
        if (
            renewal_refused
            or not auto_renew
            or not refusal_deadline
            or today <= refusal_deadline
        ):
            return date_end, TERM_END
        return (renewed_end or date_end), RENEWED_END
    end = today + timedelta(days=max(notice_days or 0, 0))
    if paid_until and paid_until > end:
        end = paid_until
    if date_end and end > date_end:
        end = date_end
    return end, NOTICE


def can_refuse_renewal(today, date_end, refusal_deadline, auto_renew, refused):
    """True while the customer may still refuse the coming tacit renewal:
    until the deadline included."""
    return bool(
        auto_renew
        and not refused
        and date_end
        and refusal_deadline
        and today <= refusal_deadline
    )
