from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import mute_logger

from .common import ReminderCommon

D = fields.Date.to_date


@tagged("post_install", "-at_install")
class TestReminders(ReminderCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.policy = cls.env.ref("subscription_billing.reminder_policy_default")
        cls.company.subscription_reminder_policy_id = cls.policy
        cls.steps = cls.policy._get_sorted_steps()
        cls.term_30 = cls.env.ref("account.account_payment_term_30days")
        cls.customer.property_payment_term_id = cls.term_30
        cls.accountant = new_test_user(
            cls.env,
            login="sub_accountant",
            name="Alice Accountant",
            groups="base.group_user,account.group_account_invoice",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )

    def _pay(self, move, amount=None):
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=move.ids
        ).create({"amount": amount or move.amount_residual})._create_payments()

    def test_policy_resolution_contract_customer_plan_company(self):
        other_policy = self.policy.copy({"name": "Strict"})
        contract, move = self._bill()
        self.assertEqual(move.reminder_policy_id, self.policy)  # company default
        self.plan_monthly.reminder_policy_id = other_policy
        self.assertEqual(move.reminder_policy_id, other_policy)
        third = self.policy.copy({"name": "Gentle"})
        self.customer.reminder_policy_id = third
        self.assertEqual(move.reminder_policy_id, third)
        contract.reminder_policy_id = other_policy
        self.assertEqual(move.reminder_policy_id, other_policy)

    def test_other_invoices_only_when_the_setting_says_so(self):
        invoice = self.init_invoice(
            "out_invoice", partner=self.customer, amounts=[100.0], post=True
        )
        self.assertFalse(invoice.reminder_policy_id)
        self.company.subscription_reminder_all_invoices = True
        self.assertEqual(invoice.reminder_policy_id, self.policy)

    def test_walk_through_the_default_policy(self):
        contract, move = self._bill()
        self.assertEqual(move.invoice_date_due, D("2027-01-31"))
        self.assertEqual(move.reminder_next_date, D("2027-01-26"))
        self._remind("2027-01-25")
        self.assertFalse(self._mails())
        expected = [
            ("2027-01-26", "Upcoming due date", "0", False),
            ("2027-01-31", "Payment due today", "0", False),
            ("2027-02-07", "Payment reminder", "7", True),
            ("2027-02-15", "Second payment reminder", "15", True),
            ("2027-03-02", "Final notice before suspension", "30", True),
        ]
        for index, (day, subject, days_late, attached) in enumerate(expected):
            self._remind(day)
            self._remind(day)  # twice a day: nothing twice
            mail = self._mails()
            self.assertEqual(len(mail), 1, f"one email on {day}")
            self.assertEqual(mail.recipient_ids, self.customer)
            self.assertIn(subject, mail.subject)
            self.assertIn(move.name, mail.body_html)
            self.assertIn("120.00", mail.body_html)
            self.assertIn(f">{days_late}<", mail.body_html.replace(" ", ""))
            self.assertEqual(bool(mail.attachment_ids), attached, day)
            self.assertEqual(move.reminder_last_step_id, self.steps[index])
            mail.unlink()
        self.assertEqual(len(move.reminder_log_ids), 5)
        self.assertFalse(move.reminder_next_date)
        # Second step: an activity for the salesperson and a letter to post.
        self.assertIn(self.user_sales, move.activity_ids.user_id)
        self.assertTrue(
            move.message_ids.attachment_ids.filtered(lambda a: "Reminder" in a.name)
        )
        # Last step: the subscription is suspended for non-payment.
        self.assertEqual(contract.state, "suspended")
        self.assertTrue(contract.suspended_non_payment)
        self.assertEqual(self.customer.subscription_payment_status, "suspended")
        self.assertEqual(contract.partner_payment_status, "suspended")
        notes = move.message_ids.mapped("body")
        self.assertEqual(
            len([n for n in notes if "Payment reminder" in n and "sent to" in n]), 5
        )

    def test_a_missed_week_sends_only_the_latest_step(self):
        __, move = self._bill()
        self._remind("2027-02-16")
        mail = self._mails()
        self.assertEqual(len(mail), 1)
        self.assertIn("Second payment reminder", mail.subject)
        self.assertEqual(move.reminder_last_step_id, self.steps[3])
        self.assertEqual(move.reminder_next_step_id, self.steps[4])

    def test_payment_stops_the_reminders(self):
        __, move = self._bill()
        self._remind("2027-02-07")
        self._pay(move)
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        self.assertFalse(move.reminder_next_date)
        self._mails().unlink()
        self._remind("2027-03-02")
        self.assertFalse(self._mails())
        self.assertEqual(self.customer.subscription_payment_status, "up_to_date")

    def test_partial_payment_keeps_reminding_the_residual(self):
        __, move = self._bill()
        self._pay(move, 50.0)
        self._remind("2027-02-07")
        mail = self._mails()
        self.assertIn("70.00", mail.body_html)
        with freeze_time("2027-02-07"):
            self.customer.invalidate_recordset()
            self.assertEqual(self.customer.subscription_overdue_amount, 70.0)
            self.assertEqual(
                self.customer.subscription_oldest_overdue_date, D("2027-01-31")
            )

    def test_paused_customer_gets_nothing_until_the_date(self):
        __, move = self._bill()
        with freeze_time("2027-02-01"):
            wizard = Form(
                self.env["subscription.reminder.pause"].with_context(
                    default_partner_ids=self.customer.ids
                )
            )
            wizard.date = D("2027-02-20")
            wizard.reason = "Disputed invoice"
            wizard.save().action_pause()
        self.assertEqual(self.customer.reminder_pause_reason, "Disputed invoice")
        self._remind("2027-02-16")
        self.assertFalse(self._mails())
        self._remind("2027-02-21")
        self.assertIn("Second payment reminder", self._mails().subject)
        self.customer.action_resume_reminders()
        self.assertFalse(self.customer.reminder_paused_until)

    def test_pause_in_the_past_is_refused(self):
        with freeze_time("2027-02-01"), self.assertRaisesRegex(UserError, "past date"):
            self.env["subscription.reminder.pause"].create(
                {
                    "partner_ids": [Command.set(self.customer.ids)],
                    "date": "2027-01-15",
                    "reason": "late",
                }
            )

    def test_customer_without_email_gets_an_activity(self):
        self.customer.email = False
        __, move = self._bill()
        move.is_move_sent = True  # printed and posted by the salesperson
        self._remind("2027-01-26")
        self.assertFalse(self._mails())
        self.assertEqual(move.reminder_log_ids.channel, "activity")
        activity = move.activity_ids.filtered(lambda a: "phone or post" in a.summary)
        self.assertEqual(activity.user_id, self.user_sales)

    def test_collection_in_progress_gets_no_reminder(self):
        __, move = self._bill()
        move.payment_collection_pending = True
        self._remind("2027-02-07")
        self.assertFalse(self._mails())
        move.payment_collection_pending = False  # rejected: back in reminders
        self._remind("2027-02-08")
        self.assertEqual(len(self._mails()), 1)

    def test_several_invoices_one_email_per_customer_and_step(self):
        __, first = self._bill()
        __, second = self._bill(products=self.product_hosting)
        self._remind("2027-01-26")
        mail = self._mails()
        self.assertEqual(len(mail), 1)
        self.assertIn(first.name, mail.body_html)
        self.assertIn(second.name, mail.body_html)
        self.assertEqual((first | second).reminder_log_ids.step_id, self.steps[0])

    def test_failing_invoice_inside_a_batch(self):
        self.partner_a.property_payment_term_id = self.term_30
        self.partner_a.email = "a@example.com"
        __, good = self._bill()
        __, bad = self._bill(partner=self.partner_a)
        original = type(bad)._send_reminder_step

        def broken(moves, partner, step, today):
            if partner == self.partner_a:
                raise UserError(self.env._("Template rendering failed"))
            return original(moves, partner, step, today)

        with patch.object(type(bad), "_send_reminder_step", broken):
            self._remind("2027-01-26")
            self._remind("2027-01-26")
        self.assertEqual(good.reminder_last_step_id, self.steps[0])
        self.assertFalse(bad.reminder_last_step_id)
        self.assertEqual(bad.reminder_error_date, D("2027-01-26"))
        self.assertIn("Template rendering failed", bad.message_ids[0].body)
        self._remind("2027-01-27")
        self.assertEqual(bad.reminder_last_step_id, self.steps[0])

    def test_each_step_once_enforced_by_postgresql(self):
        __, move = self._bill()
        self._remind("2027-01-26")
        with mute_logger("odoo.sql_db"), self.assertRaises(Exception) as caught:
            with self.env.cr.savepoint():
                self.env["subscription.reminder.log"].create(
                    {
                        "move_id": move.id,
                        "step_id": self.steps[0].id,
                        "partner_id": self.customer.id,
                        "date": "2027-01-27",
                        "channel": "email",
                    }
                )
                self.env.flush_all()
        self.assertIn("move_step_uniq", str(caught.exception))

    def test_send_next_reminder_now(self):
        __, move = self._bill()
        with freeze_time("2027-01-10"):
            move.with_user(self.accountant).action_send_next_reminder()
        self.assertEqual(move.reminder_last_step_id, self.steps[0])
        self.assertEqual(len(self._mails()), 1)
        self.env["subscription.reminder.log"].create(
            {
                "move_id": move.id,
                "step_id": self.steps[4].id,
                "partner_id": self.customer.id,
                "date": "2027-03-02",
                "channel": "email",
            }
        )
        with self.assertRaisesRegex(UserError, "no reminder left"):
            move.action_send_next_reminder()

    def test_customer_status_and_late_payers(self):
        __, move = self._bill()
        with freeze_time("2027-02-01"):
            self.customer.invalidate_recordset()
            self.assertEqual(self.customer.subscription_payment_status, "overdue")
            late = self.env["res.partner"].search(
                [("subscription_payment_status", "=", "overdue")]
            )
            self.assertIn(self.customer, late)
            self.assertNotIn(
                self.customer,
                self.env["res.partner"].search(
                    [("subscription_payment_status", "=", "up_to_date")]
                ),
            )
        self._remind("2027-02-07")
        self.customer.invalidate_recordset()
        with freeze_time("2027-02-07"):
            self.assertEqual(self.customer.subscription_payment_status, "in_reminders")
        self.assertEqual(self.customer.subscription_reminder_step_id, self.steps[2])
        self.assertEqual(self.customer.subscription_reminder_next_date, D("2027-02-15"))
        action = self.customer.action_view_late_invoices()
        self.assertEqual(self.env["account.move"].search(action["domain"]), move)

    def test_french_customer_gets_french_reminder(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["subscription_billing"], ["fr_FR"], overwrite=True
        )
        self.customer.lang = "fr_FR"
        self._bill()
        self._remind("2027-02-07")
        mail = self._mails()
        self.assertIn("Relance de paiement", mail.subject)
        self.assertIn("Montant dû", mail.body_html)

    def test_access_rights(self):
        __, move = self._bill()
        with self.assertRaises(AccessError):
            self.policy.with_user(self.user_sales).name = "Mine"
        with self.assertRaises(AccessError):
            self.env["subscription.reminder.log"].with_user(self.user_sales).create(
                {
                    "move_id": move.id,
                    "step_id": self.steps[0].id,
                    "partner_id": self.customer.id,
                    "date": "2027-01-27",
                    "channel": "email",
                }
            )
        # A salesperson sees the customer's payment status without invoice rights.
        self.assertEqual(
            self.customer.with_user(self.user_sales).subscription_payment_status,
            "up_to_date",
        )
        self.policy.with_user(self.user_manager).name = "Standard"

    def test_query_count_of_a_reminder_batch(self):
        partners = self.env["res.partner"].create(
            [
                {
                    "name": f"Late {i}",
                    "email": f"late{i}@example.com",
                    "property_payment_term_id": self.term_30.id,
                }
                for i in range(10)
            ]
        )
        contracts = self.env["subscription.contract"].create(
            [
                {
                    "partner_id": partner.id,
                    "plan_id": self.plan_monthly.id,
                    "date_start": "2027-01-01",
                    "line_ids": [
                        Command.create({"product_id": self.product_maintenance.id})
                    ],
                }
                for partner in partners
            ]
        )
        contracts.action_start()
        with freeze_time("2027-01-01"):
            moves = contracts._generate_invoices()
        self.env.flush_all()
        self.env.invalidate_all()
        with freeze_time("2027-01-31"), self.assertQueryCount(REMINDER_QUERIES_10):
            self.env["account.move"].browse(moves.ids)._send_reminders()
            self.env.flush_all()
        self.assertEqual(len(moves.reminder_log_ids), 10)


# Queries to send the due-date reminder of 10 invoices of 10 customers (measured;
# tools/bench.py gives the figures per invoice at scale).
REMINDER_QUERIES_10 = 249
