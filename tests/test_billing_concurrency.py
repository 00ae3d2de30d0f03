import threading

import psycopg2

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .concurrency import CommittedContractCase


@tagged("post_install", "-at_install")
class TestBillingConcurrency(CommittedContractCase):
    """Real concurrent transactions on committed data (two cursors, as two cron
    workers or a worker and a user), cleaned up after each test."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            self._create_contract(
                self._env(cr), "Concurrency", email="concurrency@example.com"
            )

    def test_two_workers_bill_one_invoice(self):
        with self.registry.cursor() as cr1, self.registry.cursor() as cr2:
            first = self._contract(cr1)._generate_invoices()
            # The second worker skips the row the first one holds...
            second = self._contract(cr2)._generate_invoices()
            self.assertEqual(len(first), 1)
            self.assertFalse(second)
            cr1.commit()
            # ...and, once the first committed, finds nothing left to bill.
            self.assertFalse(self._contract(cr2)._generate_invoices())
            cr2.rollback()
            self.assertFalse(self._contract(cr2)._generate_invoices())
            cr2.commit()
        with self.registry.cursor() as cr:
            self.assertEqual(len(self._moves(api.Environment(cr, SUPERUSER_ID, {}))), 1)

    def test_billed_days_constraint_stops_a_second_transaction(self):
        """Even without the row lock (a worker bypassing it), PostgreSQL's
        exclusion constraint on the billed days refuses the second invoice."""
        errors = []
        with self.registry.cursor() as cr1, self.registry.cursor() as cr2:
            contract1 = self._contract(cr1)
            contract2 = self._contract(cr2)
            todo2 = contract2._prepare_billing()
            contract1._generate_invoices()
            cr1.flush()

            def second_worker():
                try:
                    with mute_logger("odoo.sql_db"):
                        contract2._create_invoices(*todo2)
                        cr2.flush()
                except psycopg2.Error as error:
                    errors.append(error)

            worker = threading.Thread(target=second_worker)
            worker.start()
            worker.join(timeout=2)  # blocked on the constraint by the first insert
            self.assertTrue(worker.is_alive(), "the second insert waits for the first")
            cr1.commit()
            worker.join(timeout=30)
            self.assertFalse(worker.is_alive())
            cr2.rollback()
        self.assertEqual(len(errors), 1)
        self.assertIsInstance(
            errors[0],
            psycopg2.errors.ExclusionViolation | psycopg2.errors.SerializationFailure,
        )
        with self.registry.cursor() as cr:
            self.assertEqual(len(self._moves(api.Environment(cr, SUPERUSER_ID, {}))), 1)

    def test_invoice_now_while_the_cron_bills(self):
        with self.registry.cursor() as cron_cr, self.registry.cursor() as user_cr:
            self._contract(cron_cr)._lock_for_billing()  # the cron is on it
            with self.assertRaisesRegex(UserError, "being invoiced by another process"):
                self._contract(user_cr).action_invoice_now()
            user_cr.rollback()
            cron_cr.rollback()

    def _delete_payment(self, payment_id):
        with self.registry.cursor() as cr:
            payment = api.Environment(cr, SUPERUSER_ID, {})["account.payment"].browse(
                payment_id
            )
            payment.action_draft()
            payment.unlink()
            env = payment.env
            env["account.payment.register"].search(
                [("partner_id", "=", self.ids["partner"])]
            ).unlink()

    def _progress(self, env, xmlid):
        cron = env.ref(xmlid)
        progress = env["ir.cron.progress"].create({"cron_id": cron.id})
        return progress

    def test_contracts_held_by_another_worker_count_as_remaining(self):
        with self.registry.cursor() as cr1, self.registry.cursor() as cr2:
            # The first worker holds the contract (claimed, not committed yet).
            env1 = api.Environment(cr1, SUPERUSER_ID, {})
            model1 = env1["subscription.contract"]
            claimed = model1._claim_for_billing(model1._get_billing_due_domain(), 10)
            self.assertIn(self.ids["contract"], claimed.ids)
            # The second one skips it, and tells the runner it is still due.
            env2 = api.Environment(cr2, SUPERUSER_ID, {})
            progress = self._progress(
                env2, "subscription_billing.ir_cron_subscription_billing"
            )
            env2["subscription.contract"].with_context(
                ir_cron_progress_id=progress.id
            )._cron_generate_invoices()
            self.assertNotIn(
                self.ids["contract"],
                env2["account.move"]
                .search([("subscription_contract_id", "=", self.ids["contract"])])
                .subscription_contract_id.ids,
            )
            self.assertGreaterEqual(progress.remaining, 1)
            cr2.rollback()
            cr1.rollback()

    def test_invoice_paid_meanwhile_is_skipped_by_the_sender(self):
        """The sender's snapshot predates a payment committed meanwhile: the
        claim meets a serialization failure, claims one by one, skips that
        invoice and counts it as waiting."""
        with self.registry.cursor() as cr:
            invoice = self._contract(cr)._generate_invoices()
            self.assertTrue(invoice.subscription_to_send)
            invoice_id = invoice.id
        with self.registry.cursor() as sender_cr:
            sender = api.Environment(sender_cr, SUPERUSER_ID, {})
            progress = self._progress(
                sender, "subscription_billing.ir_cron_subscription_send"
            )
            sender_cr.execute("SELECT 1 FROM account_move LIMIT 1")  # snapshot
            with self.registry.cursor() as accountant_cr:
                env = api.Environment(accountant_cr, SUPERUSER_ID, {})
                payment = (
                    env["account.payment.register"]
                    .with_context(active_model="account.move", active_ids=[invoice_id])
                    .create({})
                    ._create_payments()
                )
                self.addCleanup(self._delete_payment, payment.id)
            moves = sender["account.move"].with_context(ir_cron_progress_id=progress.id)
            moves._cron_subscription_send()
            self.assertEqual(progress.done, 0)
            self.assertEqual(progress.remaining, 1)
            sender_cr.commit()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["account.move"]._cron_subscription_send()
            invoice = env["account.move"].browse(invoice_id)
            self.assertEqual(invoice.payment_state, "paid")
            self.assertFalse(invoice.subscription_to_send)
