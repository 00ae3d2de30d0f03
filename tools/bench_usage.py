#!/usr/bin/env python3
"""Usage-based billing benchmark: ingestion of usage records through the batch
API, then the billing of metered contracts against fixed-price ones.

Creates on a fresh database ``CONTRACTS`` contracts with a fixed line and a
metered line (allowance, two graduated tiers, a minimum) and as many with the
fixed line only, all started a month ago and billed for their first period;
records ``RECORDS`` usage records over the metered ones with
``subscription.usage.record_usage`` (batches of ``BATCH`` records, a commit
after each, as an integrator's calls would), then bills both sets as the cron
does (batches of 200, a commit after each) and prints the figures. A script
that prints figures, never a timed test:

    make bench USAGE=1 [CONTRACTS=10000 RECORDS=1000000]
"""

import argparse
import os
import random
import sys
import time
from datetime import timedelta

from bench import measure, open_registry, superuser_env


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    parser.add_argument("--contracts", type=int, default=int(env("CONTRACTS", 10000)))
    parser.add_argument("--records", type=int, default=int(env("RECORDS", 1000000)))
    parser.add_argument("--batch", type=int, default=int(env("BATCH", 10000)))
    parser.add_argument("--db", default=None)
    return parser.parse_args()


def setup(env, n):
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
    partners = env["res.partner"].create(
        [{"name": f"Bench customer {i}"} for i in range(2 * n)]
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
    sets = []
    for kind, chunk in (("metered", partners[:n]), ("fixed", partners[n:])):
        contracts = env["subscription.contract"]
        for i in range(0, len(chunk), 1000):
            contracts |= env["subscription.contract"].create(
                [
                    {
                        "partner_id": partner.id,
                        "plan_id": plan.id,
                        "date_start": fields.Date.to_string(start),
                        "line_ids": [Command.create({"product_id": rental.id})]
                        + ([Command.create(metered_line)] if kind == "metered" else []),
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
    return start, sets[0], sets[1]


def main():
    args = parse_args()
    db = args.db or f"sb_bench_usage_{args.contracts}"
    _options, registry = open_registry(db)
    with registry.cursor() as cr:
        env = superuser_env(cr)
        started = time.perf_counter()
        start, metered, fixed = setup(env, args.contracts)
        print(
            f"{len(metered)} metered and {len(fixed)} fixed-price contracts created, "
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
        for label, contracts in (("fixed-price", fixed), ("metered", metered)):
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
            figures[label] = secs
            print(
                f"billing {label}: {invoices} invoices in {secs:.1f} s = "
                f"{invoices / secs:.1f} invoices/s, "
                f"{queries / max(invoices, 1):.1f} queries/invoice"
            )
        cr.execute("SELECT COUNT(*), COUNT(invoice_line_id) FROM subscription_usage")
        total, billed = cr.fetchone()
        print(f"usage records billed: {billed} of {total}")
        print(
            f"metered / fixed-price billing time: "
            f"{figures['metered'] / figures['fixed-price']:.2f}x"
        )
    sys.exit(0)


if __name__ == "__main__":
    main()
