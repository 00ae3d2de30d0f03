#!/usr/bin/env python3
"""Billing benchmark: N one-line contracts billed by the cron on a fresh database.

Prints invoices per second and SQL queries per invoice for generation + posting,
and separately for sending (PDF + queued email). A script that prints figures,
never a timed test. Run it with ``make bench N=1000`` (the Makefile starts the
private PostgreSQL and passes SB_ADDONS_PATH and SB_ODOO_DB_ARGS), or by hand:

    SB_ADDONS_PATH=... SB_ODOO_DB_ARGS="--db_host=... --db_port=..." \
        N=1000 python3 tools/bench.py [--keep] [--db NAME] [--batch 200]
"""

import argparse
import contextlib
import os
import shlex
import subprocess
import sys
import time

from odoo_server import http_server, odoo_options


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=int(os.environ.get("N", "1000")))
    parser.add_argument("--db", default=None, help="database (default sb_bench_<N>)")
    parser.add_argument("--batch", type=int, default=200, help="cron batch size")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--draft",
        action="store_true",
        default=bool(os.environ.get("DRAFT")),
        help="leave the invoices as drafts (the plan's review option), to compare "
        "with tools that only generate drafts (or DRAFT=1)",
    )
    parser.add_argument(
        "--reminders",
        type=int,
        default=int(os.environ.get("REMINDERS", "0")),
        help="also measure the reminders cron on this many open invoices, a "
        "tenth of them due (or REMINDERS=10000)",
    )
    parser.add_argument(
        "--facturx",
        action="store_true",
        default=bool(os.environ.get("FACTURX")),
        help="a French company and French business customers receiving Factur-X "
        "(PDF/A-3 with the EN 16931 XML), to measure the e-invoices (or FACTURX=1)",
    )
    parser.add_argument(
        "--no-send",
        action="store_true",
        default=bool(os.environ.get("NO_SEND")),
        help="measure generation and posting only (or NO_SEND=1)",
    )
    return parser.parse_args()


# The night's run on a multi-process server, alone then with portal load: see
# bench_night.py (NIGHT=<contracts>, NIGHT_CLIENTS=<clients>, NIGHT=0 skips).


