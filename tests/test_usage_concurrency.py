from odoo import SUPERUSER_ID, api, fields
from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from .concurrency import CommittedContractCase


@tagged("post_install", "-at_install")
class TestUsageConcurrency(CommittedContractCase):
    """Usage billed exactly once with real concurrent transactions on
    committed data: two billing workers, usage arriving while its period is
    billed, a crash in the middle of a run."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = self._env(cr)
            # Started 40 days ago, monthly in advance: its first period is over.
            contract = self._create_contract(env, "Metered concurrency", days_ago=40)
            self.line_id = contract.line_ids.id
            # Metered from its first day (set up, not an amendment).
            contract.line_ids.with_context(subscription_amendment_done=True).write(
                {"billing_type": "metered", "included_quantity": 100}
            )
            self.day = fields.Date.add(contract.date_start, days=3)
            env["subscription.usage"].record_usage(
                [self._row(f"k{n}", 10) for n in range(50)]
            )

    def _row(self, key, qty):
        return {
            "contract_line_id": self.line_id,
            "date": f"{self.day} 12:00:00",
            "quantity": qty,
            "idempotency_key": key,
        }

    def _remove_records(self, env):
        moves = self._moves(env)
        moves.filtered(lambda m: m.state == "posted").button_draft()
        moves.with_context(force_delete=True).unlink()
        env.cr.execute(
            SQL(
                "DELETE FROM subscription_usage WHERE contract_line_id = %s",
                self.line_id,
            )
        )
        return super()._remove_records(env)

    def _state(self):
        """(usage lines billed, records billed, quantity billed, records free)."""
        with self.registry.cursor() as cr:
            env = self._env(cr)
            heads = self._moves(env, state="posted").line_ids.filtered(
                "subscription_usage_head"
            )
            usages = env["subscription.usage"].search(
                [("contract_line_id", "=", self.line_id)]
            )
            billed = usages.filtered("invoice_line_id")
            self.assertTrue(set(billed.invoice_line_id.ids) <= set(heads.ids))
            return (
                len(heads),
                len(billed),
                sum(heads.mapped("subscription_usage_used")),
                len(usages - billed),
            )

    def test_two_workers_bill_the_usage_once(self):
        with self.registry.cursor() as cr1, self.registry.cursor() as cr2:
            first = self._contract(cr1)._generate_invoices()
            second = self._contract(cr2)._generate_invoices()
            self.assertTrue(first)
            self.assertFalse(second)
            cr1.commit()
            cr2.rollback()
            self.assertFalse(self._contract(cr2)._generate_invoices())
            cr2.commit()
        # 500 used, 100 included: one period of usage, 50 records, billed once.
        self.assertEqual(self._state(), (1, 50, 500.0, 0))

    def test_usage_arriving_while_its_period_is_billed(self):
        with self.registry.cursor() as cr1:
            contract = self._contract(cr1)
            todo = contract._prepare_billing()  # the usage is read here
            # The integrator sends a record of the period being billed, and
            # commits, before the billing transaction claims the usage (a
            # timeout would say that recording waited for billing).
            with self.registry.cursor() as cr2:
                cr2.execute("SET LOCAL statement_timeout = 20000")
                result = self._env(cr2)["subscription.usage"].record_usage(
                    [self._row("during", 7)]
                )
            self.assertEqual(result["created"], 1)
            contract._create_invoices(*todo)
            cr1.commit()
        # The record that arrived during the run is not lost: it waits...
        self.assertEqual(self._state(), (1, 50, 500.0, 1))
        with self.registry.cursor() as cr:
            moves = self._contract(cr)._generate_invoices(ahead=True)
            late = moves.line_ids.filtered("subscription_usage_late")
            self.assertEqual(late.subscription_usage_used, 7.0)
            self.assertIn("recorded late", late.name)
        # ...and goes on the next invoice, once.
        self.assertEqual(self._state(), (2, 51, 507.0, 0))

    def test_crash_in_the_middle_of_a_run_bills_nothing_then_once(self):
        with self.registry.cursor() as cr:
            self.assertTrue(self._contract(cr)._generate_invoices())
            cr.rollback()  # the worker dies before its commit
        self.assertEqual(self._state(), (0, 0, 0, 50))
        with self.registry.cursor() as cr:
            self._contract(cr)._generate_invoices()
        self.assertEqual(self._state(), (1, 50, 500.0, 0))
        with self.registry.cursor() as cr:
            self.assertFalse(self._contract(cr)._generate_invoices())
        self.assertEqual(self._state(), (1, 50, 500.0, 0))

    def test_a_record_cannot_move_to_another_invoice_line(self):
        self.test_two_workers_bill_the_usage_once()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            usage = env["subscription.usage"].search(
                [("contract_line_id", "=", self.line_id)], limit=1
            )
            other = self._moves(env).line_ids - usage.invoice_line_id
            with (
                self.assertRaisesRegex(Exception, "already billed by invoice line"),
                mute_logger("odoo.sql_db"),
                cr.savepoint(),
            ):
                cr.execute(
                    SQL(
                        "UPDATE subscription_usage SET invoice_line_id = %s "
                        "WHERE id = %s",
                        other[:1].id,
                        usage.id,
                    )
                )
