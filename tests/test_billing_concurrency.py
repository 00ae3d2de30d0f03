import threading

import psycopg2

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.exceptions import UserError
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, get_db_name, tagged
from odoo.tools import mute_logger


@tagged("post_install", "-at_install")
class TestBillingConcurrency(BaseCase):
    """Real concurrent transactions on committed data (two cursors, as two cron
    workers or a worker and a user), cleaned up after each test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            plan = env["subscription.plan"].create(
                {"name": "Concurrency plan", "company_id": False}
            )
            product = env["product.product"].create(
                {"name": "Concurrency service", "type": "service", "list_price": 10}
            )
            partner = env["res.partner"].create(
                {"name": "Concurrency customer", "email": "concurrency@example.com"}
            )
            contract = env["subscription.contract"].create(
                {
                    "partner_id": partner.id,
                    "plan_id": plan.id,
                    "date_start": fields.Date.to_string(
                        env.company._subscription_today()
                    ),
                    "line_ids": [Command.create({"product_id": product.id})],
                }
            )
            contract.action_start()
            self.ids = {
                "plan": plan.id,
                "product": product.id,
                "partner": partner.id,
                "contract": contract.id,
            }
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            contract = env["subscription.contract"].browse(self.ids["contract"])
            moves = self._moves(env)
            moves.filtered(lambda m: m.state == "posted").button_draft()
            moves.with_context(force_delete=True).unlink()
            contract.write({"state": "cancelled"})
            contract.unlink()
            env["subscription.plan"].browse(self.ids["plan"]).unlink()
            env["product.product"].browse(self.ids["product"]).unlink()
            env["res.partner"].browse(self.ids["partner"]).unlink()

    def _moves(self, env):
        return (
            env["account.move"]
            .with_context(active_test=False)
            .search([("subscription_contract_id", "=", self.ids["contract"])])
        )

    def _contract(self, cr):
        env = api.Environment(cr, SUPERUSER_ID, {})
        return env["subscription.contract"].browse(self.ids["contract"])

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