def create_database(options):
    python = os.environ.get("SB_PYTHON", sys.executable)
    command = [
        python,
        "-m",
        "odoo",
        *options,
        "-i",
        "subscription_billing",
        "--without-demo=all",
        "--stop-after-init",
        "--http-port=0",
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    print(f"fresh database installed in {time.perf_counter() - started:.0f} s")


def open_registry(db):
    """A fresh database db with the addon installed, Odoo configured for it:
    the Odoo options and the registry of db."""
    options = odoo_options(db)
    create_database(options)

    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(options)
    return options, Registry(db)


def superuser_env(cr):
    from odoo import SUPERUSER_ID, api

    return api.Environment(cr, SUPERUSER_ID, {})


def setup_facturx(env):
    """A French company fully set up for Factur-X; return the values of its
    customers and the tax of its service."""
    company = env.company
    fr = env.ref("base.fr")
    company.currency_id = env.ref("base.EUR")
    company.partner_id.write(
        {
            "country_id": fr.id,
            "street": "12 quai de la Fosse",
            "zip": "44000",
            "city": "Nantes",
            "phone": "+33 2 40 00 00 00",
            "company_registry": "33417522100015",
        }
    )
    company.write({"email": "factures@bench.example", "vat": "FR23334175221"})
    env["res.partner.bank"].create(
        {
            "partner_id": company.partner_id.id,
            "acc_number": "FR7630006000011234567890189",
            "allow_out_payment": True,
        }
    )
    tax = env["account.tax"].create(
        {"name": "TVA 20 %", "amount": 20.0, "type_tax_use": "sale"}
    )
    customer = {
        "is_company": True,
        "country_id": fr.id,
        "street": "3 place de la République",
        "zip": "13210",
        "city": "Saint-Rémy-de-Provence",
        "invoice_edi_format": "facturx",
    }
    return customer, tax


def setup_contracts(env, n, draft=False, facturx=False):
    from odoo import Command, fields

    customer, tax = setup_facturx(env) if facturx else ({}, env["account.tax"])
    company = env.company
    plan = env["subscription.plan"].create(
        {
            "name": "Bench monthly",
            "billing_interval": 1,
            "billing_unit": "month",
            "invoice_review": draft,
        }
    )
    product = env["product.product"].create(
        {
            "name": "Bench service",
            "type": "service",
            "list_price": 49.0,
            **({"taxes_id": [Command.set(tax.ids)]} if tax else {}),
        }
    )
    partners = env["res.partner"].create(
        [
            {
                "name": f"Bench customer {i}",
                "email": f"bench{i}@example.com",
                **customer,
                **({"company_registry": f"{500000000 + i}"} if customer else {}),
            }
            for i in range(n)
        ]
    )
    today = company._subscription_today()
    contracts = env["subscription.contract"].create(
        [
            {
                "partner_id": partner.id,
                "plan_id": plan.id,
                "date_start": fields.Date.to_string(today),
                "line_ids": [Command.create({"product_id": product.id})],
            }
            for partner in partners
        ]
    )
    contracts.action_start()
    return contracts


def setup_open_invoices(env, count):
    """``count`` posted, unpaid customer invoices: a tenth of them due today
    (the due-date reminder goes out), the others due in 30 days (nothing due).
    The due-date step attaches no PDF: rendering PDFs is measured by sending."""
    from datetime import timedelta

    from odoo import Command

    company = env.company
    company.subscription_reminder_all_invoices = True
    today = company._subscription_today()
    product = env["product.product"].create(
        {"name": "Bench invoiced service", "type": "service", "list_price": 80.0}
    )
    partners = env["res.partner"].create(
        [
            {"name": f"Open customer {i}", "email": f"open{i}@example.com"}
            for i in range(count)
        ]
    )
    for start in range(0, count, 500):
        chunk = partners[start : start + 500]
        moves = env["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": partner.id,
                    "invoice_date": today,
                    "invoice_line_ids": [Command.create({"product_id": product.id})],
                }
                for i, partner in enumerate(chunk, start)
            ]
        )
        moves.action_post()
        # Payment terms recompute the due date at posting: set it back.
        for i, move in enumerate(moves, start):
            move.invoice_date_due = today + timedelta(days=0 if i % 10 == 0 else 30)
        env.cr.commit()
        env.invalidate_all()


def measure(cr, step):
    """Run ``step()`` until it returns 0 remaining, committing after each call
    as the cron runner does; return (seconds, queries, items)."""
    from odoo import sql_db

    seconds = queries = items = 0
    while True:
        # Every query of this process, those of the threads that render PDFs
        # ahead with their own cursors included.
        before = sql_db.sql_counter
        started = time.perf_counter()
        done, remaining = step()
        cr.commit()
        seconds += time.perf_counter() - started
        queries += sql_db.sql_counter - before
        items += done
        if not remaining or not done:
            return seconds, queries, items


