from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from .common import SubscriptionCommon, days

D = fields.Date.to_date


@tagged("post_install", "-at_install")
class TestPaymentResume(SubscriptionCommon):
    """Paying brings the service back; statuses that mean what they say."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.policy = cls.env.ref("subscription_billing.reminder_policy_default")
        cls.company.subscription_reminder_policy_id = cls.policy
        # No PDF in these walks: they are about dates and states.
        cls.policy.step_ids.write({"attach_invoice": False, "print_letter": False})
        cls.steps = cls.policy._get_sorted_steps()
        cls.term_30 = cls.env.ref("account.account_payment_term_30days")
        cls.customer.property_payment_term_id = cls.term_30

    def _start(self, **values):
        values.setdefault("user_id", self.user_sales.id)
        contract = self._create_contract(date_start="2027-01-01", **values)
        contract.action_start()
        return contract

    def _day(self, day):
        """What the crons do on ``day``: bill, send, then remind."""
        with freeze_time(day):
            self.env["subscription.contract"]._cron_generate_invoices()
            self.env["account.move"]._cron_subscription_send()
            self.env["account.move"]._cron_send_reminders()

    def _pay(self, moves, day, payment_date=None):
        with freeze_time(day):
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=moves.ids
            ).create(
                {"payment_date": payment_date or day, "group_payment": True}
            )._create_payments()

    def _status(self, day, partner=None):
        partner = partner or self.customer
        with freeze_time(day):
            partner.invalidate_recordset()
            status = partner.subscription_payment_status
            found = self.env["res.partner"].search(
                [("subscription_payment_status", "=", status), ("id", "=", partner.id)]
            )
            self.assertEqual(found, partner, f"search by status on {day}")
            return status

    def test_paying_everything_resumes_the_unpaid_contract_only(self):
        contract = self._start()
        by_hand = self._start(products=self.product_hosting)
        for day in days("2027-01-01", "2027-01-14"):
            self._day(day)
        with freeze_time("2027-01-15"):
            by_hand.action_suspend()
        for day in days("2027-01-15", "2027-04-09"):
            self._day(day)
        # The final notice (D+30) suspended the contract on 2 March.
        self.assertEqual(contract.state, "suspended")
        self.assertTrue(contract.suspended_non_payment)
        self.assertEqual(contract.pause_ids.date_from, D("2027-03-02"))
        self.assertFalse(contract.pause_ids.date_to)
        self.assertEqual(self._status("2027-04-09"), "suspended")
        # Nothing billed for April while suspended.
        self.assertFalse(
            contract.invoice_ids.filtered(
                lambda m: m.subscription_period_start == D("2027-04-01")
            )
        )
        open_invoices = (contract | by_hand).invoice_ids.filtered(
            lambda m: m.payment_state == "not_paid"
        )
        self.assertEqual(len(open_invoices), 4)  # Jan, Feb, Mar + by hand's Jan
        # Paying one invoice is not enough: something is still past due.
        self._pay(open_invoices[0], "2027-04-10")
        self.assertEqual(contract.state, "suspended")
        # The transfer of 8 April is matched on 10 April: resumed from 8 April.
        self._pay(open_invoices[1:], "2027-04-10", payment_date="2027-04-08")
        self.assertEqual(contract.state, "active")
        self.assertFalse(contract.suspended_non_payment)
        self.assertEqual(contract.pause_ids.date_to, D("2027-04-07"))
        note = contract.message_ids.filtered(lambda m: "Resumed on" in str(m.body))
        self.assertEqual(len(note), 1)
        self.assertIn("04/08/2027", note.body)
        self.assertIn(self.user_sales.partner_id, note.partner_ids)
        # A contract suspended by hand stays suspended.
        self.assertEqual(by_hand.state, "suspended")
        self.assertEqual(self._status("2027-04-10"), "up_to_date")
        # Billing resumes from the day of payment: April 8-30 only.
        for day in days("2027-04-10", "2027-04-11"):
            self._day(day)
        april = contract.invoice_ids.filtered(
            lambda m: m.subscription_period_start == D("2027-04-01")
        )
        self.assertEqual(len(april), 1)
        self.assertEqual(april.amount_untaxed, 76.67)  # 23/30 of 100.00

    def test_the_reminder_cron_resumes_what_the_payment_did_not(self):
        contract = self._start()
        with freeze_time("2027-02-10"):
            contract._suspend_for_non_payment(D("2027-02-10"))
        # Nothing is past due: the next daily run resumes it.
        with freeze_time("2027-02-12"):
            self.env["account.move"]._cron_send_reminders()
        self.assertEqual(contract.state, "active")
        self.assertEqual(contract.pause_ids.date_to, D("2027-02-11"))

    def test_statuses_day_by_day(self):
        contract = self._start()
        expected = {}
        for day in days("2027-01-01", "2027-03-03"):
            if day <= D("2027-01-31"):
                expected[day] = "up_to_date"  # courtesy and due-day notices
            elif day < D("2027-02-07"):
                expected[day] = "overdue"  # late, no reminder after the due date
            elif day < D("2027-03-02"):
                expected[day] = "in_reminders"
            else:
                expected[day] = "suspended"
        for day, status in expected.items():
            self._day(day)
            self.assertEqual(self._status(day), status, day)
        self.assertEqual(contract.state, "suspended")
        with freeze_time("2027-02-03"):
            self.customer.invalidate_recordset()
            self.assertEqual(self.customer.subscription_overdue_amount, 120.0)
