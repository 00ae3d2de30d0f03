from odoo.tests import tagged
from odoo.tools import SQL

from ..models.account_move_card import CARD_LOCK
from .common import provider_ledger
from .concurrency import CommittedContractCase


@tagged("post_install", "-at_install")
class TestCardChargesCommitted(CommittedContractCase):
    """On committed data with real cursors: the charge survives a crash of the
    worker that asked for it, and the next worker records it, never charging
    the card again."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = self._env(cr)
            provider = env["payment.provider"].search(
                [("code", "=", "demo"), ("company_id", "=", env.company.id)], limit=1
            )
            self.provider_state = provider.state
            provider.state = "test"
            partner = env["res.partner"].create(
                {"name": "Committed card customer", "email": "card@example.com"}
            )
            token = env["payment.token"].create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": (
                        provider.payment_method_ids[:1]
                        or env.ref("payment.payment_method_unknown")
                    ).id,
                    "payment_details": "4242",
                    "partner_id": partner.id,
                    "provider_ref": "demo-committed",
                    "demo_simulated_state": "done",
                }
            )
            contract = self._create_contract(
                env,
                "Committed card",
                partner=partner,
                payment_method="card",
                payment_token_id=token.id,
            )
            invoice = contract._generate_invoices()
            self.ids.update(provider=provider.id, token=token.id, invoice=invoice.id)

    def _remove_records(self, env):
        transactions = env["account.move"].browse(self.ids["invoice"]).transaction_ids
        payments = transactions.payment_id
        payments.action_draft()
        payments.unlink()
        transactions.unlink()
        res = super()._remove_records(env)
        env["payment.provider"].browse(self.ids["provider"]).state = self.provider_state
        return res

    def _invoice(self, cr):
        return self._env(cr)["account.move"].browse(self.ids["invoice"])

    def test_worker_crash_after_the_charge_never_charges_twice(self):
        ledger, provider = provider_ledger(self.registry)
        with provider:
            # A worker charges, then crashes before its transaction commits.
            with self.registry.cursor() as cr:
                self._invoice(cr)._charge_card()
                cr.rollback()
            self.assertEqual(len(ledger), 1)
            # The next workers find the accepted charge and record it.
            for __ in range(2):
                with self.registry.cursor() as cr:
                    self._invoice(cr)._charge_card()
        self.assertEqual(len(ledger), 1, "exactly one successful charge")
        with self.registry.cursor() as cr:
            invoice = self._invoice(cr)
            self.assertEqual(len(invoice.transaction_ids), 1)
            self.assertEqual(invoice.transaction_ids.state, "done")
            self.assertIn(invoice.payment_state, ("paid", "in_payment"))
            self.assertEqual(len(invoice._get_reconciled_payments()), 1)
            self.assertFalse(invoice.payment_collection_pending)

    def test_a_second_worker_leaves_an_invoice_being_charged(self):
        with self.registry.cursor() as first, self.registry.cursor() as second:
            # The first worker is charging this invoice (its advisory lock).
            first.execute(
                SQL(
                    "SELECT pg_try_advisory_lock(%s, %s)",
                    CARD_LOCK,
                    self.ids["invoice"],
                )
            )
            self.assertTrue(first.fetchone()[0])
            self.assertFalse(self._invoice(second)._charge_card())
            first.execute(
                SQL("SELECT pg_advisory_unlock(%s, %s)", CARD_LOCK, self.ids["invoice"])
            )
            second.rollback()
        with self.registry.cursor() as cr:
            self.assertFalse(self._invoice(cr).transaction_ids)
            # Once released, the next run charges it.
            self._invoice(cr)._charge_card()
        with self.registry.cursor() as cr:
            self.assertEqual(self._invoice(cr).transaction_ids.state, "done")
