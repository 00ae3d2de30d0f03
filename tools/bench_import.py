#!/usr/bin/env python3
"""Benchmark of "moving in": N contracts of 2 lines each and N/2 SEPA mandates
imported through Odoo's import (base_import.import.execute_import, as the
import screen calls it), on a database where the addon is installed. Prints
rows per second and queries per row for the Test run and the real import.
Everything is rolled back at the end: the database is left as it was.

Usage (a private cluster, see tools/pg.sh):
    SB_PGDATA=... SB_PGPORT=... make bench-import DB=<db with the addon> N=10000
or
    python3 tools/bench_import.py --db DB -n 10000 [--dryrun] \
        -- $(tools/pg.sh odoo-args) --addons-path=$(tools/addons_path.sh)
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lib import migration  # noqa: E402


def iban_de(number):
    """A valid German IBAN (the check digits computed by ISO 7064 mod 97)."""
    bban = f"37040044{number:010d}"
    check = 98 - int(bban + "131400") % 97
    return f"DE{check:02d}{bban}"


to_csv = migration.to_csv


# The import screen's options, without its 2000 rows a batch.
OPTIONS = dict(migration.IMPORT_OPTIONS, limit=None)


def run_import(env, model, content, dryrun):
    wizard = env["base_import.import"].create(
        {
            "res_model": model,
            "file": content,
            "file_name": "bench.csv",
            "file_type": "text/csv",
        }
    )
    options = dict(OPTIONS)
    preview = wizard.parse_preview(dict(options))
    assert not preview.get("error"), preview
    headers = preview["headers"]
    fields = ["/".join(preview["matches"][i]) for i in range(len(headers))]
    env.flush_all()
    queries = env.cr.sql_log_count
    start = time.perf_counter()
    if os.environ.get("SB_PROFILE"):
        import cProfile
        import pstats

        profile = cProfile.Profile()
        result = profile.runcall(
            wizard.execute_import, fields, headers, options, dryrun=dryrun
        )
        pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
    else:
        result = wizard.execute_import(fields, headers, options, dryrun=dryrun)
    env.flush_all()
    seconds = time.perf_counter() - start
    queries = env.cr.sql_log_count - queries
    errors = [m for m in result["messages"] if m["type"] == "error"]
    assert not errors, errors[:5]
    return result, seconds, queries


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("-n", type=int, default=10000, help="contracts")
    parser.add_argument("--dryrun", action="store_true", help="also time the Test")
    parser.add_argument("odoo_args", nargs="*")
    args = parser.parse_args()

    import odoo
    from odoo import SUPERUSER_ID, api
    from odoo.tools import config

    config.parse_config([*args.odoo_args, "-d", args.db])
    odoo.service.server.load_server_wide_modules()
    registry = odoo.modules.registry.Registry(args.db)
    n = args.n
    random.seed(24)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        try:
            company = env.company
            company.sepa_creditor_identifier = (
                company.sepa_creditor_identifier or "FR72ZZZ123456"
            )
            env["subscription.plan"].create(
                {
                    "name": "Bench Monthly",
                    "billing_interval": 1,
                    "billing_unit": "month",
                }
            )
            env["product.product"].create(
                [
                    {"name": "Bench Support", "list_price": 50.0},
                    {"name": "Bench Hosting", "list_price": 20.0},
                ]
            )
            t0 = time.perf_counter()
            env["res.partner"].create(
                [
                    {
                        "name": f"Bench Customer {i:05d}",
                        "ref": f"BC{i:05d}",
                        "is_company": True,
                    }
                    for i in range(n)
                ]
            )
            env.flush_all()
            print(f"setup: {n} customers in {time.perf_counter() - t0:.1f}s")

            mandate_rows = [
                [
                    f"BENCH-{i:05d}",
                    f"BC{i:05d}",
                    iban_de(i),
                    "COBADEFFXXX",
                    "2024-01-15",
                    "Core (consumers)",
                    "Active",
                    "1",
                    "2027-02-05",
                ]
                for i in range(n // 2)
            ]
            mandates = to_csv(migration.MANDATE_COLUMNS, mandate_rows)
            contract_rows = []
            for i in range(n):
                sepa = i < n // 2
                contract_rows.append(
                    [
                        f"BC{i:05d}",
                        "Bench Monthly",
                        "2025-01-01",
                        "2027-12-31",
                        "2027-02-28",
                        "Active",
                        "SEPA direct debit" if sepa else "Bank transfer",
                        f"BENCH-{i:05d}" if sepa else "",
                        "Bench Support",
                        str(random.randint(1, 5)),
                        "50",
                        "0",
                    ]
                )
                contract_rows.append([""] * 8 + ["Bench Hosting", "1", "20", "10"])
            contracts = to_csv(
                [
                    "Customer",
                    "Plan",
                    "Start Date",
                    "Commitment End",
                    "Billed Until",
                    "Status",
                    "Payment Method",
                    "SEPA Mandate",
                    "Lines/Product",
                    "Lines/Quantity",
                    "Lines/Unit Price",
                    "Lines/Discount (%)",
                ],
                contract_rows,
            )
            steps = [
                ("mandates", "subscription.sepa.mandate", mandates, len(mandate_rows)),
                ("contracts", "subscription.contract", contracts, len(contract_rows)),
            ]
            for label, model, content, rows in steps:
                for dryrun in [True, False] if args.dryrun else [False]:
                    result, seconds, queries = run_import(env, model, content, dryrun)
                    kind = "test  " if dryrun else "import"
                    print(
                        f"{kind} {label:9s}: {rows:6d} rows in {seconds:7.1f}s = "
                        f"{rows / seconds:7.0f} rows/s, {queries:7d} queries = "
                        f"{queries / rows:5.2f} queries/row"
                        + (f" ({len(result['ids'])} records)" if result["ids"] else "")
                    )
                    for message in result["messages"][:1]:
                        print("   ", message["message"][:300])
        finally:
            cr.rollback()
    return 0


if __name__ == "__main__":
    sys.exit(main())
