import importlib.util
from pathlib import Path

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import PaymentCommon
from .selfservice_common import load_french

D = fields.Date.to_date


@tagged("post_install", "-at_install")
class TestSelfServiceLaw(PaymentCommon):
    """What the customer's own termination does (French Consumer Code L215-1,
    L215-1-1): the issue's yearly contract of 1,200.00 billed in advance,
    whose term ends on 28 February 2027, told late of its renewal (10 January
    for a deadline of 29 January)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan_year_tacit = cls.env["subscription.plan"].create(
            {
                "name": "Yearly tacit",
                "billing_interval": 1,
                "billing_unit": "year",
                "commitment_length": 12,
                "commitment_unit": "month",
                "auto_renew": True,
                "company_id": False,
            }
        )
        # Card charges commit in a cursor of their own: share the test's.
        cls.registry.enter_test_mode(cls.cr)
        cls.addClassCleanup(cls.registry.leave_test_mode)

    def _yearly(self, **values):
        values.setdefault("user_id", self.user_sales.id)
        contract = self.env["subscription.contract"].create(
            {
                "partner_id": self.customer.id,
                "plan_id": self.plan_year_tacit.id,
                "date_start": "2026-03-01",
                "line_ids": [
                    Command.create(
                        {"product_id": self.product_maintenance.id, "price_unit": 1200}
                    )
                ],
                **values,
            }
        )
        with freeze_time("2026-03-01"):
            contract.action_start()
            contract._generate_invoices()
        self.assertEqual(contract.renewal_refusal_deadline, D("2027-01-29"))
        # The notice goes out late, on 10 January; the term renews on 1 March.
        for day in ("2027-01-10", "2027-03-01"):
            with freeze_time(day):
                self.env["subscription.contract"]._cron_process_renewals()
        self.assertEqual(contract.free_termination_date, D("2027-03-01"))
        self.assertEqual(contract.date_end, D("2028-02-29"))
        with freeze_time("2027-03-01"):
            advance = contract._generate_invoices()
        self.assertEqual(advance.amount_untaxed, 1200.0)
        return contract, advance

    def _pay(self, invoice):
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"payment_date": "2027-03-05"})._create_payments()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    def _confirmations(self, contract):
        return self.env["mail.mail"].search(
            [
                ("model", "=", contract._name),
                ("res_id", "=", contract.id),
                ("subject", "ilike", "ends on"),
                ("recipient_ids", "in", contract.partner_id.ids),
            ]
        )

    def test_free_termination_credits_and_refunds_a_paid_advance(self):
        contract, advance = self._yearly()
        self._pay(advance)
        with freeze_time("2027-04-15"):
            info = contract._get_portal_termination()
            self.assertEqual((info["end"], info["rule"]), (D("2027-04-15"), "free"))
            contract.with_user(self.user_sales).sudo()._portal_terminate()
        self.assertEqual(contract.state, "closed")
        self.assertEqual(contract.close_date, D("2027-04-15"))
        self.assertEqual(contract.close_reason_id, self.close_reason)
        credit = contract.advance_credit_move_id
        self.assertEqual(credit.move_type, "out_refund")
        self.assertEqual(credit.state, "posted")
        # 16 April 2027 to 29 February 2028: 320 of the 366 days billed.
        self.assertAlmostEqual(credit.amount_untaxed, 1049.18)
        self.assertIn("320/366", credit.invoice_line_ids[0].name)
        # Paid by transfer: refunded by a payment to the customer within 30 days.
        self.assertEqual(contract.advance_refund_method, "transfer")
        payment = self.env["account.payment"].search(
            [("memo", "=", credit.name), ("payment_type", "=", "outbound")]
        )
        self.assertEqual(payment.amount, credit.amount_total)
        self.assertEqual(payment.partner_id, self.customer)
        activity = credit.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.date_deadline, D("2027-05-15"))
        # The confirmation says when it ends and what happens to the advance.
        mail = self._confirmations(contract)
        self.assertEqual(len(mail), 1)
        self.assertIn("04/15/2027", mail.subject)
        self.assertIn(credit.name, mail.body_html)
        self.assertIn("bank transfer", mail.body_html)
        self.assertIn("05/15/2027", mail.body_html)
        self.assertTrue(
            contract.activity_ids.filtered(
                lambda a: (
                    a.user_id == self.user_sales
                    and a.summary == "Customer ended the subscription"
                )
            )
        )

    def test_free_termination_reduces_an_unpaid_advance(self):
        contract, advance = self._yearly()
        with freeze_time("2027-04-15"):
            contract._portal_terminate()
        credit = contract.advance_credit_move_id
        self.assertAlmostEqual(credit.amount_untaxed, 1049.18)
        self.assertEqual(contract.advance_refund_method, "deducted")
        self.assertTrue(credit.currency_id.is_zero(credit.amount_residual))
        self.assertAlmostEqual(
            advance.amount_residual, advance.amount_total - credit.amount_total
        )
        self.assertFalse(
            self.env["account.payment"].search([("memo", "=", credit.name)])
        )

    def test_free_termination_refunds_the_card(self):
        token = self._token(self.customer)
        contract, advance = self._yearly(
            payment_method="card", payment_token_id=token.id
        )
        with freeze_time("2027-03-02"):
            self.env["account.move"]._cron_charge_cards()
        self.assertIn(advance.payment_state, ("paid", "in_payment"))
        with freeze_time("2027-04-15"):
            contract._portal_terminate()
        credit = contract.advance_credit_move_id
        self.assertEqual(contract.advance_refund_method, "card")
        refund = credit.transaction_ids
        self.assertEqual(refund.operation, "refund")
        self.assertEqual(refund.state, "done")
        self.assertAlmostEqual(-refund.amount, credit.amount_total)
        self.assertIn(credit.payment_state, ("paid", "in_payment"))

    def test_close_wizard_credits_a_free_termination_too(self):
        contract, advance = self._yearly()
        with freeze_time("2027-04-15"):
            wizard = Form(
                self.env["subscription.contract.close"].with_context(
                    active_model=contract._name, active_ids=contract.ids
                )
            )
            wizard.reason_id = self.close_reason
            wizard.save().action_close()
        self.assertAlmostEqual(contract.advance_credit_move_id.amount_untaxed, 1049.18)

    def test_termination_within_the_commitment_ends_at_the_term_end(self):
        contract = self._create_contract(user_id=self.user_sales.id)
        with freeze_time("2027-01-01"):
            contract.action_start()
        with freeze_time("2027-06-10"):
            info = contract._get_portal_termination()
            self.assertEqual((info["end"], info["rule"]), (D("2027-12-31"), "term_end"))
            contract._portal_terminate()
        self.assertEqual(contract.state, "active")
        self.assertTrue(contract.renewal_refused)
        self.assertEqual(contract.termination_date, D("2027-12-31"))
        mail = self._confirmations(contract)
        self.assertIn("12/31/2027", mail.subject)
        self.assertIn(
            "No invoice is issued for the days after 12/31/2027", mail.body_html
        )
        with freeze_time("2028-01-01"):
            self.env["subscription.contract"]._cron_process_renewals()
        self.assertEqual(contract.state, "closed")
        # The churn keeps the customer's reason, not "expired".
        self.assertEqual(contract.close_reason_id, self.close_reason)
        churn = self.env["subscription.mrr.movement"].search(
            [("contract_id", "=", contract.id), ("movement", "=", "churn")]
        )
        self.assertEqual(churn.close_reason_id, self.close_reason)
        # Asked twice: refused with a sentence, not a traceback.
        info = contract._get_portal_termination(D("2027-07-01"))
        self.assertFalse(info["allowed"])

    def test_past_the_deadline_it_ends_after_the_renewed_term(self):
        contract = self._create_contract(user_id=self.user_sales.id)
        with freeze_time("2027-01-01"):
            contract.action_start()
        with freeze_time("2027-12-10"):
            info = contract._get_portal_termination()
            self.assertEqual(info["rule"], "renewed_end")
            self.assertEqual(info["end"], D("2028-12-31"))
            contract._portal_terminate()
        self.assertFalse(contract.renewal_refused)
        with freeze_time("2028-01-01"):
            self.env["subscription.contract"]._cron_process_renewals()
        self.assertEqual(contract.date_end, D("2028-12-31"))
        self.assertTrue(contract.renewal_refused)

    def test_business_needs_the_plan_setting_and_gives_notice(self):
        business = self.env["res.partner"].create(
            {"name": "Garage Dupont", "is_company": True, "email": "g@dupont.example"}
        )
        contract = self._create_contract(
            partner=business, plan=self.plan_quarterly, user_id=self.user_sales.id
        )
        with freeze_time("2027-01-01"):
            contract.action_start()
            contract._generate_invoices()
        with freeze_time("2027-02-10"):
            self.assertFalse(contract._get_portal_termination()["allowed"])
            self.plan_quarterly.write(
                {"portal_termination_b2b": True, "portal_termination_notice_days": 60}
            )
            info = contract._get_portal_termination()
        # 60 days' notice from 10 February, after the quarter paid to 31 March.
        self.assertEqual((info["end"], info["rule"]), (D("2027-04-11"), "notice"))
        self.plan_quarterly.portal_termination_notice_days = 10
        info = contract._get_portal_termination(D("2027-02-10"))
        self.assertEqual(info["end"], D("2027-03-31"))

    def test_refuse_renewal_wizard_confirms_to_the_customer(self):
        contract = self._create_contract(user_id=self.user_sales.id)
        with freeze_time("2027-01-01"):
            contract.action_start()
        with freeze_time("2027-11-10"):
            action = contract.with_user(self.user_sales).action_refuse_renewal()
            wizard = Form(
                self.env[action["res_model"]]
                .with_user(self.user_sales)
                .with_context(**action["context"])
            )
            wizard.reason = "Moving abroad"
            wizard.save().action_refuse()
        mail = self._confirmations(contract)
        self.assertEqual(len(mail), 1)
        self.assertIn("refusal of the renewal", mail.body_html)
        self.assertIn("12/31/2027", mail.body_html)

    def _renewal_notice(self, subject):
        """The renewal notice (its subject holding ``subject``) of a contract
        started on 1 January 2027, sent by the renewals cron on 2 October 2027."""
        contract = self._create_contract(user_id=self.user_sales.id)
        with freeze_time("2027-01-01"):
            contract.action_start()
        with freeze_time("2027-10-02"):
            self.env["subscription.contract"]._cron_process_renewals()
        return self.env["mail.mail"].search(
            [("res_id", "=", contract.id), ("subject", "ilike", subject)]
        )

    def test_renewal_notice_frames_the_deadline(self):
        mail = self._renewal_notice("renews on")
        self.assertEqual(len(mail), 1)
        self.assertIn("renews on 01/01/2028", mail.subject)
        self.assertIn("border:2px solid", mail.body_html)
        self.assertIn("12/01/2027</strong>", mail.body_html.replace(" included.", ""))
        self.assertIn("included", mail.body_html)
        self.assertIn("/my/subscriptions/", mail.body_html)

    def test_renewal_notice_in_french(self):
        load_french(self.env)
        self.customer.lang = "fr_FR"
        mail = self._renewal_notice("reconduit le")
        self.assertEqual(len(mail), 1)
        self.assertIn("01/01/2028", mail.subject)
        self.assertIn("border:2px solid", mail.body_html)
        self.assertIn("inclus", mail.body_html)

    def test_migration_rewrites_the_existing_notice(self):
        template = self.env.ref("subscription_billing.mail_template_renewal_notice")
        template.write(
            {
                "subject": "Old - renews on {{ format_date(object.date_end) }}",
                "body_html": "<p>You may refuse by replying to this email.</p>",
            }
        )
        path = Path(__file__).parent.parent / "migrations/18.0.1.1.0/post-migrate.py"
        spec = importlib.util.spec_from_file_location("sb_post_migrate", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.migrate(self.env.cr, "18.0.1.0.0")
        template.invalidate_recordset()
        self.assertIn("_get_renewal_date", template.subject)
        self.assertIn("border: 2px solid", template.body_html)

    # --- quantities changed online ---

    def _monthly_seats(self, quantity=1):
        self.plan_monthly.write(
            {
                "portal_quantity_change": True,
                "portal_min_quantity": 1,
                "portal_max_quantity": 10,
            }
        )
        contract = self._create_contract(user_id=self.user_sales.id)
        contract.line_ids.quantity = quantity
        with freeze_time("2027-01-01"):
            contract.action_start()
            contract._generate_invoices()
        return contract, contract.line_ids

    def test_quantity_increase_is_invoiced_prorated_at_once(self):
        contract, line = self._monthly_seats()
        with freeze_time("2027-01-11"):
            wizard = contract._prepare_portal_quantity_change({line.id: 3})
            # Shown before confirming: 2 more seats for 21 of 31 days.
            self.assertEqual(wizard.date, D("2027-01-11"))
            self.assertAlmostEqual(wizard.amount_now, 135.48)
            self.assertAlmostEqual(wizard.new_recurring_amount, 300.0)
            contract._portal_change_quantity({line.id: 3})
        amendment = self._invoices(contract).filtered("subscription_amendment")
        self.assertEqual(amendment.move_type, "out_invoice")
        self.assertAlmostEqual(amendment.amount_untaxed, 135.48)
        self.assertEqual(contract.recurring_amount_untaxed, 300.0)

    def test_quantity_decrease_waits_for_the_period_end_or_is_credited(self):
        contract, line = self._monthly_seats(quantity=3)
        with freeze_time("2027-01-11"):
            self.assertEqual(
                contract._prepare_portal_quantity_change({line.id: 2}).date,
                D("2027-02-01"),
            )
            self.company.subscription_credit_decrease = True
            wizard = contract._prepare_portal_quantity_change({line.id: 2})
            self.assertEqual(wizard.date, D("2027-01-11"))
            self.assertAlmostEqual(wizard.amount_now, -67.74)  # 21/31 of 100

    def test_quantity_outside_the_plan_limits_is_refused(self):
        contract, line = self._monthly_seats()
        for quantity in (0, -1, 11, 1):
            with self.assertRaises(UserError):
                contract._prepare_portal_quantity_change({line.id: quantity})
        self.plan_monthly.portal_quantity_change = False
        with self.assertRaises(UserError):
            contract._prepare_portal_quantity_change({line.id: 2})
