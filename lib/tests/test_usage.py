from decimal import Decimal as D

import pytest

from lib import usage as u

# Copier: 1,000 copies included, then 0.05 up to 2,000 billable copies, then
# 0.03 (graduated), 0.08 beyond any tier (no open tier).
TIERS = [(2000, "0.05"), (None, "0.03")]


def test_allowance_covers_everything():
    c = u.charge(850, "0.10", included=1000, tiers=TIERS)
    assert c.billable == 0
    assert c.pieces == []
    assert c.total(2) == 0


def test_graduated_each_unit_at_its_tier():
    c = u.charge(3500, "0.10", included=1000, tiers=TIERS, mode="graduated")
    assert c.billable == 2500
    assert c.pieces == [(0, D(2000), D("0.05")), (1, D(500), D("0.03"))]
    assert c.total(2) == D("115.00")


def test_volume_all_units_at_the_tier_reached():
    c = u.charge(3500, "0.10", included=1000, tiers=TIERS, mode="volume")
    assert c.pieces == [(1, D(2500), D("0.03"))]
    assert c.total(2) == D("75.00")
    c = u.charge(2900, "0.10", included=1000, tiers=TIERS, mode="volume")
    assert c.pieces == [(0, D(1900), D("0.05"))]


def test_units_above_the_last_limit_at_the_unit_price():
    tiers = [(100, "1.00"), (200, "0.50")]
    assert u.split_tiers(250, tiers, "2", "graduated") == [
        (0, D(100), D("1.00")),
        (1, D(100), D("0.50")),
        (None, D(50), D(2)),
    ]
    assert u.split_tiers(250, tiers, "2", "volume") == [(None, D(250), D(2))]
    assert u.split_tiers(40, [], "0.2", "volume") == [(None, D(40), D("0.2"))]


def test_minimum_charge_tops_up():
    c = u.charge(1100, "0.10", included=1000, tiers=TIERS, minimum=20)
    assert c.amount(2) == D("5.00")
    assert c.minimum_topup == D("15.00")
    assert c.total(2) == D("20.00")
    c = u.charge(0, "0.10", minimum=20)
    assert c.total(2) == D("20.00")
    assert u.charge(2000, "0.10", minimum=20).minimum_topup == 0


def test_allowance_and_minimum_prorated_by_the_day():
    # 21 days of a 31-day month: 1,000 * 21/31 = 677.42 copies, 20 * 21/31 = 13.55
    c = u.charge(700, "0.10", included=1000, minimum=20, ratio=D(21) / D(31))
    assert c.included == D("677.42")
    assert c.billable == D("22.58")
    assert c.minimum == D("13.55")
    assert c.total(2) == D("13.55")
    c = u.charge(1000, "0.10", included=1000, ratio=D(21) / D(31), qty_digits=0)
    assert c.included == 677
    assert c.billable == 323


def test_pieces_are_exact_lines():
    c = u.charge(1234567, "0.10", included=1000, tiers=[(None, "0.0137")])
    assert c.pieces == [(0, D(1233567), D("0.0137"))]
    assert c.total(2) == (D(1233567) * D("0.0137")).quantize(D("0.01"))


def test_late_units_graduated():
    before = u.charge(2800, "0.10", included=1000, tiers=TIERS)
    after = u.charge(3300, "0.10", included=1000, tiers=TIERS)
    pieces, topup = u.late_pieces(before, after)
    assert pieces == [(0, D(200), D("0.05")), (1, D(300), D("0.03"))]
    assert topup == 0
    total = sum(q * p for __, q, p in pieces)
    assert total == after.total(2) - before.total(2)


def test_late_units_volume_crossing_a_tier():
    before = u.charge(2900, "0.10", included=1000, tiers=TIERS, mode="volume")
    after = u.charge(3100, "0.10", included=1000, tiers=TIERS, mode="volume")
    pieces, topup = u.late_pieces(before, after)
    assert sorted(pieces) == [(0, D(-1900), D("0.05")), (1, D(2100), D("0.03"))]
    assert sum(q * p for __, q, p in pieces) == after.total(2) - before.total(2)


def test_late_units_reduce_the_minimum_topup():
    before = u.charge(1100, "0.10", included=1000, minimum=20)
    after = u.charge(1150, "0.10", included=1000, minimum=20)
    pieces, topup = u.late_pieces(before, after)
    assert pieces == [(None, D(50), D("0.10"))]
    assert topup == D("-5.00")


def test_bad_tiers_refused():
    with pytest.raises(ValueError):
        u.check_tiers([(100, 1), (50, 1)])
    with pytest.raises(ValueError):
        u.check_tiers([(None, 1), (50, 1)])
    with pytest.raises(ValueError):
        u.split_tiers(1, [(1, 1)], 1, "stairs")


def test_discount_applies_to_each_invoiced_line_and_the_minimum():
    # 2,600 billable: 2,000 x 0.05 + 600 x 0.03 = 118.00, less 10 %: 90.00 + 16.20
    c = u.charge(3600, "0.10", included=1000, tiers=TIERS)
    assert c.total(2, discount=10) == D("106.20")
    # Below the minimum: 500 x 0.05 = 25.00 topped up to 40.00, both less 15 %
    c = u.charge(1500, "0.10", included=1000, tiers=TIERS, minimum=40)
    assert c.total(2, discount=15) == D("21.25") + D("12.75")
    assert c.total(2, discount=0) == c.total(2) == D("40.00")
