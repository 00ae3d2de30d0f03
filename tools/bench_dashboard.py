#!/usr/bin/env python3
"""Dashboard benchmark: N contracts over the last 24 months, then the time the
dashboard's figures take (what the client action asks on opening).

Prints the seconds of get_dashboard_data and get_cohort_data, best and median of
a few runs, and their SQL queries; then the billing forecast's 12 months by
plan. A script that prints figures, never a timed test. Run it as tools/bench.py
(see there), e.g.:

    SB_ADDONS_PATH=$(tools/addons_path.sh) SB_ODOO_DB_ARGS="$(tools/pg.sh odoo-args)" \
        N=10000 nice -n 10 python3 tools/bench_dashboard.py [--db NAME] [--reuse]
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import date, timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from odoo_server import odoo_options  # noqa: E402

BILLED_UP_TO_DATE = """
    UPDATE subscription_contract
       SET next_period_start = (date_start + make_interval(months =>
           (CASE billing_unit WHEN 'year' THEN 12 ELSE 1 END) * CEIL((
               EXTRACT(YEAR FROM age(CURRENT_DATE, date_start)) * 12
               + EXTRACT(MONTH FROM age(CURRENT_DATE, date_start)) + 1)
           / CASE billing_unit WHEN 'year' THEN 12.0 ELSE 1 END)::int))::date
     WHERE name LIKE 'BENCH%'
