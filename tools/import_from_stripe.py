#!/usr/bin/env python3
"""Stripe subscriptions -> the contracts import file of subscription_billing.

Export the subscriptions from the Stripe dashboard (Billing > Subscriptions >
Export, CSV: id, Customer Email, Product, Quantity, Amount, Interval,
Interval Count, Status, Start Date (UTC), Current Period End (UTC), Cancel At
Period End), then:

    python3 tools/import_from_stripe.py subscriptions.csv -o contracts.csv \\
        --plan month:1=Monthly --plan year:1=Yearly \\
        [--product "Pro plan=Pro subscription"] [--amount-in-cents]

and import contracts.csv from Subscriptions > Contracts > Import records
(Test first). Each customer is found in Odoo by the email (import the
customers first). 'Billed Until' is the day before Stripe's current period
end: Odoo bills from the next period. Canceled subscriptions are left out.
Cards do not move from Stripe: the contracts are paid by bank transfer unless
--payment-method says otherwise (then add the mandates or cards).
"""

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lib import migration  # noqa: E402


def mapping(pairs):
    result = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"expected KEY=VALUE, got {pair!r}")
        result[key.strip()] = value.strip()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", help="Stripe subscriptions CSV export")
    parser.add_argument("-o", "--output", default="-")
    parser.add_argument("--plan", action="append", help="month:1=Monthly ...")
    parser.add_argument("--product", action="append", help="Stripe name=Odoo name")
    parser.add_argument("--payment-method", default="Bank transfer")
    parser.add_argument("--amount-in-cents", action="store_true")
    args = parser.parse_args(argv)
    with open(args.source, newline="", encoding="utf-8-sig") as handle:
        records = list(csv.DictReader(handle))
    return migration.write_rows(
        lambda: migration.stripe_rows(
            records,
            mapping(args.plan),
            mapping(args.product),
            payment_method=args.payment_method,
            amount_in_cents=args.amount_in_cents,
        ),
        args.output,
    )


if __name__ == "__main__":
    sys.exit(main())
