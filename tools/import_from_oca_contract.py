#!/usr/bin/env python3
"""OCA `contract` -> the contracts import file of subscription_billing.

Reads the contracts of OCA's `contract` addon (contract.contract, contract.line
and their last_date_invoiced) from its database tables, or from two CSV files
with the same columns, and writes the contracts import file:

    python3 tools/import_from_oca_contract.py --dsn "dbname=old_db" \\
        --plan month:1=Monthly --plan month:3=Quarterly --plan year:1=Yearly \\
        -o contracts.csv
    python3 tools/import_from_oca_contract.py \\
        --contracts contract_contract.csv --lines contract_line.csv ... -o contracts.csv

then import contracts.csv from Subscriptions > Contracts > Import records (Test
first). The customer is given by its reference (--customer-key ref; or name,
vat). 'Billed Until' is the lines' last_date_invoiced: nothing OCA invoiced is
invoiced again. Stop OCA's invoicing cron before you export.
"""

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lib import migration  # noqa: E402
from tools.import_from_stripe import mapping  # noqa: E402

CONTRACTS_SQL = """
    SELECT c.id, c.code, c.name, c.contract_type, c.active, c.line_recurrence,
           c.recurring_rule_type, c.recurring_interval,
           p.name AS partner, p.ref AS partner_ref, p.vat AS partner_vat
      FROM contract_contract c JOIN res_partner p ON p.id = c.partner_id
     ORDER BY c.id
"""
LINES_SQL = """
    SELECT l.contract_id, l.sequence, l.is_canceled, l.display_type,
           l.automatic_price, l.specific_price, l.quantity, l.discount,
           l.date_start, l.date_end, l.last_date_invoiced,
           l.recurring_rule_type, l.recurring_interval,
           COALESCE(pt.name->>'en_US', pt.name::text) AS product
      FROM contract_line l
      JOIN product_product pp ON pp.id = l.product_id
      JOIN product_template pt ON pt.id = pp.product_tmpl_id
     WHERE l.active
     ORDER BY l.contract_id, l.sequence, l.id
"""


def read_db(dsn):
    import psycopg2
    import psycopg2.extras

    with psycopg2.connect(dsn) as conn:
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cr:
            cr.execute(CONTRACTS_SQL)
            contracts = [dict(row) for row in cr.fetchall()]
            cr.execute(LINES_SQL)
            lines = [dict(row) for row in cr.fetchall()]
    return contracts, lines


def read_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dsn", help="libpq connection string of OCA's database")
    source.add_argument("--contracts", help="contract_contract CSV")
    parser.add_argument("--lines", help="contract_line CSV (with --contracts)")
    parser.add_argument("--plan", action="append", help="month:1=Monthly ...")
    parser.add_argument("--customer-key", default="ref", choices=["ref", "vat", "name"])
    parser.add_argument("-o", "--output", default="-")
    args = parser.parse_args(argv)
    if args.dsn:
        contracts, lines = read_db(args.dsn)
    else:
        if not args.lines:
            parser.error("--contracts needs --lines")
        contracts, lines = read_csv(args.contracts), read_csv(args.lines)
    key = "name" if args.customer_key == "name" else args.customer_key
    if key == "name":
        for contract in contracts:
            contract["partner_name"] = contract["partner"]
    return migration.write_rows(
        lambda: migration.oca_contract_rows(
            contracts, lines, mapping(args.plan), customer_key=key
        ),
        args.output,
    )


if __name__ == "__main__":
    sys.exit(main())
