from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import ReminderCommon

D = fields.Date.to_date


@tagged("post_install", "-at_install")
class TestReminderDelivery(ReminderCommon):
    """Reminders go where invoices go, read like invoice emails, and one
    failing invoice never blocks the others."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.policy = cls.env.ref("subscription_billing.reminder_policy_default")
        cls.company.subscription_reminder_policy_id = cls.policy
        cls.policy.step_ids.write({"attach_invoice": False})
        cls.steps = cls.policy._get_sorted_steps()
        cls.term_30 = cls.env.ref("account.account_payment_term_30days")
        cls.customer.property_payment_term_id = cls.term_30
        cls.company_customer = cls.env["res.partner"].create(
            {
                "name": "Garage Dupont",
                "is_company": True,
                "email": "contact@dupont.example",
                "property_payment_term_id": cls.term_30.id,
            }
        )
        cls.ap = cls.env["res.partner"].create(
            {
                "name": "Accounts Payable",
                "type": "invoice",
                "parent_id": cls.company_customer.id,
                "email": "ap@dupont.example",
            }
        )

    def test_reminders_go_to_the_invoice_address(self):
        contract, move = self._bill(self.company_customer)
        self.assertEqual(contract.customer_type, "b2b")
        self.assertEqual(move.partner_id, self.ap)
        for day in ("2027-01-26", "2027-01-31", "2027-02-07"):
            self._remind(day)
            mail = self._mails()
            self.assertEqual(len(mail), 1, day)
            self.assertEqual(mail.recipient_ids, self.ap, day)
            # Like Odoo's invoice emails: headed with the invoice, no Unfollow.
            self.assertIn("Your Invoice", mail.body_html)
            self.assertIn(move.name, mail.body_html)
            self.assertNotIn("Journal Entry", mail.body_html)
            self.assertNotIn("Unfollow", mail.body_html)
            mail.unlink()
        self.assertEqual(move.reminder_log_ids.partner_id, self.company_customer)
        # An invoice address without email: the customer's address instead.
        self.ap.email = False
        self._remind("2027-02-15")
        self.assertEqual(self._mails().recipient_ids, self.company_customer)

    def test_one_email_per_invoice_address_and_step(self):
        other_address = self.env["res.partner"].create(
            {
                "name": "Dupont, site 2",
                "parent_id": self.company_customer.id,
                "type": "invoice",
                "email": "site2@dupont.example",
            }
        )
        __, first = self._bill(self.company_customer)
        __, second = self._bill(self.company_customer, self.product_hosting)
        third_contract = self._create_contract(
            partner=self.company_customer,
            partner_invoice_id=other_address.id,
            products=self.product_hosting,
            date_start="2027-01-01",
            allow_overlap=True,
        )
        third_contract.action_start()
        with freeze_time("2027-01-01"):
            third = third_contract._generate_invoices()
            third._subscription_send()
        self.env["mail.mail"].search([]).unlink()
        self.assertEqual(third.partner_id, other_address)
        self._remind("2027-01-26")
        mails = self._mails()
        self.assertEqual(len(mails), 2)
        by_address = {mail.recipient_ids: mail for mail in mails}
        self.assertIn(first.name, by_address[self.ap].body_html)
        self.assertIn(second.name, by_address[self.ap].body_html)
        self.assertIn(third.name, by_address[other_address].body_html)

    def test_a_failing_letter_blocks_nothing_and_gets_one_activity(self):
        __, good = self._bill(self.customer)
        __, bad = self._bill(self.customer, self.product_hosting)
        original = type(bad)._render_reminder_letter

        def broken(moves, step):
            if bad in moves:
                raise UserError(self.env._("Letter could not be rendered"))
            return original(moves, step)

        # The second reminder (D+15) prints a letter.
        for day in ("2027-01-26", "2027-01-31", "2027-02-07"):
            self._remind(day)
        self._mails().unlink()
        with patch.object(type(bad), "_render_reminder_letter", broken):
            for day in ("2027-02-15", "2027-02-16", "2027-02-17", "2027-02-18"):
                self._remind(day)
        # The good invoice went out on time, alone.
        self.assertEqual(good.reminder_last_step_id, self.steps[3])
        mails = self._mails()
        self.assertEqual(len(mails), 1)
        self.assertIn(good.name, mails.body_html)
        self.assertNotIn(bad.name, mails.body_html)
        # The bad one is retried every day, with one note and one activity.
        self.assertEqual(bad.reminder_last_step_id, self.steps[2])
        self.assertEqual(bad.reminder_error_date, D("2027-02-18"))
        notes = bad.message_ids.filtered(lambda m: "could not be sent" in str(m.body))
        self.assertEqual(len(notes), 1)
        activity = bad.activity_ids.filtered(
            lambda a: a.summary == "Payment reminder failing"
        )
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.user_sales)
        # Fixed: sent the next day, the activity is done.
        self._remind("2027-02-19")
        self.assertEqual(bad.reminder_last_step_id, self.steps[3])
        self.assertFalse(bad.reminder_error_date)
        self.assertFalse(activity.exists())
