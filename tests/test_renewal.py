from unittest.mock import patch

import psycopg2
from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import SubscriptionCommon

D = fields.Date.to_date


@tagged("post_install", "-at_install")
class TestRenewal(SubscriptionCommon):
    """plan_monthly: 12-month commitment, tacit renewal, customer notice 90 days
    before the end, refusal until 30 days before, salesperson alert 60 days."""

    def _start(self, **values):
        values.setdefault("user_id", self.user_sales.id)
        contract = self._create_contract(date_start="2027-01-01", **values)
        contract.action_start()
        return contract

    def _renewals(self, day):
        with freeze_time(day):
            self.env["subscription.contract"]._cron_process_renewals()

    def _mails(self, contract):
        return self.env["mail.mail"].search(
            [("model", "=", contract._name), ("res_id", "=", contract.id)]
        )

    def test_schedule_of_a_term(self):
        contract = self._start()
        self.assertEqual(contract.date_end, D("2027-12-31"))
        self.assertEqual(contract.renewal_notice_date, D("2027-10-02"))
        self.assertEqual(contract.renewal_refusal_deadline, D("2027-12-01"))
        self.assertEqual(contract.renewal_alert_date, D("2027-11-01"))
        self.assertEqual(contract.renewal_next_end, D("2028-12-31"))

    def test_customer_notice_at_the_right_date_and_once(self):
        contract = self._start()
        self._renewals("2027-10-01")
        self.assertFalse(self._mails(contract))
        self._renewals("2027-10-02")
        self._renewals("2027-10-02")
        self._renewals("2027-10-20")
        mail = self._mails(contract)
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.recipient_ids, self.customer)
        # Renewed on the day after the end of the term (L215-1 wording).
        self.assertIn("renews on 01/01/2028", mail.subject)
        self.assertIn("12/31/2028", mail.body_html)  # the new term
        self.assertIn("12/01/2027", mail.body_html)  # until when to refuse
        self.assertIn("100.00", mail.body_html)  # the new price
        self.assertEqual(contract.notice_ids.kind, "customer_notice")
        self.assertFalse(contract.renewal_notice_date)

    def test_salesperson_alert_says_renews_or_expires(self):
        renewing = self._start()
        expiring = self._start(partner=self.partner_a, auto_renew=False)
        self._renewals("2027-10-31")
        self.assertFalse(renewing.activity_ids)
        self._renewals("2027-11-01")
        self._renewals("2027-11-02")
        self.assertEqual(len(renewing.activity_ids), 1)
        self.assertIn("Renews on", renewing.activity_ids.summary)
        self.assertEqual(renewing.activity_ids.user_id, self.user_sales)
        self.assertIn("Expires on", expiring.activity_ids.summary)
        self.assertFalse(self._mails(expiring), "no renewal notice when it expires")

    def test_tacit_renewal_without_price_revision(self):
        contract = self._start()
        self._renewals("2027-12-31")
        self.assertEqual(contract.date_end, D("2027-12-31"), "not before the end")
        self._renewals("2028-01-01")
        self._renewals("2028-01-01")
        self.assertEqual(contract.date_end, D("2028-12-31"))
        self.assertEqual(contract.renewal_count, 1)
        self.assertEqual(contract.state, "active")
        self.assertEqual(contract.recurring_amount_untaxed, 100.0)
        self.assertTrue(
            any("Renewed" in body for body in contract.message_ids.mapped("body"))
        )
        renewed = self._mails(contract).filtered(
            lambda m: "is renewed" in m.subject and self.customer in m.recipient_ids
        )
        self.assertEqual(len(renewed), 1)
        # The next term has its own notice.
        self.assertEqual(contract.renewal_notice_date, D("2028-10-02"))

    def test_tacit_renewal_with_price_revision(self):
        self.plan_monthly.renewal_price_increase = 5.0
        contract = self._start()
        self.assertEqual(contract._get_renewed_amount(), 105.0)
        self._renewals("2028-01-01")
        self.assertEqual(contract.current_line_ids.price_unit, 105.0)
        self.assertEqual(contract.recurring_amount_untaxed, 105.0)

    def test_expiry_closes_with_its_reason(self):
        contract = self._start(auto_renew=False)
        self._renewals("2028-01-01")
        self.assertEqual(contract.state, "closed")
        self.assertEqual(
            contract.close_reason_id,
            self.env.ref("subscription_billing.close_reason_expired"),
        )
        self.assertEqual(contract.close_date, D("2027-12-31"))
        self.assertEqual(contract.churned_mrr, 100.0)

    def test_do_not_renew(self):
        contract = self._start()
        action = contract.action_refuse_renewal()
        wizard = Form(self.env[action["res_model"]].with_context(**action["context"]))
        wizard.reason = "Budget cut"
        wizard.save().action_refuse()
        self.assertTrue(contract.renewal_refused)
        self.assertFalse(contract.renewal_notice_date)
        # The customer gets the confirmation of the refusal, then no notice.
        confirmation = self._mails(contract)
        self.assertEqual(len(confirmation), 1)
        self.assertIn("refusal of the renewal", confirmation.body_html)
        self._renewals("2027-10-02")
        self.assertEqual(self._mails(contract), confirmation)
        self._renewals("2028-01-01")
        self.assertEqual(contract.state, "closed")

    def test_renew_now_wizard(self):
        contract = self._start()
        action = contract.action_renew_now()
        with freeze_time("2027-06-15"):
            form = Form(self.env[action["res_model"]].with_context(**action["context"]))
            form.renewal_length = 2
            form.renewal_unit = "year"
            form.price_increase = 10.0
            with form.line_ids.edit(0) as line:
                line.quantity = 2
            self.assertEqual(form.new_end, D("2029-12-31"))
            form.save().action_renew()
        self.assertEqual(contract.date_end, D("2029-12-31"))
        self.assertEqual(contract.current_line_ids.quantity, 2)
        self.assertEqual(contract.current_line_ids.price_unit, 110.0)
        self.assertTrue(
            any("Lines changed" in body for body in contract.message_ids.mapped("body"))
        )
        self._renewals("2028-01-01")
        self.assertEqual(contract.date_end, D("2029-12-31"), "renewed once")

    def test_renew_now_refused_on_open_ended_contract(self):
        contract = self._start(plan=self.plan_quarterly)
        with self.assertRaisesRegex(UserError, "cannot be renewed"):
            contract.action_renew_now()

    def test_propose_a_new_commitment(self):
        contract = self._start(auto_renew=False)
        action = contract.action_propose_new_commitment()
        proposal = self.env["subscription.contract"].browse(action["res_id"])
        self.assertEqual(proposal.state, "draft")
        self.assertEqual(proposal.date_start, D("2028-01-01"))
        self.assertEqual(proposal.date_end, D("2028-12-31"))
        self.assertEqual(proposal.origin_contract_id, contract)
        self.assertEqual(proposal.line_ids.product_id, contract.line_ids.product_id)
        proposal.action_start()  # no overlap with the running term
        self.assertEqual(proposal.state, "active")

    def test_billing_across_the_renewal_has_no_gap_nor_overlap(self):
        contract = self._start()
        for day in ("2027-12-01", "2028-01-01", "2028-02-01"):
            self._renewals(day)  # 02:00, before the billing run at 03:00
            self._bill(day)
        invoices = self.env["account.move"].search(
            [("subscription_contract_id", "=", contract.id)],
            order="subscription_period_start",
        )
        periods = [
            (m.subscription_period_start, m.subscription_period_end) for m in invoices
        ]
        self.assertEqual(
            periods[-3:],
            [
                (D("2027-12-01"), D("2027-12-31")),
                (D("2028-01-01"), D("2028-01-31")),
                (D("2028-02-01"), D("2028-02-29")),
            ],
        )
        for (__, end), (start, __) in zip(periods, periods[1:], strict=False):
            self.assertEqual((start - end).days, 1)

    def test_failing_contract_inside_a_batch(self):
        good = self._start()
        bad = self._start(partner=self.partner_a)
        original = type(bad)._renew

        def broken(contract, *args, **kwargs):
            if contract == bad:
                raise UserError(self.env._("Product archived"))
            return original(contract, *args, **kwargs)

        with patch.object(type(bad), "_renew", broken):
            self._renewals("2028-01-01")
            self._renewals("2028-01-01")
        self.assertEqual(good.date_end, D("2028-12-31"))
        self.assertEqual(bad.date_end, D("2027-12-31"))
        self.assertEqual(bad.renewal_error_date, D("2028-01-01"))
        self.assertIn("Product archived", bad.message_ids[0].body)
        self._renewals("2028-01-02")
        self.assertEqual(bad.date_end, D("2028-12-31"))

    def test_renewal_once_per_term_enforced_by_postgresql(self):
        contract = self._start()
        self._renewals("2028-01-01")
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(psycopg2.errors.UniqueViolation),
            self.env.cr.savepoint(),
        ):
            self.env["subscription.contract.notice"].sudo().create(
                {
                    "contract_id": contract.id,
                    "term_end": "2027-12-31",
                    "kind": "renewal",
                    "date": "2028-01-02",
                }
            )
            self.env.flush_all()

    def test_churn_per_month(self):
        first = self._start()
        second = self._start(partner=self.partner_a, plan=self.plan_quarterly)
        first._close(self.close_reason.id, "2027-03-15")
        second._close(self.close_reason.id, "2027-03-20")
        groups = self.env["subscription.contract"]._read_group(
            [("state", "=", "closed"), ("id", "in", (first | second).ids)],
            ["close_date:month"],
            ["churned_mrr:sum"],
        )
        self.assertEqual(groups[0][1], 133.33)
