from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from .common import SubscriptionCommon

D = fields.Date.to_date


@tagged("post_install", "-at_install")
class TestSendingRun(SubscriptionCommon):
    """The sending run after billing: the invoice emailed with its PDF in the
    customer's language, a to-do to post it when there is no email address, a
    draft sent once posted, and sending apart from billing."""

    def _progress(self, model):
        cron = self.env.ref("subscription_billing.ir_cron_subscription_billing")
        progress = self.env["ir.cron.progress"].create({"cron_id": cron.id})
        return model.with_context(ir_cron_progress_id=progress.id), progress

    # --- the invoice email --------------------------------------------------

    def test_invoice_is_emailed_with_pdf(self):
        contract = self._start(date_start="2027-01-01")
        self._run_cron("2027-01-01")
        invoice = self._invoices(contract)
        self.assertTrue(invoice.is_move_sent)
        self.assertFalse(invoice.subscription_to_send)
        mail = self.env["mail.mail"].search(
            [("model", "=", "account.move"), ("res_id", "=", invoice.id)]
        )
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.state, "outgoing", "queued, sent by the mail queue")
        self.assertEqual(mail.recipient_ids, self.customer)
        self.assertIn(contract.name, mail.subject)
        self.assertIn(invoice.name, mail.subject)
        self.assertTrue(
            mail.attachment_ids.filtered(lambda a: a.name.endswith(".pdf")),
            "the invoice PDF is attached",
        )

    def test_invoice_line_and_email_in_the_customers_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["subscription_billing"], ["fr_FR"], overwrite=True
        )
        self.customer.lang = "fr_FR"
        contract = self._start(date_start="2027-02-01")
        self._run_cron("2027-02-01")
        invoice = self._invoices(contract)
        self.assertIn(
            "Période du 01/02/2027 au 28/02/2027", invoice.invoice_line_ids.name
        )
        mail = self.env["mail.mail"].search(
            [("model", "=", "account.move"), ("res_id", "=", invoice.id)]
        )
        self.assertIn(f"Facture {invoice.name} de votre abonnement", mail.subject)
        self.assertIn("Veuillez trouver", mail.body_html)

    def test_customer_without_email_gets_posted_invoice_and_activity(self):
        self.customer.email = False
        contract = self._start(date_start="2027-01-01", user_id=self.user_sales.id)
        self._run_cron("2027-01-01")
        invoice = self._invoices(contract)
        self.assertEqual(invoice.state, "posted")
        self.assertFalse(
            self.env["mail.mail"].search(
                [("model", "=", "account.move"), ("res_id", "=", invoice.id)]
            )
        )
        self.assertEqual(invoice.activity_ids.summary, "Send by post")
        self.assertEqual(invoice.activity_ids.user_id, self.user_sales)

    def test_draft_for_review_is_sent_once_posted(self):
        self.plan_monthly.invoice_review = True
        contract = self._start(date_start="2027-01-01")
        self._run_cron("2027-01-01")
        invoice = self._invoices(contract)
        self.assertEqual(invoice.state, "draft")
        self.assertFalse(invoice.is_move_sent)
        invoice.action_post()
        self.assertTrue(invoice.subscription_to_send)
        self._run_cron("2027-01-02")
        self.assertTrue(invoice.is_move_sent)

    # --- sending apart from billing ------------------------------------------

    def test_billing_does_not_send_and_a_sending_failure_undoes_nothing(self):
        contract = self._start(date_start="2027-01-01")
        model, progress = self._progress(self.env["subscription.contract"])
        with freeze_time("2027-01-01"):
            model._cron_generate_invoices()
        invoice = self._invoices(contract)
        self.assertEqual((progress.done, progress.remaining), (1, 0))
        self.assertEqual(invoice.state, "posted")
        self.assertTrue(invoice.subscription_to_send)
        self.assertFalse(invoice.is_move_sent)
        send_cron = self.env.ref("subscription_billing.ir_cron_subscription_send")
        self.assertIn("_cron_subscription_send", send_cron.code)
        self.assertTrue(
            self.env["ir.cron.trigger"].search([("cron_id", "=", send_cron.id)]),
            "billing calls the sending right after it",
        )

        def broken(moves):
            raise RuntimeError("mail server on fire")

        move_model = type(self.env["account.move"])
        with patch.object(move_model, "_subscription_send", broken):
            self._send("2027-01-01")
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(self._invoices(contract), invoice)
        self.assertIn("could not be sent", invoice.message_ids[0].body)

    def test_send_cron_reports_waiting_invoices(self):
        contracts = self.env["subscription.contract"]
        for partner in (self.customer, self.partner_a, self.partner_b):
            contracts |= self._start(partner=partner, date_start="2027-01-01")
        self._bill("2027-01-01")
        model, progress = self._progress(self.env["account.move"])
        with freeze_time("2027-01-01"):
            model._cron_subscription_send(batch_size=2)
            self.assertEqual((progress.done, progress.remaining), (2, 1))
            model._cron_subscription_send(batch_size=2)
            self.assertEqual((progress.done, progress.remaining), (1, 0))
        for contract in contracts:
            self.assertFalse(self._invoices(contract).subscription_to_send)

    def test_invoice_now_sends_through_the_sending_path(self):
        contract = self._start(date_start="2027-01-01")
        move_model = type(self.env["account.move"])
        with (
            freeze_time("2027-01-10"),
            patch.object(
                move_model,
                "_subscription_send_claimed",
                autospec=True,
                side_effect=move_model._subscription_send_claimed,
            ) as claimed,
        ):
            contract.action_invoice_now()
        invoice = self._invoices(contract)
        claimed.assert_called_once()
        self.assertEqual(claimed.call_args.args[0], invoice)
        self.assertTrue(invoice.is_move_sent)
        self.assertEqual(invoice.invoice_date, D("2027-01-10"))

        def broken(moves):
            raise RuntimeError("mail server on fire")

        # A sending failure keeps the invoice billed and posted.
        with (
            freeze_time("2027-01-11"),
            patch.object(move_model, "_subscription_send", broken),
        ):
            contract.action_invoice_now()
        february = self._invoices(contract)[1]
        self.assertEqual(february.state, "posted")
        self.assertEqual(february.subscription_period_start, D("2027-02-01"))
        self.assertIn("could not be sent", february.message_ids[0].body)
