from unittest.mock import patch

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .test_payments import PaymentCommon

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

    def _provider_ledger(self):
        """Patch the demo provider so that every accepted charge is written down
        outside the database, as a real provider would keep it."""
        ledger = []
        transaction_class = self.registry["payment.transaction"]
        original = transaction_class._send_payment_request

        def send(tx):
            original(tx)
            if tx.state == "done":
                ledger.append(tx.reference)

        return ledger, patch.object(transaction_class, "_send_payment_request", send)

    def test_failure_after_an_accepted_charge_never_charges_twice(self):
        __, invoice = self._card_contract("done")
        ledger, provider = self._provider_ledger()
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
