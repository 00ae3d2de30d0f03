"""Pricing of metered (usage-based) contract lines: allowance, price tiers
(graduated or volume) and minimum charge per period, prorated by the day.

Plain Python on ``Decimal`` (exact), tested by pytest without a database. The
result is a list of *pieces*, each a quantity at a unit price: one invoice line
each, so that quantity x unit price is exactly the line total (what Factur-X
checks), whatever the number of units.
"""

from decimal import ROUND_HALF_UP, Decimal

MODES = ("graduated", "volume")


def _dec(value):
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _round(value, digits):
    return value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def prorate(value, ratio, digits):
    """``value`` times ``ratio`` (share of the period in force), rounded to
    ``digits`` decimals: allowances and minimums of partial periods."""
    return _round(_dec(value) * _dec(ratio), digits)


def check_tiers(tiers):
    """Raise ``ValueError`` unless the tiers' limits strictly increase and only
    the last one may be open (``None``)."""
    last = Decimal(0)
    for index, (up_to, price) in enumerate(tiers):
        if _dec(price) < 0:
            raise ValueError(f"tier {index + 1}: negative price {price}")
        if up_to is None:
            if index != len(tiers) - 1:
                raise ValueError(f"tier {index + 1}: only the last tier may be open")
            continue
        if _dec(up_to) <= last:
            raise ValueError(
                f"tier {index + 1}: its limit {up_to} must be above {last}"
            )
        last = _dec(up_to)


def split_tiers(billable, tiers, unit_price, mode):
    """Pieces ``[(tier index or None, quantity, price)]`` of ``billable`` units.

    ``tiers``: ``[(up_to, price)]``, limits in billable units, increasing, the
    last one may be ``None`` (no limit). Units above the last limit are priced
    at ``unit_price`` (tier index ``None``); so are all units without tiers.
    ``graduated``: each unit at the price of its tier; ``volume``: every unit
    at the price of the tier the quantity reaches.
    """
    billable = _dec(billable)
    if mode not in MODES:
        raise ValueError(f"unknown tier mode {mode!r}, expected one of {MODES}")
    if billable <= 0:
        return []
    if not tiers:
        return [(None, billable, _dec(unit_price))]
    check_tiers(tiers)
    if mode == "volume":
        for index, (up_to, price) in enumerate(tiers):
            if up_to is None or billable <= _dec(up_to):
                return [(index, billable, _dec(price))]
        return [(None, billable, _dec(unit_price))]
    pieces = []
    lower = Decimal(0)
    for index, (up_to, price) in enumerate(tiers):
        upper = billable if up_to is None else min(billable, _dec(up_to))
        if upper > lower:
            pieces.append((index, upper - lower, _dec(price)))
        if up_to is None or billable <= _dec(up_to):
            return pieces
        lower = _dec(up_to)
    pieces.append((None, billable - lower, _dec(unit_price)))
    return pieces


class Charge:
    """What a period of a metered line costs: ``pieces`` (tier index or
    ``None``, quantity, unit price), the ``minimum_topup`` that brings the total
    up to the prorated minimum, and the ``total``."""

    __slots__ = ("used", "included", "billable", "pieces", "minimum", "minimum_topup")

    def __init__(self, used, included, billable, pieces, minimum, minimum_topup):
        self.used = used
        self.included = included
        self.billable = billable
        self.pieces = pieces
        self.minimum = minimum
        self.minimum_topup = minimum_topup

    def amount(self, digits):
        return sum(
            (_round(qty * price, digits) for __, qty, price in self.pieces),
            Decimal(0),
        )

    def total(self, digits, discount=0):
        """The untaxed total as invoiced: each piece and the top-up less the
        line's ``discount`` (percent), rounded line by line."""
        if not discount:
            return self.amount(digits) + self.minimum_topup
        factor = 1 - _dec(discount) / 100
        lines = [qty * price for __, qty, price in self.pieces]
        if self.minimum_topup:
            lines.append(self.minimum_topup)
        return sum((_round(line * factor, digits) for line in lines), Decimal(0))

    def __repr__(self):
        return (
            f"Charge(used={self.used}, included={self.included}, "
            f"pieces={self.pieces}, topup={self.minimum_topup})"
        )


def charge(
    used,
    unit_price,
    included=0,
    tiers=(),
    mode="graduated",
    minimum=0,
    ratio=1,
    digits=2,
    qty_digits=2,
):
    """Price ``used`` units for one period of which ``ratio`` is in force: the
    allowance (``included``) and the ``minimum`` are prorated by ``ratio``, the
    tiers are not (they are prices)."""
    used = _dec(used)
    allowance = prorate(included, ratio, qty_digits)
    billable = max(used - allowance, Decimal(0))
    pieces = split_tiers(billable, list(tiers), unit_price, mode)
    floor = prorate(minimum, ratio, digits)
    result = Charge(used, allowance, billable, pieces, floor, Decimal(0))
    amount = result.amount(digits)
    if amount < floor:
        result.minimum_topup = floor - amount
    return result


def late_pieces(before, after, digits=2):
    """Invoice pieces for the usage recorded after its period was billed: what
    ``after`` (the period's charge with the late units) costs more than
    ``before`` (the charge already billed). Returns ``(pieces, topup_delta)``;
    pieces ``(tier index or None, quantity, price)``, negative quantities give
    back units billed at a price the late units changed (volume tiers)."""
    old = {}
    for index, qty, price in before.pieces:
        old[(index, price)] = old.get((index, price), Decimal(0)) + qty
    new = {}
    for index, qty, price in after.pieces:
        new[(index, price)] = new.get((index, price), Decimal(0)) + qty
    pieces = []
    for key in list(new) + [k for k in old if k not in new]:
        delta = new.get(key, Decimal(0)) - old.get(key, Decimal(0))
        if delta:
            pieces.append((key[0], delta, key[1]))
    return pieces, after.minimum_topup - before.minimum_topup
