#!/usr/bin/env python3
"""Render sample subscription invoices to PDF and PNG, to check them by eye.

Three invoices (EUR transfer with its SEPA QR code, SEPA direct debit, card) of
a French company to a customer with a long name, in English and in French, on
A4 and Letter, with the wkhtmltopdf first on the PATH (``make test`` and
``make bench`` put the patched build there). The data is committed: use a
scratch database. The PNGs of static/description/ come from here
(invoice_pdf.png: invoice_transfer_fr_a4.png at --dpi 100):

    PATH=.tools/wkhtmltox/bin:$PATH SB_ADDONS_PATH=$(tools/addons_path.sh) \\
    SB_ODOO_DB_ARGS="$(tools/pg.sh odoo-args)" \\
        python3 tools/render_invoice_samples.py --db DB --out /tmp/invoices

DB is a database with subscription_billing installed (no demo data needed).
"""

import argparse
import subprocess
from datetime import date, timedelta
from pathlib import Path

from odoo_server import http_server, odoo_options


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--out", default="/tmp/subscription_invoices")
    parser.add_argument("--dpi", type=int, default=70, help="PNG resolution")
    return parser.parse_args()


def setup(env):
    from odoo import Command

    company = env.company
    eur = env.ref("base.EUR")
    eur.active = True
    if not env["res.currency.rate"].search([("currency_id", "=", eur.id)], limit=1):
        env["res.currency.rate"].create(
            {"currency_id": eur.id, "name": "2020-01-01", "rate": 1.0}
        )
    fr = env.ref("base.fr")
    # A French company keeps its books in euros (a scratch database: no entry
    # yet, the currency can change), so its EUR invoices show no second
    # currency's tax box.
    company.currency_id = eur
    company.write(
        {
            "name": "Atelier Numérique de la Vallée de la Loire SARL",
            "street": "12 quai de la Fosse",
            "zip": "44000",
            "city": "Nantes",
            "country_id": fr.id,
            "phone": "+33 2 40 00 00 00",
            "email": "factures@atelier-loire.example",
            "vat": "FR23334175221",
            "company_registry": "334 175 221 00015",
            "sepa_creditor_identifier": "FR72ZZZ123456",
        }
    )
    bank = env["res.bank"].create({"name": "Crédit Agricole", "bic": "AGRIFRPP"})
    company_account = env["res.partner.bank"].create(
        {
            "partner_id": company.partner_id.id,
            "acc_number": "FR7630006000011234567890189",
            "bank_id": bank.id,
            "allow_out_payment": True,
        }
    )
    journal = env["account.journal"].search(
        [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
    )
    journal.bank_account_id = company_account
    company.sepa_journal_id = journal
    group = env["account.tax.group"].create({"name": "TVA 20 %"})
    tax = env["account.tax"].create(
        {
            "name": "TVA 20 %",
            "amount": 20.0,
            "type_tax_use": "sale",
            "tax_group_id": group.id,
        }
    )
    products = env["product.product"].create(
        [
            {
                "name": "Hébergement et maintenance applicative — offre Sérénité",
                "type": "service",
                "list_price": 249.0,
                "taxes_id": [Command.set(tax.ids)],
            },
            {
                "name": "Support prioritaire",
                "type": "service",
                "list_price": 49.0,
                "taxes_id": [Command.set(tax.ids)],
            },
        ]
    )
    plan = env["subscription.plan"].create(
        {
            "name": "Mensuel",
            "billing_interval": 1,
            "billing_unit": "month",
            "payment_reference_model": "euro",
        }
    )
    provider = env["payment.provider"].sudo().search([("code", "=", "demo")], limit=1)
    provider.write({"state": "test", "is_published": True})
    return {
        "eur": eur,
        "fr": fr,
        "products": products,
        "plan": plan,
        "provider": provider,
        "bank": bank,
    }


def make_invoices(env, data, lang):
    from odoo import Command

    customer = env["res.partner"].create(
        {
            "name": "Établissements Boulangerie-Pâtisserie Martin et Fils "
            "de Saint-Rémy-de-Provence",
            "street": "3 place de la République",
            "zip": "13210",
            "city": "Saint-Rémy-de-Provence",
            "country_id": data["fr"].id,
            "email": "compta@martin.example",
            "lang": lang,
            "is_company": True,
            "vat": "FR64443061841",
            "company_registry": "443 061 841 00013",
        }
    )
    account = env["res.partner.bank"].create(
        {
            "partner_id": customer.id,
            "acc_number": "FR1420041010050500013M02606",
            "bank_id": data["bank"].id,
        }
    )
    mandate = env["subscription.sepa.mandate"].create(
        {
            "partner_id": customer.id,
            "partner_bank_id": account.id,
            "signature_date": (date.today() - timedelta(days=60)).isoformat(),
            "signature_place": "Saint-Rémy",
        }
    )
    mandate.action_validate()
    token = (
        env["payment.token"]
        .sudo()
        .create(
            {
                "provider_id": data["provider"].id,
                "payment_method_id": (
                    data["provider"].payment_method_ids[:1]
                    or env.ref("payment.payment_method_unknown")
                ).id,
                "payment_details": "4242",
                "partner_id": customer.id,
                "provider_ref": f"demo-{customer.id}",
            }
        )
    )
    invoices = {}
    for method, extra in (
        ("transfer", {}),
        ("sepa_direct_debit", {"mandate_id": mandate.id}),
        ("card", {"payment_token_id": token.id}),
    ):
        contract = env["subscription.contract"].create(
            {
                "partner_id": customer.id,
                "plan_id": data["plan"].id,
                "currency_id": data["eur"].id,
                "date_start": date.today().replace(day=1).isoformat(),
                "payment_method": method,
                "allow_overlap": True,
                "line_ids": [
                    Command.create({"product_id": product.id})
                    for product in data["products"]
                ],
                **extra,
            }
        )
        contract.action_start()
        invoices[method] = contract._generate_invoices(raise_errors=True)
        assert invoices[method], f"nothing billed for {method}"
    return invoices


def main():
    args = parse_args()
    options = odoo_options(args.db)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from unittest.mock import patch

    import polib

    import odoo
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry
    from odoo.tools.translate import code_translations

    odoo.tools.config.parse_config(options)
    with http_server(options) as url:
        registry = Registry(args.db)
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["ir.config_parameter"].set_param("report.url", url)
            env["res.lang"]._activate_lang("fr_FR")
            # fr.po as it is: Odoo merges it with the module's .pot, which
            # would drop the strings the .pot does not list yet.
            with patch.object(polib.POFile, "merge", lambda self, refpot: None):
                env["ir.module.module"]._load_module_terms(
                    ["base", "account", "subscription_billing"], ["fr_FR"]
                )
                code_translations.python_translations.pop(
                    ("subscription_billing", "fr_FR"), None
                )
                code_translations.get_python_translations(
                    "subscription_billing", "fr_FR"
                )
            data = setup(env)
            cr.commit()
            report = env.ref("account.account_invoices")
            papers = {
                "a4": env.ref("base.paperformat_euro"),
                "letter": env.ref("base.paperformat_us"),
            }
            for lang in ("en_US", "fr_FR"):
                invoices = make_invoices(env, data, lang)
                cr.commit()
                for paper, paperformat in papers.items():
                    env.company.paperformat_id = paperformat
                    for method, invoice in invoices.items():
                        pdf, __ = (
                            env["ir.actions.report"]
                            .with_context(lang=lang)
                            ._render_qweb_pdf(report.report_name, invoice.ids)
                        )
                        stem = out / f"invoice_{method}_{lang[:2]}_{paper}"
                        stem.with_suffix(".pdf").write_bytes(pdf)
                        subprocess.run(
                            [
                                "pdftoppm",
                                "-png",
                                "-r",
                                str(args.dpi),
                                "-singlefile",
                                str(stem.with_suffix(".pdf")),
                                str(stem),
                            ],
                            check=True,
                        )
                        print(stem.with_suffix(".png"))
            cr.commit()  # a scratch database: drop it afterwards


if __name__ == "__main__":
    main()
