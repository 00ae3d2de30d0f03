#!/usr/bin/env python3
"""Usage-based billing benchmark: ingestion of usage records through the batch
API, then the billing of metered contracts against fixed-price ones.

Creates on a fresh database ``CONTRACTS`` contracts with a fixed line and a
metered line (allowance, two graduated tiers, a minimum), as many fixed-price
contracts of the same shape (the same fixed line and the copies at a flat
price: as many invoice lines as the metered invoices of a month within the
allowance) and ``ONE_LINE`` (default ``CONTRACTS``) with the fixed line only,
all started a month ago and billed for their first period;
records ``RECORDS`` usage records over the metered ones with
``subscription.usage.record_usage`` (batches of ``BATCH`` records, a commit
after each, as an integrator's calls would), then bills both sets as the cron
does (batches of 200, a commit after each) and prints the figures. A script
that prints figures, never a timed test:

    make bench USAGE=1 [CONTRACTS=10000 RECORDS=1000000 ONE_LINE=10000]

The usage target compares the metered contracts with the fixed-price ones of
the same shape (what the usage costs: reading, pricing and claiming the
records); the one-line figure says what a second invoice line costs in Odoo.
"""

import argparse
import os
import random
import subprocess
import sys
import time
from datetime import timedelta

from bench import (
    db_connection_args,
    drop_database,
    measure,
    open_registry,
    superuser_env,
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    parser.add_argument("--contracts", type=int, default=int(env("CONTRACTS", 10000)))
    parser.add_argument("--records", type=int, default=int(env("RECORDS", 1000000)))
    parser.add_argument("--batch", type=int, default=int(env("BATCH", 10000)))
    parser.add_argument("--one-line", type=int, default=int(env("ONE_LINE", 0)))
    parser.add_argument("--db", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    return parser.parse_args()


def setup(env, n, one_line=None):
    from dateutil.relativedelta import relativedelta

    from odoo import Command, fields

    today = env.company._subscription_today()
    start = today - relativedelta(months=1)
    plan = env["subscription.plan"].create(
        {"name": "Bench monthly", "billing_interval": 1, "billing_unit": "month"}
    )
    rental = env["product.product"].create(
        {"name": "Copier rental", "type": "service", "list_price": 49.0}
    )
    copies = env["product.product"].create(
        {"name": "Copies", "type": "service", "list_price": 0.10}
    )
    one_line = n if one_line is None else one_line
    partners = env["res.partner"].create(
        [{"name": f"Bench customer {i}"} for i in range(2 * n + one_line)]
    )
    metered_line = {
        "product_id": copies.id,
        "billing_type": "metered",
        "included_quantity": 1000,
        "minimum_amount": 5.0,
        "tier_ids": [
            Command.create({"up_to_quantity": 2000, "price_unit": 0.05}),
            Command.create({"up_to_quantity": 0, "price_unit": 0.03}),
        ],
    }
    flat_line = {"product_id": copies.id, "price_unit": 5.0}
    sets = []
    for kind, chunk in (
        ("metered", partners[:n]),
        ("fixed", partners[n : 2 * n]),
        ("one line", partners[2 * n :]),
    ):
        extra = {"metered": [metered_line], "fixed": [flat_line]}.get(kind, [])
        contracts = env["subscription.contract"]
        for i in range(0, len(chunk), 1000):
            contracts |= env["subscription.contract"].create(
                [
                    {
                        "partner_id": partner.id,
                        "plan_id": plan.id,
                        "date_start": fields.Date.to_string(start),
                        "line_ids": [
                            Command.create(vals)
                            for vals in [{"product_id": rental.id}, *extra]
                        ],
                    }
                    for partner in chunk[i : i + 1000]
                ]
            )
            env.cr.commit()
        contracts.action_start()
        env.cr.commit()
        # The first period, billed on its day (not measured).
        for i in range(0, len(contracts), 500):
            contracts[i : i + 500]._generate_invoices(today=start)
            env.cr.commit()
            env.invalidate_all()
        sets.append(contracts)
    return start, *sets


def main():
    args = parse_args()
    db = args.db or f"sb_bench_usage_{args.contracts}"
    # A fresh database: the figures of a database billed before mean nothing.
    subprocess.run(["dropdb", "--if-exists", *db_connection_args(), db], check=False)
    _options, registry = open_registry(db)
    with registry.cursor() as cr:
        env = superuser_env(cr)
        started = time.perf_counter()
        one_line = args.one_line or args.contracts
        start, metered, fixed, single = setup(env, args.contracts, one_line)
        print(
            f"{len(metered)} metered, {len(fixed)} fixed-price of the same lines and "
            f"{len(single)} one-line contracts created, "
            f"started and billed for their first period in "
            f"{time.perf_counter() - started:.0f} s"
        )
        line_ids = metered.line_ids.filtered(
            lambda line: line.billing_type == "metered"
        ).ids
        days = [str(start + timedelta(days=d)) for d in range(28)]
        rng = random.Random(25)
        usage = env["subscription.usage"]
        seconds = 0.0
        sent = 0
        while sent < args.records:
            size = min(args.batch, args.records - sent)
            batch = [
                {
                    "contract_line_id": line_ids[(sent + i) % len(line_ids)],
                    "date": f"{rng.choice(days)} {rng.randrange(24):02d}:00:00",
                    "quantity": rng.randrange(1, 10),
                    "idempotency_key": f"evt-{sent + i}",
                }
                for i in range(size)
            ]
            began = time.perf_counter()
            result = usage.record_usage(batch)
            cr.commit()
            seconds += time.perf_counter() - began
            assert result["created"] == size, result
            sent += size
        print(
            f"ingestion: {sent} usage records over {len(line_ids)} metered lines in "
            f"{seconds:.1f} s = {sent / seconds:.0f} records/s (record_usage, "
            f"batches of {args.batch}, a commit after each)"
        )
        # The same batch again: recorded once.
        began = time.perf_counter()
        again = usage.record_usage(batch)
        cr.rollback()
        print(
            f"the last batch sent again: {again['created']} created, "
            f"{again['skipped']} skipped in {time.perf_counter() - began:.2f} s"
        )

        contract_model = env["subscription.contract"]
        figures = {}
        for label, contracts in (
            ("fixed-price, one line", single),
            ("fixed-price, same lines", fixed),
            ("metered", metered),
        ):
            domain = [
                *contract_model._get_billing_due_domain(),
                ("id", "in", contracts.ids),
            ]

            def generate(domain=domain):
                batch = contract_model._claim_for_billing(domain, 200)
                moves = batch._generate_invoices()
                env.invalidate_all()
                return len(moves), contract_model.search_count(domain)

            secs, queries, invoices = measure(cr, generate)
            figures[label] = secs / max(invoices, 1)
            print(
                f"billing {label}: {invoices} invoices in {secs:.1f} s = "
                f"{invoices / secs:.1f} invoices/s, "
                f"{queries / max(invoices, 1):.1f} queries/invoice"
            )
        cr.execute("SELECT COUNT(*), COUNT(invoice_line_id) FROM subscription_usage")
        total, billed = cr.fetchone()
        print(f"usage records billed: {billed} of {total}")
        print(
            f"metered / fixed-price billing time per invoice: "
            f"{figures['metered'] / figures['fixed-price, same lines']:.2f}x the "
            f"fixed-price contracts of the same lines (target 1.5x), "
            f"{figures['metered'] / figures['fixed-price, one line']:.2f}x the "
            f"one-line ones"
        )
    if not args.keep:
        drop_database(db)
    sys.exit(0)


if __name__ == "__main__":
    main()
