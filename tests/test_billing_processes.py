import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dateutil.relativedelta import relativedelta

import odoo
from odoo import Command
from odoo.tests import get_db_name, tagged
from odoo.tools import SQL, config
from odoo.tools.pdf import OdooPdfFileReader

from ..models.account_move_send import wkhtmltopdf_is_patched
from .concurrency import CommittedCase

_logger = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("cron_worker.py")
BILLING = "subscription_billing.ir_cron_subscription_billing"
SENDING = "subscription_billing.ir_cron_subscription_send"
SEND_LOGGER = "odoo.addons.subscription_billing.models.account_move_send"


@tagged("post_install", "-at_install")
class TestBillingProcesses(CommittedCase):
    """Billing and sending run by separate OS processes through Odoo's own cron
    runner (``ir.cron._run_job``), on committed data removed after each test."""

    def setUp(self):
        super().setUp()
        self.contract_ids = []
        self.record_ids = {"res.partner": [], "product.product": []}
        self.addCleanup(self._cleanup)
        self.tmp = Path(tempfile.mkdtemp(prefix="i10_workers_"))

    # --- helpers ----------------------------------------------------------------

    def _create_contracts(self, starts, label):
        """Committed, started one-line monthly contracts, one customer each."""
        with self.registry.cursor() as cr:
            env = self._env(cr)
            plan = env["subscription.plan"].create(
                {"name": f"Processes {label}", "company_id": False}
            )
            product = env["product.product"].create(
                {"name": f"Processes {label}", "type": "service", "list_price": 10}
            )
            partners = env["res.partner"].create(
                [
                    {"name": f"{label} {i}", "email": f"{label.lower()}{i}@example.com"}
                    for i in range(len(starts))
                ]
            )
            contracts = env["subscription.contract"].create(
                [
                    {
                        "partner_id": partner.id,
                        "plan_id": plan.id,
                        "date_start": start,
                        "line_ids": [Command.create({"product_id": product.id})],
                    }
                    for partner, start in zip(partners, starts, strict=True)
                ]
            )
            contracts.action_start()
            # Fresh statistics for the planner: the test database was filled a
            # moment ago, faster than autovacuum analyses it, and Odoo's payment
            # state query then picks a plan that takes minutes on 750 invoices.
            cr.execute(
                SQL(
                    "ANALYZE account_move, account_move_line, "
                    "account_partial_reconcile, account_account"
                )
            )
            self.contract_ids += contracts.ids
            self.record_ids["res.partner"] += partners.ids
            self.record_ids["product.product"] += product.ids
            self.plan_id = plan.id
            return contracts.ids

    def _cleanup(self):
        # The invoices and contracts of these tests are removed with SQL: posted
        # invoices cannot be deleted through the ORM, and the test database is
        # shared with the tests that run after these.
        if not self.contract_ids:
            return
        with self.registry.cursor() as cr:
            ids = tuple(self.contract_ids)
            cr.execute(
                SQL(
                    """
                    DELETE FROM account_partial_reconcile WHERE debit_move_id IN (
                        SELECT l.id FROM account_move_line l JOIN account_move m
                          ON m.id = l.move_id
                         WHERE m.subscription_contract_id IN %s
                    ) OR credit_move_id IN (
                        SELECT l.id FROM account_move_line l JOIN account_move m
                          ON m.id = l.move_id
                         WHERE m.subscription_contract_id IN %s
                    )
                    """,
                    ids,
                    ids,
                )
            )
            cr.execute(
                SQL(
                    "DELETE FROM account_move WHERE subscription_contract_id IN %s",
                    ids,
                )
            )
            cr.execute(SQL("DELETE FROM subscription_contract WHERE id IN %s", ids))
            env = self._env(cr)
            env.invalidate_all()
            for model, record_ids in self.record_ids.items():
                env[model].browse(record_ids).write({"active": False})

    def _set_report_url(self, url):
        with self.registry.cursor() as cr:
            self._env(cr)["ir.config_parameter"].set_param("report.url", url or False)

    def _spawn(self, name, start_file, *xmlids, real_pdf=False):
        """Start a worker process running ``xmlids`` through the cron runner
        (``real_pdf``: PDFs rendered by wkhtmltopdf, as in production)."""
        options = [
            *self._odoo_args(),
            f"--data-dir={config['data_dir']}",
            "-d",
            get_db_name(),
            "--log-level=warn",
            "--max-cron-threads=0",
        ]
        if real_pdf:
            options.append(f"--log-handler={SEND_LOGGER}:INFO")
        result = self.tmp / f"{name}.json"
        env = dict(
            os.environ,
            SB_WORKER_REAL_PDF="1" if real_pdf else "",
            PYTHONPATH=os.pathsep.join(
                filter(
                    None,
                    [
                        str(Path(odoo.__file__).resolve().parent.parent),
                        os.environ.get("PYTHONPATH"),
                    ],
                )
            ),
        )
        process = subprocess.Popen(  # noqa: S603 -- our own worker script
            [
                sys.executable,
                str(WORKER),
                str(result),
                str(start_file),
                *xmlids,
                "--",
                *options,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return process, result

    def _ready(self, process, result):
        """Wait until the worker has loaded Odoo."""
        ready = Path(f"{result}.ready")
        for __ in range(6000):
            if ready.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        self.assertTrue(ready.exists(), "the worker could not load Odoo")

    def _wait(self, process, result):
        output, __ = process.communicate(timeout=900)
        self.assertEqual(process.returncode, 0, output[-3000:])
        self.output = output
        data = json.loads(result.read_text())
        return data

    def _billed(self, env, contract_ids):
        moves = env["account.move"].search(
            [
                ("subscription_contract_id", "in", contract_ids),
                ("state", "!=", "cancel"),
            ]
        )
        return moves

    def _due_periods(self, env, contract_ids):
        contracts = env["subscription.contract"].browse(contract_ids)
        return {
            (contract.id, period.start, period.end)
            for contract in contracts
            for period in contract._get_due_periods(contract._get_today())
        }

    # --- tests ------------------------------------------------------------------

    def test_two_processes_bill_300_contracts_every_day_once(self):
        with self.registry.cursor() as cr:
            today = self._env(cr).company._subscription_today()
        # 1, 2 or 3 due monthly periods per contract, on various days.
        starts = [today - relativedelta(months=i % 3, days=i % 7) for i in range(300)]
        contract_ids = self._create_contracts(starts, "Duo")
        with self.registry.cursor() as cr:
            expected = self._due_periods(self._env(cr), contract_ids)
        self.assertGreater(len(expected), 500)
        start_file = self.tmp / "go"
        workers = [
            self._spawn(name, start_file, BILLING, SENDING) for name in ("a", "b")
        ]
        start_file.touch()
        results = [self._wait(*worker) for worker in workers]
        with self.registry.cursor() as cr:
            env = self._env(cr)
            moves = self._billed(env, contract_ids)
            billed = [
                (
                    m.subscription_contract_id.id,
                    m.subscription_period_start,
                    m.subscription_period_end,
                )
                for m in moves
            ]
            # Every due period billed, none twice, none missing; all posted
            # and sent.
            self.assertEqual(len(billed), len(set(billed)))
            missing = env["subscription.contract"].browse(
                {contract_id for contract_id, __, __ in expected - set(billed)}
            )
            self.assertFalse(
                missing,
                [
                    (c.id, c.next_period_start, c.billing_error, c.invoice_ids.ids)
                    for c in missing[:5]
                ],
            )
            self.assertEqual(set(billed), expected)
            self.assertEqual(set(moves.mapped("state")), {"posted"})
            self.assertFalse(moves.filtered("subscription_to_send"))
            self.assertTrue(all(moves.mapped("is_move_sent")))
            self.assertFalse(
                env["subscription.contract"]
                .browse(contract_ids)
                .filtered("billing_error_date")
            )
        done = {}
        for data in results:
            for run in data["runs"]:
                self.assertNotEqual(run["status"], "failed", run)
                done.setdefault(run["xmlid"], []).append(
                    sum(call[0] for call in run["calls"])
                )
        # Every contract handled (a batch that met the other process's invoice
        # numbers is counted each time it is tried: it is left for a next call,
        # unflagged), and each invoice sent by one process only.
        self.assertGreaterEqual(sum(done[BILLING]), len(contract_ids))
        self.assertEqual(sum(done[SENDING]), len(expected))
        _logger.info(
            "Two processes (pids %s) billed %s due periods of %s contracts exactly "
            "once, none missing (contracts per process: %s), and sent them all "
            "(invoices per process: %s); runs: %s",
            [data["pid"] for data in results],
            len(expected),
            len(contract_ids),
            done[BILLING],
            done[SENDING],
            [run for data in results for run in data["runs"]],
        )

    def test_catch_up_of_750_invoices_is_sent_by_one_run(self):
        with self.registry.cursor() as cr:
            today = self._env(cr).company._subscription_today()
        # 150 contracts started on the 1st four months ago: five monthly
        # periods each, all due at the first run.
        first = today.replace(day=1) - relativedelta(months=4)
        contract_ids = self._create_contracts([first] * 150, "Backlog")
        with self.registry.cursor() as cr:
            expected = self._due_periods(self._env(cr), contract_ids)
        self.assertEqual(len(expected), 750)
        start_file = self.tmp / "go"
        start_file.touch()
        data = self._wait(*self._spawn("one", start_file, BILLING, SENDING))
        billing, sending = data["runs"]
        # One run of each scheduled action: the runner was told the truth and
        # called again while work remained, and the whole backlog went out.
        self.assertEqual(billing["status"], "fully done", billing)
        self.assertEqual(sending["status"], "fully done", sending)
        self.assertEqual(sum(call[0] for call in sending["calls"]), 750)
        self.assertEqual(sending["calls"][-1][1], 0)
        with self.registry.cursor() as cr:
            env = self._env(cr)
            moves = self._billed(env, contract_ids)
            self.assertEqual(len(moves), 750)
            self.assertFalse(moves.filtered("subscription_to_send"))
            self.assertTrue(all(moves.mapped("is_move_sent")))
            # Catch-up invoices are dated the day they are made.
            self.assertEqual(set(moves.mapped("invoice_date")), {today})
        _logger.info(
            "One run billed and sent a catch-up of 750 invoices: billing %s, "
            "sending %s",
            billing,
            sending,
        )

    def test_sending_renders_real_pdfs_ahead_each_on_its_invoice(self):
        """The sending cron renders PDFs ahead in threads with their own cursors
        (a chunk per wkhtmltopdf call with the patched build) while it emails
        the previous ones: every invoice gets its own PDF, read back here."""
        patched = wkhtmltopdf_is_patched()
        with self.registry.cursor() as cr:
            today = self._env(cr).company._subscription_today()
        # The patched build renders a chunk in one call: two chunks (10, then
        # 15). Any other renders one invoice per call: a handful only, so that
        # the suite's length does not depend on which wkhtmltopdf is installed.
        count = 25 if patched else 5
        contract_ids = self._create_contracts([today] * count, "Rendered")
        # wkhtmltopdf fetches the report's assets from report.url: not from this
        # test server (it would wait for the test's cursor), from a closed port
        # (the pages come out unstyled, at once).
        with self.registry.cursor() as cr:
            params = self._env(cr)["ir.config_parameter"]
            previous = params.get_param("report.url")
            params.set_param("report.url", "http://127.0.0.1:9")
        self.addCleanup(self._set_report_url, previous)
        start_file = self.tmp / "go"
        start_file.touch()
        data = self._wait(
            *self._spawn("pdf", start_file, BILLING, SENDING, real_pdf=True)
        )
        billing, sending = data["runs"]
        self.assertEqual(billing["status"], "fully done", billing)
        self.assertEqual(sending["status"], "fully done", sending)
        if patched:
            self.assertIn(
                "PDFs of 25 invoices rendered ahead, in 2 chunks (2 renderings)",
                self.output,
            )
        else:
            self.assertIn(
                "PDFs of 5 invoices rendered ahead, in 1 chunks (5 renderings)",
                self.output,
            )
        with self.registry.cursor() as cr:
            env = self._env(cr)
            moves = self._billed(env, contract_ids)
            self.assertEqual(len(moves), count)
            self.assertFalse(moves.filtered("subscription_to_send"))
            for move in moves:
                pdf = move.invoice_pdf_report_id.raw
                self.assertTrue(pdf.startswith(b"%PDF"), move.name)
                reader = OdooPdfFileReader(io.BytesIO(pdf), strict=False)
                self.assertEqual(reader.getNumPages(), 1, move.name)
                text = reader.getPage(0).extractText()
                self.assertIn(move.name, text)
                self.assertIn(move.partner_id.name, text)
                mail = env["mail.mail"].search(
                    [("model", "=", "account.move"), ("res_id", "=", move.id)]
                )
                self.assertEqual(
                    mail.attachment_ids.filtered(
                        lambda a: a.mimetype == "application/pdf"
                    ).raw,
                    pdf,
                )

    def test_payment_on_an_invoice_waiting_to_be_sent_fails_nothing(self):
        with self.registry.cursor() as cr:
            today = self._env(cr).company._subscription_today()
        paid_id, *due_ids = self._create_contracts([today] * 4, "Payment")
        with self.registry.cursor() as cr:
            env = self._env(cr)
            # Billed earlier, waiting to be sent.
            invoice = env["subscription.contract"].browse(paid_id)._generate_invoices()
            self.assertTrue(invoice.subscription_to_send)
            invoice_id = invoice.id
        start_file = self.tmp / "go"
        worker = self._spawn("cron", start_file, BILLING, SENDING)
        self._ready(*worker)
        with self.registry.cursor() as accountant_cr:
            # An accountant registers the payment; not committed yet, the
            # invoice's row is locked meanwhile.
            env = self._env(accountant_cr)
            invoice = env["account.move"].browse(invoice_id)
            env["account.payment.register"].with_context(
                active_model="account.move", active_ids=invoice.ids
            ).create({})._create_payments()
            env.flush_all()
            self.assertEqual(invoice.payment_state, "paid")
            start_file.touch()
            data = self._wait(*worker)
            accountant_cr.commit()
        billing, sending = data["runs"]
        self.assertEqual(billing["status"], "fully done", billing)
        self.assertNotEqual(sending["status"], "failed", sending)
        # The locked invoice was skipped and reported as remaining.
        self.assertEqual(sending["calls"][0], [3, 1])
        with self.registry.cursor() as cr:
            env = self._env(cr)
            moves = self._billed(env, due_ids)
            self.assertEqual(len(moves), 3)
            self.assertTrue(all(moves.mapped("is_move_sent")))
            invoice = env["account.move"].browse(invoice_id)
            self.assertEqual(invoice.payment_state, "paid")
            self.assertTrue(invoice.subscription_to_send)
        # The next run sends it.
        start_file = self.tmp / "go2"
        start_file.touch()
        self._wait(*self._spawn("cron2", start_file, SENDING))
        with self.registry.cursor() as cr:
            invoice = self._env(cr)["account.move"].browse(invoice_id)
            self.assertFalse(invoice.subscription_to_send)
            self.assertTrue(invoice.is_move_sent)
        _logger.info(
            "A payment holding an invoice waiting to be sent failed neither "
            "billing (%s) nor sending (%s); the invoice was sent by the next run",
            billing,
            sending,
        )
