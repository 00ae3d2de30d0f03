import psycopg2
from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import SubscriptionCommon

D = fields.Date.to_date


@tagged("post_install", "-at_install")
class TestAmendment(SubscriptionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product_machine = cls.env["product.product"].create(
            {
                "name": "Extra machine",
                "type": "service",
                "list_price": 60.0,
                "taxes_id": [Command.set(cls.tax_20.ids)],
            }
        )
        cls.plan_arrears = cls.env["subscription.plan"].create(
            {
                "name": "Monthly in arrears",
                "billing_interval": 1,
                "billing_unit": "month",
                "billing_mode": "arrears",
                "company_id": False,
            }
        )

    def _start(self, **values):
        values.setdefault("date_start", "2027-03-01")
        return super()._start(**values)

    def _bill_changes(self, day):
        with freeze_time(day):
            self.env["subscription.contract"]._cron_bill_amendments()

    def _moves(self, contract, **kw):
        domain = [
            ("subscription_contract_id", "=", contract.id),
            ("state", "!=", "cancel"),
        ]
        domain += [(key, "=", value) for key, value in kw.items()]
        return self.env["account.move"].search(domain, order="id")

    def _amend(self, contract, day, edit=None, add=None, date=None):
        """Run the Amend wizard on ``day``: ``edit`` maps a product to the new
        quantity, ``add`` lists (product, price) to add."""
        with freeze_time(day):
            action = contract.action_open_amend_wizard()
            form = Form(self.env[action["res_model"]].with_context(**action["context"]))
            if date:
                form.date = D(date)
            for index in range(len(form.line_ids)):
                with form.line_ids.edit(index) as line:
                    if edit and line.product_id in edit:
                        line.quantity = edit[line.product_id]
            for product, price in add or []:
                with form.line_ids.new() as line:
                    line.product_id = product
                    line.price_unit = price
            wizard = form.save()
            preview = (wizard.amount_now, wizard.new_recurring_amount, wizard.new_mrr)
            wizard.action_confirm()
        return preview

    # --- in advance -------------------------------------------------------------

    def test_increase_in_advance_invoices_the_remaining_days(self):
        contract = self._start()
        self._bill("2027-03-01")
        march = self._moves(contract)
        self.assertEqual(march.amount_untaxed, 100.0)
        amount_now, recurring, mrr = self._amend(
            contract,
            "2027-03-16",
            edit={self.product_maintenance: 2},
            add=[(self.product_machine, 60.0)],
        )
        # The 16 days of March with the extra seat and the machine: 160 x 16/31.
        self.assertEqual(amount_now, 82.58)
        self.assertEqual((recurring, mrr), (260.0, 260.0))
        adjustment = self._moves(contract, subscription_amendment=True)
        self.assertEqual(len(adjustment), 1)
        self.assertEqual(adjustment.move_type, "out_invoice")
        self.assertEqual(adjustment.state, "posted")
        self.assertEqual(adjustment.invoice_date, D("2027-03-16"))
        self.assertEqual(adjustment.amount_untaxed, 82.58)
        self.assertEqual(adjustment.amount_total, 99.09)
        labels = adjustment.invoice_line_ids.mapped("name")
        self.assertIn("Extra machine, 16/03-31/03 (prorated: 16/31 days)", labels)
        self.assertIn(
            "Maintenance, 16/03-31/03 (prorated: 16/31 days), quantity 1.0 → 2.0",
            labels,
        )
        # History: the old line ended the day before, the new ones go on.
        old = contract.line_ids.filtered("date_end")
        self.assertEqual((old.quantity, old.date_end), (1.0, D("2027-03-15")))
        self.assertEqual(
            sorted(contract.current_line_ids.mapped("price_subtotal")), [60.0, 200.0]
        )
        self.assertEqual(contract.recurring_amount_untaxed, 260.0)
        body = contract.message_ids.filtered(
            lambda m: "Amendment from 03/16/2027" in (m.body or "")
        )
        self.assertTrue(body)
        self.assertIn("quantity 1.0 → 2.0", "".join(body.mapped("body")))
        self.assertEqual(body.author_id, self.env.user.partner_id)
        notice = (
            self.env["mail.mail"]
            .search([("model", "=", contract._name), ("res_id", "=", contract.id)])
            .filtered(lambda m: "is amended" in (m.subject or ""))
        )
        self.assertEqual(len(notice), 1)
        self.assertIn("260.00", notice.body_html)
        # Exactly once: reruns of the run and of the button bill nothing more.
        self._bill_changes("2027-03-16")
        self._bill_changes("2027-03-20")
        with freeze_time("2027-03-20"):
            self.assertFalse(contract._bill_amendments())
        self.assertEqual(len(self._moves(contract, subscription_amendment=True)), 1)
        # April is billed at the new lines.
        self._bill("2027-04-01")
        april = self._moves(contract, subscription_period_start=D("2027-04-01"))
        self.assertEqual(april.amount_untaxed, 260.0)

    def test_plain_form_edit_follows_the_same_rules(self):
        contract = self._start()
        self._bill("2027-03-01")
        with freeze_time("2027-03-16"):
            with Form(contract) as form:
                with form.line_ids.edit(0) as line:
                    line.quantity = 2
                with form.line_ids.new() as line:
                    line.product_id = self.product_machine
                    line.price_unit = 60.0
        self.assertTrue(contract.amendment_to_bill)
        self.assertEqual(len(contract.line_ids), 3)
        self._bill_changes("2027-03-16")
        adjustment = self._moves(contract, subscription_amendment=True)
        self.assertEqual(adjustment.amount_untaxed, 82.58)
        self.assertFalse(contract.amendment_to_bill)

    def test_decrease_in_advance_credited_when_the_company_says_so(self):
        self.company.subscription_credit_decrease = True
        contract = self._start()
        contract.line_ids.quantity = 2
        self._bill("2027-03-01")
        with freeze_time("2027-03-16"):
            contract.line_ids.quantity = 1
        self._bill_changes("2027-03-16")
        credit = self._moves(contract, subscription_amendment=True)
        self.assertEqual(credit.move_type, "out_refund")
        self.assertEqual(credit.amount_untaxed, 51.61)
        self.assertIn(
            "Maintenance, 16/03-31/03 (prorated: 16/31 days), quantity 2.0 → 1.0",
            credit.invoice_line_ids.mapped("name"),
        )
        self._bill_changes("2027-03-17")
        self.assertEqual(len(self._moves(contract, subscription_amendment=True)), 1)

    def test_decrease_in_advance_waits_for_the_next_period(self):
        contract = self._start()
        contract.line_ids.quantity = 2
        self._bill("2027-03-01")
        with freeze_time("2027-03-16"):
            contract.line_ids.filtered(lambda line: not line.date_end).quantity = 1
        self._bill_changes("2027-03-16")
        self.assertFalse(self._moves(contract, subscription_amendment=True))
        self._bill("2027-04-01")
        april = self._moves(contract, subscription_period_start=D("2027-04-01"))
        self.assertEqual(april.amount_untaxed, 100.0)

    def test_removed_line_stays_as_history(self):
        self.company.subscription_credit_decrease = True
        contract = self._start(products=self.product_maintenance | self.product_hosting)
        self._bill("2027-03-01")
        hosting = contract.line_ids.filtered(
            lambda line: line.product_id == self.product_hosting
        )
        with freeze_time("2027-03-21"):
            contract.line_ids = [Command.unlink(hosting.id)]
            self.assertEqual(hosting.date_end, D("2027-03-20"))
            self.assertEqual(hosting.line_status, "ended")
        self.assertIn(hosting, contract.line_ids)
        self.assertEqual(contract.recurring_amount_untaxed, 100.0)
        self._bill_changes("2027-03-21")
        credit = self._moves(contract, subscription_amendment=True)
        # 30 x 11/31 given back.
        self.assertEqual(
            (credit.move_type, credit.amount_untaxed), ("out_refund", 10.65)
        )

    def test_change_on_the_last_day_of_the_period(self):
        contract = self._start()
        self._bill("2027-03-01")
        self._amend(contract, "2027-03-31", edit={self.product_maintenance: 2})
        adjustment = self._moves(contract, subscription_amendment=True)
        self.assertEqual(adjustment.amount_untaxed, 3.23)
        self.assertIn(
            "31/03-31/03 (prorated: 1/31 days)", adjustment.invoice_line_ids[0].name
        )

    def test_change_on_the_first_day_of_a_billed_period(self):
        contract = self._start()
        self._bill("2027-04-01")
        amount_now, __, __ = self._amend(
            contract, "2027-04-01", edit={self.product_maintenance: 2}
        )
        self.assertEqual(amount_now, 100.0)
        adjustment = self._moves(contract, subscription_amendment=True)
        self.assertEqual(adjustment.amount_untaxed, 100.0)
        self.assertIn(
            "01/04-30/04 (prorated: 30/30 days)", adjustment.invoice_line_ids[0].name
        )

    def test_change_dated_on_the_first_day_of_the_next_period(self):
        contract = self._start()
        self._bill("2027-03-01")
        amount_now, recurring, __ = self._amend(
            contract,
            "2027-03-20",
            edit={self.product_maintenance: 2},
            date="2027-04-01",
        )
        self.assertEqual((amount_now, recurring), (0.0, 200.0))
        self.assertFalse(self._moves(contract, subscription_amendment=True))
        self._bill("2027-04-01")
        april = self._moves(contract, subscription_period_start=D("2027-04-01"))
        self.assertEqual(april.amount_untaxed, 200.0)
        self.assertIn(
            "Period from 04/01/2027 to 04/30/2027", april.invoice_line_ids.name
        )

    def test_two_changes_in_one_period(self):
        contract = self._start()
        self._bill("2027-03-01")
        self._amend(contract, "2027-03-10", add=[(self.product_machine, 60.0)])
        self._amend(contract, "2027-03-20", edit={self.product_maintenance: 2})
        adjustments = self._moves(contract, subscription_amendment=True)
        # 60 x 22/31, then 100 x 12/31.
        self.assertEqual(adjustments.mapped("amount_untaxed"), [42.58, 38.71])
        self._bill_changes("2027-03-25")
        self.assertEqual(len(self._moves(contract, subscription_amendment=True)), 2)
        self._bill("2027-04-01")
        april = self._moves(contract, subscription_period_start=D("2027-04-01"))
        self.assertEqual(april.amount_untaxed, 260.0)

    def test_past_date_only_within_a_period_not_invoiced(self):
        contract = self._start()
        self._bill("2027-03-01")
        with self.assertRaisesRegex(UserError, "in a period already invoiced"):
            with freeze_time("2027-03-16"):
                contract.with_context(
                    subscription_amendment_date="2027-03-10"
                ).line_ids.quantity = 2

    # --- in arrears ---------------------------------------------------------------

    def test_in_arrears_each_line_billed_for_its_days(self):
        contract = self._start(plan=self.plan_arrears)
        with freeze_time("2027-03-16"):
            # A past date is fine: March is not invoiced yet.
            amended = contract.with_context(subscription_amendment_date="2027-03-16")
            amended.line_ids.price_unit = 200
            amended.line_ids = [
                Command.create(
                    {"product_id": self.product_machine.id, "price_unit": 60}
                )
            ]
        self._bill_changes("2027-03-16")
        self.assertFalse(self._moves(contract))
        self._bill("2027-03-31")
        march = self._moves(contract)
        self.assertEqual(len(march), 1)
        # 100 x 15/31 + 200 x 16/31 + 60 x 16/31
        self.assertEqual(march.amount_untaxed, round(48.39 + 103.23 + 30.97, 2))
        self.assertEqual(
            sorted(march.invoice_line_ids.mapped("name")),
            [
                "Extra machine, 16/03-31/03 (prorated: 16/31 days)",
                "Maintenance, 01/03-15/03 (prorated: 15/31 days)",
                "Maintenance, 16/03-31/03 (prorated: 16/31 days)",
            ],
        )
        self._bill_changes("2027-04-01")
        self.assertEqual(len(self._moves(contract)), 1)

    def test_in_arrears_decrease_on_first_day(self):
        contract = self._start(plan=self.plan_arrears)
        contract.line_ids.quantity = 3
        self._bill("2027-03-31")
        with freeze_time("2027-04-01"):
            contract.line_ids.filtered(lambda line: not line.date_end).quantity = 1
        self._bill("2027-04-30")
        april = self._moves(contract, subscription_period_start=D("2027-04-01"))
        self.assertEqual(april.amount_untaxed, 100.0)
        self.assertIn(
            "Period from 04/01/2027 to 04/30/2027", april.invoice_line_ids.name
        )

    # --- exactly once -------------------------------------------------------------

    def test_the_database_refuses_a_day_billed_twice(self):
        contract = self._start()
        self._bill("2027-03-01")
        self._amend(contract, "2027-03-16", add=[(self.product_machine, 60.0)])
        machine = contract.line_ids.filtered(
            lambda line: line.product_id == self.product_machine
        )
        with freeze_time("2027-03-16"):
            segments = contract._make_segments(
                machine,
                set(range(D("2027-03-20").toordinal(), D("2027-03-22").toordinal())),
            )
            vals = contract._prepare_amendment_invoice_vals(segments)
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError):
            with self.env.cr.savepoint():
                self.env["account.move"].create(vals)
        # Cancelled, the change is billed again, once.
        adjustment = self._moves(contract, subscription_amendment=True)
        adjustment.button_draft()
        adjustment.button_cancel()
        with freeze_time("2027-03-17"):
            again = contract._bill_amendments()
        self.assertEqual(again.amount_untaxed, 30.97)

    def test_period_invoice_cancelled_after_its_amendment_is_billed_again(self):
        contract = self._start()
        self._bill("2027-03-01")
        with freeze_time("2027-03-16"):
            contract.line_ids.price_unit = 200
        self._bill_changes("2027-03-16")
        march = self._moves(contract, subscription_period_start=D("2027-03-01"))
        adjustment = self._moves(contract, subscription_amendment=True)
        march.button_draft()
        with self.assertRaisesRegex(UserError, "Cancel .* first"):
            march.button_cancel()
        adjustment.button_draft()
        adjustment.button_cancel()
        march.button_cancel()
        self._bill("2027-03-20")
        rebilled = self._moves(contract, subscription_period_start=D("2027-03-01"))
        self.assertEqual(rebilled.amount_untaxed, round(48.39 + 103.23, 2))
        self._bill_changes("2027-03-20")
        self.assertFalse(self._moves(contract, subscription_amendment=True))

    def test_preview_shows_the_lines_and_their_days(self):
        contract = self._start()
        with freeze_time("2027-02-20"):
            contract.with_context(subscription_amendment_date="2027-03-16").line_ids = [
                Command.create(
                    {"product_id": self.product_machine.id, "price_unit": 60}
                )
            ]
            message = contract.action_preview_next_invoice()["params"]["message"]
        self.assertIn("130.97", message)
        self.assertIn(
            "Extra machine, 16/03-31/03 (prorated: 16/31 days): $\xa030.97", message
        )

    def test_new_commitment_copies_the_lines_that_go_on(self):
        contract = self._start()
        with freeze_time("2027-03-16"):
            contract.line_ids.quantity = 2
        proposal = contract.copy()
        self.assertEqual(proposal.line_ids.mapped("quantity"), [2.0])
        self.assertFalse(proposal.line_ids.date_start)

    # --- reports ------------------------------------------------------------------

    def test_mrr_movements(self):
        contract = self._start(date_start="2027-01-01")
        self._bill("2027-01-01")
        with freeze_time("2027-02-10"):
            contract.line_ids.quantity = 3
        with freeze_time("2027-03-01"):
            contract.with_context(
                subscription_amendment_date="2027-04-05"
            ).line_ids.filtered(lambda line: not line.date_end).quantity = 2
        with freeze_time("2027-06-15"):
            contract._close(self.close_reason.id, D("2027-06-15"))
        self.env.flush_all()
        movements = self.env["subscription.mrr.movement"].search(
            [("contract_id", "=", contract.id)], order="date"
        )
        self.assertEqual(
            [(m.date, m.movement, m.amount) for m in movements],
            [
                (D("2027-01-01"), "new", 100.0),
                (D("2027-02-01"), "expansion", 200.0),
                (D("2027-04-01"), "contraction", -100.0),
                (D("2027-06-01"), "churn", -200.0),
            ],
        )

    def test_contract_pdf_shows_the_lines_in_force(self):
        contract = self._start(products=self.product_maintenance | self.product_hosting)
        with freeze_time("2027-03-10"):
            contract.line_ids = [Command.unlink(contract.line_ids[1].id)]
            html = (
                self.env["ir.actions.report"]
                ._render_qweb_html(
                    "subscription_billing.report_subscription_contract", contract.ids
                )[0]
                .decode()
            )
        self.assertIn("Maintenance", html)
        self.assertNotIn("Hosting", html)

    def test_amendment_invoice_and_notice_in_french(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["subscription_billing"], ["fr_FR"], overwrite=True
        )
        self.customer.lang = "fr_FR"
        contract = self._start()
        self._bill("2027-03-01")
        self._amend(contract, "2027-03-16", add=[(self.product_machine, 60.0)])
        adjustment = self._moves(contract, subscription_amendment=True)
        self.assertEqual(
            adjustment.invoice_line_ids.name,
            "Extra machine, 16/03-31/03 (au prorata : 16/31 jours)",
        )
        notice = self.env["mail.mail"].search(
            [("model", "=", contract._name), ("res_id", "=", contract.id)]
        )
        self.assertIn("est modifié", notice.subject)
        self.assertIn("Votre nouveau montant récurrent", notice.body_html)
