from unittest.mock import patch

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import PaymentCommon, provider_ledger

D = fields.Date.to_date
CARD_LOGGER = "odoo.addons.subscription_billing.models.account_move_card"


@tagged("post_install", "-at_install")
class TestCardCharges(PaymentCommon):
    """A card is never charged twice, whatever fails after the provider said yes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The charge is asked in a cursor of its own, committed before and after
        # the provider answers: in tests that cursor shares the test transaction.
        cls.registry.enter_test_mode(cls.cr)
        cls.addClassCleanup(cls.registry.leave_test_mode)

    def test_failure_after_an_accepted_charge_never_charges_twice(self):
        __, invoice = self._card_contract("done")
        ledger, provider = provider_ledger(self.registry)
        transaction_class = self.registry["payment.transaction"]

        def broken_recording(tx):
            raise RuntimeError("disk full while recording the payment")

        with provider, mute_logger(CARD_LOGGER):
            with patch.object(transaction_class, "_post_process", broken_recording):
                for day in ("2027-01-01", "2027-01-02", "2027-01-03"):
                    self._charge(day)
                    self.assertEqual(invoice.payment_state, "not_paid")
                    self.assertEqual(
                        invoice.card_next_try_date,
                        D(day) + relativedelta(days=1),
                        "recorded by the next run",
                    )
                # Called directly too (a user, another worker).
                invoice._charge_card()
            self.assertEqual(len(ledger), 1, "the provider accepted one charge")
            for day in ("2027-01-04", "2027-01-05", "2027-01-06"):
                self._charge(day)
                invoice._charge_card()
        self.assertEqual(len(ledger), 1, "exactly one successful charge")
        self.assertEqual(len(invoice.transaction_ids), 1)
        tx = invoice.transaction_ids
        self.assertEqual((tx.state, tx.reference), ("done", f"{invoice.name}-C1"))
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(invoice._get_reconciled_payments(), tx.payment_id)
        self.assertEqual(tx.payment_id.amount, invoice.amount_total)
        self.assertFalse(invoice.payment_collection_pending)
        self.assertFalse(invoice.card_next_try_date)
        self.assertIn(
            "accepted but could not be recorded",
            " ".join(invoice.message_ids.mapped("body")),
        )

    def test_unanswered_request_is_asked_again_under_its_reference(self):
        __, invoice = self._card_contract("done")
        transaction_class = self.registry["payment.transaction"]
        original = transaction_class._send_payment_request
        calls = []

        def lost_answer(tx):
            calls.append(tx.reference)
            original(tx)
            raise ConnectionError("connection reset after the charge")

        with patch.object(transaction_class, "_send_payment_request", lost_answer):
            self._charge("2027-01-01")
        # The transaction was committed before the provider was asked.
        tx = invoice.transaction_ids
        self.assertEqual((tx.state, tx.reference), ("draft", f"{invoice.name}-C1"))
        self.assertEqual(invoice.card_next_try_date, D("2027-01-02"))
        self._charge("2027-01-02")
        self._charge("2027-01-03")
        self.assertEqual(invoice.transaction_ids, tx, "the same reference, asked again")
        self.assertEqual(calls, [tx.reference])
        self.assertEqual(tx.state, "done")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(len(invoice._get_reconciled_payments()), 1)

    def test_retry_plan_is_a_company_setting(self):
        self.company.card_retry_days = "2,5"
        __, invoice = self._card_contract("error")
        self._charge("2027-01-01")
        self.assertEqual(invoice.card_next_try_date, D("2027-01-03"))
        self._charge("2027-01-03")
        self.assertEqual(invoice.card_next_try_date, D("2027-01-08"))
        self._charge("2027-01-08")
        self.assertEqual(invoice.card_failed_attempts, 3)
        self.assertFalse(invoice.card_next_try_date)
        self.assertFalse(invoice.payment_collection_pending)
        self.assertEqual(
            sorted(invoice.transaction_ids.mapped("reference")),
            [f"{invoice.name}-C{n}" for n in (1, 2, 3)],
        )
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.card_retry_days, "2,5")
        with self.assertRaisesRegex(ValidationError, "retry plan"):
            self.company.card_retry_days = "1,0"
        with freeze_time("2027-01-20"):
            self.assertIn(
                invoice,
                self.env["account.move"].search(
                    self.env["account.move"]._get_reminder_due_domain()
                ),
            )


@tagged("post_install", "-at_install")
class TestCardPayments(PaymentCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The charge is asked in a cursor of its own (committed before the
        # provider answers): in tests that cursor shares the test transaction.
        cls.registry.enter_test_mode(cls.cr)
        cls.addClassCleanup(cls.registry.leave_test_mode)

    def test_card_contract_needs_a_saved_card(self):
        contract = self._create_contract(payment_method="card")
        with self.assertRaisesRegex(UserError, "a saved card"):
            contract.action_start()

    def test_charge_success_registers_and_reconciles(self):
        __, invoice = self._card_contract("done")
        self.assertTrue(invoice.payment_collection_pending)
        self.assertEqual(invoice.card_next_try_date, D("2027-01-01"))
        self._charge("2027-01-01")
        tx = invoice.transaction_ids
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.operation, "offline")
        self.assertEqual(tx.amount, invoice.amount_total)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertTrue(tx.payment_id)
        self.assertIn(tx.payment_id, invoice._get_reconciled_payments())
        self.assertFalse(invoice.payment_collection_pending)
        self._charge("2027-01-02")
        self.assertEqual(len(invoice.transaction_ids), 1, "never charged twice")

    def test_declined_card_is_retried_then_reminded(self):
        __, invoice = self._card_contract("error")
        self._charge("2027-01-01")
        self.assertEqual(
            (invoice.card_failed_attempts, invoice.card_next_try_date),
            (1, D("2027-01-02")),
        )
        self.assertTrue(invoice.payment_collection_pending)
        with freeze_time("2027-01-01"):
            self.assertNotIn(
                invoice,
                self.env["account.move"].search(
                    self.env["account.move"]._get_reminder_due_domain()
                ),
            )
        self._charge("2027-01-02")
        self.assertEqual(invoice.card_next_try_date, D("2027-01-05"))
        self._charge("2027-01-05")
        self.assertEqual(invoice.card_next_try_date, D("2027-01-12"))
        self._charge("2027-01-12")
        self.assertEqual(invoice.card_failed_attempts, 4)
        self.assertFalse(invoice.card_next_try_date)
        self.assertFalse(invoice.payment_collection_pending)
        self.assertEqual(len(invoice.transaction_ids), 4)
        mail = (
            self.env["mail.mail"]
            .search([("model", "=", "account.move"), ("res_id", "=", invoice.id)])
            .filtered(lambda m: "declined" in (m.subject or ""))
        )
        self.assertEqual(mail.recipient_ids, self.customer)
        self.assertIn("/my/subscriptions/", mail.body_html)
        with freeze_time("2027-01-12"):
            self.assertIn(
                invoice,
                self.env["account.move"].search(
                    self.env["account.move"]._get_reminder_due_domain()
                ),
            )

    def test_pending_transaction_is_not_charged_again(self):
        __, invoice = self._card_contract("pending")
        self._charge("2027-01-01")
        self.assertEqual(invoice.transaction_ids.state, "pending")
        self.assertFalse(invoice.card_next_try_date)
        # A crash left the invoice due again: the pending transaction stops it.
        invoice.card_next_try_date = "2027-01-01"
        self._charge("2027-01-02")
        invoice._charge_card()
        self.assertEqual(len(invoice.transaction_ids), 1)

    def test_done_transaction_not_recorded_is_post_processed_not_recharged(self):
        __, invoice = self._card_contract("done")
        with freeze_time("2027-01-01"):
            tx = invoice._charge_card()
        # Simulate a crash between the charge and its recording.
        tx.payment_id.action_draft()
        tx.payment_id.unlink()
        tx.is_post_processed = False
        invoice.card_next_try_date = "2027-01-01"
        self._charge("2027-01-02")
        self.assertEqual(len(invoice.transaction_ids), 1)
        self.assertTrue(tx.payment_id)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