"""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=int(os.environ.get("N", "10000")))
    parser.add_argument("--db", default=None, help="database (default sb_dash_<N>)")
    parser.add_argument(
        "--reuse", action="store_true", help="use the database as it is (no setup)"
    )
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    return parser.parse_args()


def add_months(day, months):
    month = day.month - 1 + months
    return day.replace(year=day.year + month // 12, month=month % 12 + 1, day=1)


def clone_sql(env, table, overrides):
    """INSERT ... SELECT copying the row ``template`` of ``table`` once per row
    of the ``data`` CTE, the columns in ``overrides`` taken from it."""
    env.cr.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = %s AND column_name != 'id'",
        (table,),
    )
    columns = [row[0] for row in env.cr.fetchall()]
    select = ", ".join(
        f"d.{overrides[c]}" if c in overrides else f"t.{c}" for c in columns
    )
    return ", ".join(columns), select


def setup(env, n, invoices):
    """N monthly or yearly contracts started over the last 24 months: a fifth
    closed since, a sixth grown by a second line, a tenth shrunk. One contract
    is made with the ORM, the others are SQL copies of it (the dashboard reads
    stored columns only)."""
    from odoo import Command

    rng = random.Random(26)
    today = date.today()
    first = add_months(today.replace(day=1), -24)
    plans = [
        env["subscription.plan"].create(
            {"name": f"Bench {unit}", "billing_interval": 1, "billing_unit": unit}
        )
        for unit in ("month", "year")
    ]
    product = env["product.product"].create(
        {"name": "Bench service", "type": "service", "list_price": 50}
    )
    partners = (
        env["res.partner"]
        .with_context(tracking_disable=True)
        .create([{"name": f"Bench customer {i}"} for i in range(n * 8 // 10)])
    )
    template = env["subscription.contract"].create(
        {
            "partner_id": partners[0].id,
            "plan_id": plans[0].id,
            "date_start": first,
            "line_ids": [Command.create({"product_id": product.id})],
        }
    )
    env.flush_all()
    contracts, lines = [], []
    for i in range(n):
        start = first + timedelta(days=rng.randrange(0, 720))
        price = rng.choice([20, 50, 90, 150, 400])
        yearly = rng.random() < 0.2
        close = start + timedelta(days=rng.randrange(30, 600))
        closed = rng.random() < 0.2 and close < today
        state = "closed" if closed else ("suspended" if i % 37 == 0 else "active")
        contracts.append(
            (
                i,
                f"BENCH{i:06d}",
                rng.choice(partners).id,
                plans[yearly].id,
                "year" if yearly else "month",
                start,
                state,
                close if closed else None,
            )
        )
        factor = 12 if yearly else 1
        change = start + timedelta(days=rng.randrange(30, 360))
        roll = rng.random()
        if roll < 0.17:
            lines += [
                (i, price * factor, None, None),
                (i, price * factor / 2, change, None),
            ]
        elif roll < 0.27:
            lines += [
                (i, price * factor, None, change - timedelta(days=1)),
                (i, price * factor * 0.6, change, None),
            ]
        else:
            lines.append((i, price * factor, None, None))
    cols, select = clone_sql(
        env,
        "subscription_contract",
        {
            "name": "name",
            "partner_id": "partner_id",
            "commercial_partner_id": "partner_id",
            "partner_invoice_id": "partner_id",
            "plan_id": "plan_id",
            "billing_unit": "unit",
            "date_start": "date_start",
            "next_period_start": "date_start",
            "state": "state",
            "close_date": "close_date",
        },
    )
    env.cr.execute(
        "CREATE TEMP TABLE bench_contract (i int, name varchar, partner_id int, "
        "plan_id int, unit varchar, date_start date, state varchar, close_date date, "
        "new_id int)"
    )
    env.cr.executemany(
        "INSERT INTO bench_contract VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL)",
        contracts,
    )
    env.cr.execute(
        f"""WITH ins AS (
                INSERT INTO subscription_contract ({cols})
                SELECT {select} FROM bench_contract d, subscription_contract t
                 WHERE t.id = %s RETURNING id, name)
            UPDATE bench_contract b SET new_id = ins.id FROM ins
             WHERE ins.name = b.name""",
        (template.id,),
    )
    cols, select = clone_sql(
        env,
        "subscription_contract_line",
        {
            "contract_id": "new_id",
            "price_unit": "price",
            "price_subtotal": "price",
            "price_total": "price",
            "date_start": "date_start",
            "date_end": "date_end",
        },
    )
    env.cr.execute(
        "CREATE TEMP TABLE bench_line (i int, price numeric, date_start date, "
        "date_end date)"
    )
    env.cr.executemany("INSERT INTO bench_line VALUES (%s, %s, %s, %s)", lines)
    env.cr.execute(
        f"""INSERT INTO subscription_contract_line ({cols})
            SELECT {select}
              FROM (SELECT l.*, b.new_id FROM bench_line l
                      JOIN bench_contract b ON b.i = l.i) d,
                   subscription_contract_line t
             WHERE t.id = %s""",
        (template.line_ids.id,),
    )
    # Billed up to date: the next period starts after today.
    env.cr.execute(BILLED_UP_TO_DATE)
    env.cr.execute("SELECT new_id FROM bench_contract ORDER BY i LIMIT %s", (invoices,))
    invoiced = env["subscription.contract"].browse([r[0] for r in env.cr.fetchall()])
    moves = []
    for contract in invoiced:
        day = max(contract.date_start, today - timedelta(days=rng.randrange(1, 200)))
        moves.append(
            {
                "move_type": "out_invoice",
                "partner_id": contract.partner_id.id,
                "subscription_contract_id": contract.id,
                "invoice_date": day,
                "invoice_date_due": day + timedelta(days=30),
                "invoice_line_ids": [
                    Command.create({"product_id": product.id, "price_unit": 50})
                ],
            }
        )
    env["account.move"].with_context(tracking_disable=True).create(moves).action_post()
    env.cr.commit()
    env.invalidate_all()


def main():
    args = parse_args()
    db = args.db or f"sb_dash_{args.n}"
    options = odoo_options(db)
    if not args.reuse:
        from bench import create_database

        create_database(options)

    import odoo
    from odoo import SUPERUSER_ID, api, sql_db
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(options)
    registry = Registry(db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        if not args.reuse:
            started = time.perf_counter()
            setup(env, args.n, args.invoices)
            print(f"data set up in {time.perf_counter() - started:.0f} s")
        cr.execute(
            "SELECT COUNT(*), COUNT(DISTINCT contract_id) "
            "FROM subscription_mrr_movement"
        )
        movements, contracts = cr.fetchone()
        print(f"{contracts} contracts with {movements} MRR movements")
        dashboard = env["subscription.dashboard"]
        for method in ("get_dashboard_data", "get_cohort_data"):
            timings = []
            for _run in range(args.runs):
                env.invalidate_all()
                before = sql_db.sql_counter
                started = time.perf_counter()
                getattr(dashboard, method)()
                timings.append(time.perf_counter() - started)
                queries = sql_db.sql_counter - before
            print(
                f"{method}: best {min(timings):.2f} s, median "
                f"{statistics.median(timings):.2f} s, {queries} queries"
            )
        forecast = env["subscription.forecast"]
        first = date.today().replace(day=1)
        started = time.perf_counter()
        months = forecast._read_group(
            [("date", ">=", first), ("date", "<", add_months(first, 12))],
            ["date:month", "plan_id"],
            ["amount:sum"],
        )
        print(
            f"billing forecast, 12 months by plan: "
            f"{time.perf_counter() - started:.2f} s ({len(months)} groups)"
        )
        data = dashboard.get_dashboard_data()
        print("figures:", {k: round(v, 2) for k, v in data["figures"].items()})
        cr.rollback()


if __name__ == "__main__":
    main()
