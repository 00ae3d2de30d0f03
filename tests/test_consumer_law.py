from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from .common import SubscriptionCommon, days

D = fields.Date.to_date


@tagged("post_install", "-at_install")
class TestConsumerLaw(SubscriptionCommon):
    """French consumer law on tacit renewal (L215-1), and renewals that follow
    the money: plan_monthly is a 12-month tacit term, notice 90 days before the
    end, refusal until 30 days before."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.business = cls.env["res.partner"].create(
            {"name": "Garage Dupont", "is_company": True, "email": "g@dupont.example"}
        )

    def _start(self, day="2027-01-01", **values):
        values.setdefault("user_id", self.user_sales.id)
        contract = self._create_contract(date_start="2027-01-01", **values)
        with freeze_time(day):
            contract.action_start()
        return contract

    def _walk(self, first, last, each=None):
        for day in days(first, last):
            with freeze_time(day):
                if each:
                    each(day)
                self.env["subscription.contract"]._cron_process_renewals()

    def _notices(self, contract):
        return self.env["mail.mail"].search(
            [
                ("model", "=", contract._name),
                ("res_id", "=", contract.id),
                ("subject", "ilike", "renews on"),
                ("recipient_ids", "in", contract.partner_id.ids),
            ]
        )

    # --- settings ---

    def test_plan_settings_outside_the_legal_window_are_refused(self):
        for notice in (40, 150):
            with self.assertRaisesRegex(
                ValidationError, "between 119 and 61 days before the end"
            ):
                self.plan_monthly.write(
                    {"renewal_notice_days": notice, "renewal_refusal_days": 30}
                )
        self.plan_monthly.renewal_notice_days = 75  # inside the window

    def test_defaults_fit_the_term(self):
        plan = self.env["subscription.plan"].create(
            {
                "name": "Monthly tacit",
                "billing_interval": 1,
                "billing_unit": "month",
                "commitment_length": 1,
                "commitment_unit": "month",
                "auto_renew": True,
            }
        )
        self.assertEqual((plan.renewal_notice_days, plan.renewal_refusal_days), (27, 0))
        self.assertEqual(self.plan_monthly.renewal_notice_days, 90)
        # Too short for a consumer: refused, with the window in the message.
        with self.assertRaisesRegex(ValidationError, "3 months and 1 month"):
            self._start(plan=plan)
        # A business may have it; its notice never shows a past deadline.
        contract = self._start(plan=plan, partner=self.business)
        self.assertEqual(contract.customer_type, "b2b")
        self._walk("2027-01-01", "2027-02-02")
        mails = self._notices(contract)
        self.assertEqual(len(mails), 2)  # January's term, then February's
        first = mails.sorted("id")[0]
        self.assertIn("01/31/2027", first.body_html)  # refuse until the end
        self.assertEqual(contract.date_end, D("2027-02-28"))
        self.assertFalse(contract.free_termination_date)

    def test_customer_type_defaults_from_the_customer(self):
        self.assertEqual(self._create_contract().customer_type, "b2c")
        self.assertEqual(
            self._create_contract(partner=self.business).customer_type, "b2b"
        )
        with self.assertRaisesRegex(ValidationError, "L215-1"):
            self._create_contract(
                partner=self.business, customer_type="b2c", renewal_notice_days=150
            )
        contract = self._create_contract(partner=self.business)
        contract.renewal_notice_days = 150  # fine for a business
        self.assertEqual(contract.renewal_notice_days, 150)

    # --- notices ---

    def test_notice_in_time_gives_no_right(self):
        contract = self._start()
        self._walk("2027-09-30", "2028-01-02")
        self.assertEqual(len(self._notices(contract)), 1)
        self.assertFalse(contract.free_termination_date)
        self.assertEqual(contract.date_end, D("2028-12-31"))

    def test_late_notice_before_the_deadline(self):
        # Started late: on 20 November the notice is due since 2 October.
        contract = self._start(day="2027-11-20")
        self._walk("2027-11-20", "2028-01-01")
        mail = self._notices(contract)
        self.assertEqual(len(mail), 1)
        self.assertIn("12/01/2027", mail.body_html)  # not past yet: printed
        # Reads like an invoice email: headed with the contract, no Unfollow.
        self.assertIn("Your Subscription", mail.body_html)
        self.assertIn(contract.name, mail.body_html)
        self.assertNotIn("Unfollow", mail.body_html)
        self.assertIn("L215-1", mail.body_html)
        self.assertEqual(contract.free_termination_date, D("2028-01-01"))
        note = contract.message_ids.filtered(lambda m: "sent late" in str(m.body))
        self.assertIn("11/20/2027", note.body)
        self.assertEqual(contract.date_end, D("2028-12-31"))  # renewed

    def test_late_notice_after_the_deadline_then_free_termination(self):
        contract = self._start()
        # The cron was stopped from September to 10 December.
        self._walk("2027-12-10", "2028-01-01")
        mail = self._notices(contract)
        self.assertEqual(len(mail), 1)
        self.assertNotIn("12/01/2027", mail.body_html)  # a past deadline: never
        self.assertNotIn("refuse the renewal until", mail.body_html)
        self.assertIn("at any time", mail.body_html)
        self.assertEqual(contract.free_termination_date, D("2028-01-01"))
        self.assertEqual(contract.date_end, D("2028-12-31"))
        with freeze_time("2028-03-15"):
            wizard = Form(
                self.env["subscription.contract.close"].with_context(
                    active_model=contract._name, active_ids=contract.ids
                )
            )
            wizard.reason_id = self.close_reason
            wizard = wizard.save()
            self.assertEqual(wizard.free_termination_ids, contract)
            self.assertFalse(wizard.committed_ids)
            wizard.action_close()
        self.assertEqual(contract.state, "closed")
        self.assertTrue(
            contract.message_ids.filtered(lambda m: "does not apply" in str(m.body))
        )

    def test_never_renew_without_notice(self):
        contract = self._start()
        original = type(contract)._send_renewal_notice

        def broken(record, today):
            raise UserError(self.env._("Mail server down"))

        with patch.object(type(contract), "_send_renewal_notice", broken):
            self._walk("2027-12-30", "2028-01-03")
        self.assertEqual(contract.date_end, D("2027-12-31"))  # not renewed
        self.assertEqual(contract.state, "active")
        errors = contract.activity_ids.filtered(lambda a: a.summary == "Renewal error")
        self.assertEqual(len(errors), 1)  # one activity, not one a day
        notes = contract.message_ids.filtered(
            lambda m: "could not be processed" in str(m.body)
        )
        self.assertEqual(len(notes), 1)
        self.assertTrue(original)
        self._walk("2028-01-04", "2028-01-04")
        notice = contract.notice_ids.filtered(lambda n: n.kind == "customer_notice")
        self.assertEqual(notice.date, D("2028-01-04"))
        self.assertEqual(contract.date_end, D("2028-12-31"))
        self.assertFalse(errors.exists())
        self.assertFalse(contract.renewal_error_date)

    def test_refusal_after_the_deadline_is_recorded_with_a_warning(self):
        contract = self._start()
        with freeze_time("2027-12-10"):
            action = contract.action_refuse_renewal()
            wizard = Form(
                self.env[action["res_model"]].with_context(**action["context"])
            )
            wizard.reason = "Moving abroad"
            wizard = wizard.save()
            self.assertTrue(wizard.is_late)
            wizard.action_refuse()
        self.assertTrue(contract.renewal_refusal_late)
        body = contract.message_ids.filtered(
            lambda m: "does not renew" in str(m.body)
        ).body
        self.assertIn("12/31/2027", body)  # the user's date format
        self.assertNotIn("2027-12-31", body)
        self.assertIn("after the deadline of 12/01/2027", body)
        self._walk("2028-01-01", "2028-01-01")
        self.assertEqual(contract.state, "closed")

    # --- renewals that follow the money ---

    def test_suspended_unpaid_expires_and_resumed_renews(self):
        unpaid = self._start()
        paid = self._start(partner=self.partner_a)

        def each(day):
            if day == D("2027-11-15"):
                (unpaid | paid)._suspend_for_non_payment(day)
            if day == D("2027-12-10"):
                paid._resume_after_payment()

        self._walk("2027-09-30", "2028-01-02", each)
        note = unpaid.message_ids.filtered(
            lambda m: "does not renew tacitly" in str(m.body)
        )
        self.assertIn(self.user_sales.partner_id, note.partner_ids)
        self.assertEqual(unpaid.state, "closed")
        self.assertEqual(
            unpaid.close_reason_id,
            self.env.ref("subscription_billing.close_reason_expired"),
        )
        self.assertEqual(unpaid.pause_ids.date_to, D("2027-12-31"))
        self.assertTrue(
            unpaid.activity_ids.filtered(lambda a: a.summary == "Expired unpaid")
        )
        self.assertEqual(paid.state, "active")
        self.assertEqual(paid.date_end, D("2028-12-31"))
