from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import SubscriptionCommon

D = fields.Date.to_date


class PaymentCommon(SubscriptionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        base = (
            cls.env["payment.provider"].sudo().search([("code", "=", "demo")], limit=1)
        )
        cls.provider = (
            base.copy({"company_id": cls.company.id})
            if (base.company_id != cls.company)
            else base
        )
        cls.provider.write({"state": "test", "is_published": True})
        cls.payment_method = cls.provider.payment_method_ids[:1] or cls.env.ref(
            "payment.payment_method_unknown"
        )
        cls.company.subscription_reminder_policy_id = cls.env.ref(
            "subscription_billing.reminder_policy_default"
        )

    @classmethod
    def _token(cls, partner, state="done"):
        return (
            cls.env["payment.token"]
            .sudo()
            .create(
                {
                    "provider_id": cls.provider.id,
                    "payment_method_id": cls.payment_method.id,
                    "payment_details": "4242",
                    "partner_id": partner.id,
                    "provider_ref": f"demo-{partner.id}-{state}",
                    "demo_simulated_state": state,
                }
            )
        )

    def _card_contract(self, state="done", partner=None):
        partner = partner or self.customer
        contract = self._create_contract(
            partner=partner,
            date_start="2027-01-01",
            payment_method="card",
            payment_token_id=self._token(partner, state).id,
            user_id=self.user_sales.id,
        )
        contract.action_start()
        with freeze_time("2027-01-01"):
            invoice = contract._generate_invoices()
            invoice._subscription_send()  # delivered: reminders wait for it
        return contract, invoice

    def _charge(self, day):
        with freeze_time(day):
            self.env["account.move"]._cron_charge_cards()


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


@tagged("post_install", "-at_install")
class TestTransferQrCode(SubscriptionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eur = cls.setup_other_currency("EUR")
        bank = cls.env["res.bank"].create({"name": "BNP", "bic": "BNPAFRPP"})
        cls.company_iban = cls.env["res.partner.bank"].create(
            {
                "partner_id": cls.company.partner_id.id,
                "acc_number": "FR7630006000011234567890189",
                "bank_id": bank.id,
                "allow_out_payment": True,
            }
        )

    def test_transfer_invoice_carries_rf_reference_and_sepa_qr_code(self):
        contract = self._create_contract(
            date_start="2027-01-01", currency_id=self.eur.id
        )
        contract.action_start()
        with freeze_time("2027-01-01"):
            invoice = contract._generate_invoices()
        self.assertEqual(invoice.partner_bank_id, self.company_iban)
        self.assertEqual(invoice.qr_code_method, "sct_qr")
        self.assertTrue(invoice.payment_reference.startswith("RF"))
        self.assertTrue(invoice.display_qr_code)
        self.assertTrue(invoice._generate_qr_code())
        values = self.company_iban._get_qr_vals(
            "sct_qr",
            invoice.amount_residual,
            invoice.currency_id,
            invoice.partner_id,
            invoice.name,
            invoice.payment_reference,
        )
        self.assertEqual(values[:4], ["BCD", "002", "1", "SCT"])
        self.assertEqual(values[4], "BNPAFRPP")
        self.assertEqual(values[6], "FR7630006000011234567890189")
        self.assertEqual(values[7], f"EUR{invoice.amount_residual}")
        self.assertEqual(values[9], invoice.payment_reference)

    def test_no_qr_code_in_another_currency(self):
        contract = self._create_contract(date_start="2027-01-01")
        contract.action_start()
        with freeze_time("2027-01-01"):
            invoice = contract._generate_invoices()
        self.assertFalse(invoice.qr_code_method)