def main():
    args = parse_args()
    db = args.db or f"sb_bench_{args.n}"
    options, registry = open_registry(db)
    with registry.cursor() as cr:
        env = superuser_env(cr)
        started = time.perf_counter()
        contracts = setup_contracts(env, args.n, draft=args.draft, facturx=args.facturx)
        cr.commit()
        print(
            f"{len(contracts)} contracts created and started in "
            f"{time.perf_counter() - started:.1f} s"
        )

        contract_model = env["subscription.contract"]
        move_model = env["account.move"]

        def generate():
            # What the billing cron does in one call: claim a batch, bill it.
            domain = contract_model._get_billing_due_domain()
            batch = contract_model._claim_for_billing(domain, args.batch)
            moves = batch._generate_invoices()
            env.invalidate_all()
            remaining = contract_model.search_count(domain)
            return len(moves), remaining

        seconds, queries, invoices = measure(cr, generate)
        print(
            f"generation{'' if args.draft else ' + posting'}: {invoices} invoices in "
            f"{seconds:.1f} s = {invoices / seconds:.1f} invoices/s, "
            f"{queries / max(invoices, 1):.1f} queries/invoice"
        )

        if not args.no_send:
            stack = contextlib.ExitStack()
            url = stack.enter_context(http_server(options))
            env["ir.config_parameter"].set_param("report.url", url)
            cr.commit()

            def send():
                count = move_model.search_count([("subscription_to_send", "=", True)])
                remaining = move_model._cron_subscription_send(args.batch)
                env.invalidate_all()
                return min(count, args.batch), remaining

            seconds, queries, sent = measure(cr, send)
            stack.close()
            failed = env["mail.message"].search_count(
                [("model", "=", "account.move"), ("body", "ilike", "could not be sent")]
            )
            mails = env["mail.mail"].search_count([("model", "=", "account.move")])
            print(f"emails queued: {mails}, invoices that could not be sent: {failed}")
            print(check_pdfs(env))
            print(
                f"sending (PDF + queued email): {sent} invoices in {seconds:.1f} s = "
                f"{sent / seconds:.1f} invoices/s, "
                f"{queries / max(sent, 1):.1f} queries/invoice"
            )
        if not args.no_send:
            from bench_night import night_line

            line = night_line(registry, options)
            if line:
                print(line)
        if args.reminders:
            started = time.perf_counter()
            setup_open_invoices(env, args.reminders)
            due = move_model.search_count(move_model._get_reminder_due_domain())
            print(
                f"{args.reminders} open invoices created in "
                f"{time.perf_counter() - started:.0f} s, {due} with a reminder due"
            )

            def remind():
                domain = move_model._get_reminder_due_domain()
                batch = move_model.search(
                    domain, order="reminder_next_date, id", limit=500
                )
                batch._send_reminders()
                env.invalidate_all()
                return len(batch), move_model.search_count(domain)

            seconds, queries, reminded = measure(cr, remind)
            print(
                f"reminders: {reminded} invoices reminded in {seconds:.1f} s = "
                f"{reminded / seconds:.1f} reminders/s, "
                f"{queries / max(reminded, 1):.1f} queries/invoice"
            )
    if not args.keep:
        drop_database(db)


def drop_database(db):
    """Close Odoo's registry and connections of ``db`` and drop it."""
    from odoo.modules.registry import Registry
    from odoo.sql_db import close_db

    Registry.delete(db)
    close_db(db)
    subprocess.run(["dropdb", "--if-exists", *db_connection_args(), db], check=False)


def check_pdfs(env, sample=20):
    """Read back the PDFs of a sample of the sent invoices: each must be a
    one-page PDF carrying its own invoice number."""
    import random

    moves = env["account.move"].search(
        [
            ("subscription_contract_id", "!=", False),
            ("invoice_pdf_report_id", "!=", False),
        ]
    )
    picked = random.Random(0).sample(list(moves), min(sample, len(moves)))
    good = shapes = pdfa = 0
    for move in picked:
        raw = move.invoice_pdf_report_id.raw
        pdfa += b"/GTS_PDFA1" in raw and b"<fx:ConformanceLevel>EN 16931" in raw
        text = subprocess.run(
            ["pdftotext", "-", "-"],
            input=move.invoice_pdf_report_id.raw,
            capture_output=True,
            check=False,
        ).stdout.decode(errors="replace")
        if not text.strip("\f \n"):
            shapes += 1
        good += move.name in text and text.count("\f") == 1
    line = (
        f"PDFs read back: {good}/{len(picked)} of a sample carry their own invoice "
        f"number on one page ({len(moves)} invoices with a PDF); "
        f"{pdfa}/{len(picked)} are PDF/A-3 Factur-X EN 16931; e-invoice errors: "
        f"{env['account.move'].search_count([('subscription_edi_error', '!=', False)])}"
    )
    if shapes:
        line += (
            f"; {shapes} have no text to read back (Debian's wkhtmltopdf draws "
            "web fonts as shapes): look at them with pdftoppm"
        )
    return line


def db_connection_args():
    """dropdb options from SB_ODOO_DB_ARGS (--db_host=H --db_port=P ...)."""
    mapping = {"--db_host": "-h", "--db_port": "-p", "--db_user": "-U"}
    result = []
    for option in shlex.split(os.environ.get("SB_ODOO_DB_ARGS", "")):
        key, __, value = option.partition("=")
        if key in mapping and value:
            result += [mapping[key], value]
    return result


if __name__ == "__main__":
    main()
