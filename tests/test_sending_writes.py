from unittest.mock import patch

import psycopg2
from freezegun import freeze_time

from odoo.tests import tagged

from .common import SubscriptionCommon


@tagged("post_install", "-at_install")
class TestSendingWrites(SubscriptionCommon):
    """What printing and sending write, and when: the rows the sending's
    rendering threads and the customers' requests would otherwise wait for."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.qr_code = True
        cls.eur = cls.setup_other_currency("EUR")
        cls.env["ir.config_parameter"].set_param("auth_signup.invitation_scope", "b2c")

    def _invoice(self, day="2027-01-01"):
        self.env["res.partner.bank"].create(
            {
                "acc_number": "FR7630006000011234567890189",
                "partner_id": self.company.partner_id.id,
                "allow_out_payment": True,
            }
        )
        contract = self._start(date_start=day, currency_id=self.eur.id)
        with freeze_time(day):
            invoice = contract._generate_invoices()
        self.env.flush_all()
        return invoice

    def test_printing_a_transfer_invoice_writes_nothing(self):
        invoice = self._invoice()
        self.assertEqual(
            invoice.qr_code_method,
            "sct_qr",
            (invoice.partner_bank_id.acc_number, invoice.currency_id.name),
        )
        move_class = type(self.env["account.move"])
        with patch.object(
            move_class, "write", autospec=True, side_effect=move_class.write
        ) as write:
            html = self.env["ir.actions.report"]._render_qweb_html(
                "account.report_invoice_with_payments", invoice.ids
            )[0]
            self.env.flush_all()
        self.assertIn(b"data:image/png;base64", html, "the SEPA QR code is printed")
        write.assert_not_called()

    def test_qr_method_is_written_before_rendering_when_missing(self):
        invoice = self._invoice()
        invoice.qr_code_method = False
        invoice._subscription_prepare_to_send()
        self.assertEqual(invoice.qr_code_method, "sct_qr")

    def test_sending_writes_no_customer(self):
        """The customer's portal signup is prepared before the invoices are
        locked to send; sending then locks no customer row."""
        invoice = self._invoice()
        invoice.partner_id.sudo().signup_type = False
        invoice._subscription_prepare_customers()
        self.assertEqual(invoice.partner_id.sudo().signup_type, "signup")
        self.env.flush_all()
        partner_class = type(self.env["res.partner"])
        with (
            patch.object(
                partner_class, "write", autospec=True, side_effect=partner_class.write
            ) as write,
            freeze_time("2027-01-01"),
        ):
            sent = invoice._subscription_send()
            self.env.flush_all()
        self.assertEqual(sent, invoice)
        self.assertTrue(invoice.is_move_sent)
        self.assertFalse(
            [call for call in write.call_args_list if "signup_type" in call.args[1]]
        )

    def test_a_deadlock_is_retried_not_a_sending_failure(self):
        invoice = self._invoice()
        sender_class = type(self.env["account.move.send"])

        def deadlock(self_, moves, template):
            raise psycopg2.errors.DeadlockDetected("deadlock detected")

        with (
            patch.object(sender_class, "_subscription_send_chunk", deadlock),
            freeze_time("2027-01-01"),
            self.assertRaises(psycopg2.errors.DeadlockDetected),
        ):
            invoice._subscription_send_claimed()
        self.assertTrue(invoice.subscription_to_send)
        self.assertFalse(invoice.subscription_send_error_date, "not given up")

    def test_contract_has_its_portal_token_from_creation(self):
        contract = self._start(date_start="2027-01-01")
        self.assertTrue(contract.access_token)
        self.assertNotEqual(contract.copy().access_token, contract.access_token)
        # Contracts made before: filled at the module's update.
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE subscription_contract SET access_token = NULL WHERE id = %s",
            [contract.id],
        )
        contract.invalidate_recordset(["access_token"])
        self.assertFalse(contract.access_token)
        contract.init()
        contract.invalidate_recordset(["access_token"])
        self.assertTrue(contract.access_token)
