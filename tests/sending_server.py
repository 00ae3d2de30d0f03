"""Helpers of the tests that run the sending in other OS processes on
committed data: contracts of customers paying by transfer on a company with an
IBAN (so that the invoice PDF carries the SEPA QR code), and a watch of the
database sessions waiting for a lock."""

import subprocess
import threading

from odoo import Command
from odoo.tools import SQL


class LockWatch:
    """Poll pg_stat_activity while it runs (a thread with its own cursor) and
    keep the longest wait of a session of this database for a lock."""

    def __init__(self, registry, interval=0.25):
        self.registry = registry
        self.interval = interval
        self.longest = 0.0
        self.waits = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)

    def _run(self):
        with self.registry.cursor() as cr:
            while not self._stop.wait(self.interval):
                cr.execute(
                    SQL(
                        """
                        SELECT pid, EXTRACT(EPOCH FROM now() - query_start),
                               left(query, 120)
                          FROM pg_stat_activity
                         WHERE datname = current_database()
                           AND wait_event_type = 'Lock'
                        """
                    )
                )
                for pid, seconds, query in cr.fetchall():
                    if float(seconds) > self.longest:
                        self.longest = float(seconds)
                    if float(seconds) > 3:
                        self.waits.append((pid, round(float(seconds), 1), query))
                cr.rollback()


class IbanCompany:
    """The company prints the SEPA QR code (an IBAN, euros): its transfer
    invoices get ``qr_code_method`` and Odoo's report writes it when rendering."""

    def __init__(self, registry):
        self.registry = registry
        self.saved = {}

    def set_up(self, env):
        company = env.company
        eur = env.ref("base.EUR")
        self.saved = {"eur_active": eur.active, "qr_code": company.qr_code}
        eur.active = True
        company.qr_code = True
        bank = env["res.partner.bank"].search(
            [
                ("partner_id", "=", company.partner_id.id),
                ("acc_number", "=", "FR7630006000011234567890189"),
            ]
        )
        if not bank:
            bank = env["res.partner.bank"].create(
                {
                    "acc_number": "FR7630006000011234567890189",
                    "partner_id": company.partner_id.id,
                    "allow_out_payment": True,
                }
            )
        self.saved["bank"] = bank.id
        return eur

    def tear_down(self, env):
        env.company.qr_code = self.saved["qr_code"]
        env.ref("base.EUR").active = self.saved["eur_active"]
        env["res.partner.bank"].browse(self.saved["bank"]).active = False


def create_transfer_contracts(env, count, label, currency, start, **partner_vals):
    """``count`` started monthly one-line contracts in ``currency``, one customer
    each (with an email): return (contracts, partners, product)."""
    plan = env["subscription.plan"].create({"name": label, "company_id": False})
    product = env["product.product"].create(
        {"name": label, "type": "service", "list_price": 10}
    )
    partners = env["res.partner"].create(
        [
            {
                "name": f"{label} {i}",
                "email": f"{label.lower().replace(' ', '')}{i}@example.com",
                **partner_vals,
            }
            for i in range(count)
        ]
    )
    contracts = env["subscription.contract"].create(
        [
            {
                "partner_id": partner.id,
                "plan_id": plan.id,
                "currency_id": currency.id,
                "date_start": start,
                "line_ids": [Command.create({"product_id": product.id})],
            }
            for partner in partners
        ]
    )
    contracts.action_start()
    return contracts, partners, product


def wait_process(process, timeout):
    """(output, return code) of ``process``, killed past ``timeout`` seconds
    (return code None then)."""
    try:
        output, __ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, __ = process.communicate()
        return output, None
    return output, process.returncode
