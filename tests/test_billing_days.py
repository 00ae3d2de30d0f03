from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import SubscriptionCommon

D = fields.Date.to_date


@tagged("post_install", "-at_install")
class TestBillingDays(SubscriptionCommon):
    """No day billed twice, the amounts of the preview, invoices dated the day
    they are made, and sending apart from billing."""

    def _periods(self, contract):
        return [
            (m.subscription_period_start, m.subscription_period_end, m.amount_untaxed)
            for m in self._invoices(contract)
        ]

    # --- no day billed twice ----------------------------------------------------

    def test_renewal_then_cancellation_bills_the_cancelled_days_only(self):
        """The reproduction of the issue: monthly, aligned, 1-month commitment,
        tacit renewal, from 15 January."""
        plan = self.env["subscription.plan"].create(
            {
                "name": "Monthly aligned, 1 month",
                "billing_interval": 1,
                "billing_unit": "month",
                "align_to_calendar": True,
                "commitment_length": 1,
                "commitment_unit": "month",
                "auto_renew": True,
                "company_id": False,
            }
        )
        # A business customer: a 1-month tacit term cannot hold the consumer
        # notice window of L215-1.
        contract = self._start(plan=plan, date_start="2027-01-15", customer_type="b2b")
        self.assertEqual(contract.date_end, D("2027-02-14"))
        self._bill("2027-01-15")
        self._bill("2027-02-01")
        with freeze_time("2027-02-15"):
            self.env["subscription.contract"]._cron_process_renewals()
        self.assertEqual(contract.date_end, D("2027-03-14"))
        self._bill("2027-02-15")
        billed = [
            (D("2027-01-15"), D("2027-01-31"), 54.84),
            (D("2027-02-01"), D("2027-02-14"), 50.0),
            (D("2027-02-15"), D("2027-02-28"), 50.0),
        ]
        self.assertEqual(self._periods(contract), billed)
        with freeze_time("2027-02-20"):
            cancelled = self._invoices(contract)[1]
            cancelled.button_draft()
            cancelled.button_cancel()
        self._bill("2027-02-21")
        # Exactly the cancelled days again: 1-14 February, 50.00, not 1-28.
        self.assertEqual(self._periods(contract), billed)
        rebilled = self._invoices(contract)[1]
        self.assertNotEqual(rebilled, cancelled)
        self.assertEqual(rebilled.invoice_date, D("2027-02-21"))
        self.assertIn("(prorated: 14/28 days)", rebilled.invoice_line_ids.name)
        self.assertEqual(contract.next_invoice_date, D("2027-03-01"))
        with self.assertRaisesRegex(UserError, "has been invoiced again"):
            cancelled.button_draft()

    def test_next_period_start_moved_into_billed_days_bills_no_day_twice(self):
        contract = self._start(date_start="2027-01-01")
        self._bill("2027-01-01")
        self._bill("2027-02-01")
        january, february = self._invoices(contract)
        # A manager moves the next period back into January: nothing is billed
        # again and the contract moves on to March.
        contract.next_period_start = "2027-01-20"
        self._bill("2027-02-05")
        self.assertEqual(self._invoices(contract), january | february)
        self.assertEqual(contract.next_period_start, D("2027-03-01"))
        # With January cancelled meanwhile, only its days are billed again.
        january.button_draft()
        january.button_cancel()
        contract.next_period_start = "2027-01-01"
        self._bill("2027-02-06")
        self.assertEqual(
            self._periods(contract),
            [
                (D("2027-01-01"), D("2027-01-31"), 100.0),
                (D("2027-02-01"), D("2027-02-28"), 100.0),
            ],
        )
        self.assertEqual(contract.next_invoice_date, D("2027-03-01"))

    # --- amounts ----------------------------------------------------------------

    def test_prorated_line_total_is_the_preview_for_a_grid(self):
        """Quarterly, aligned: the line total is prorated, then rounded once;
        the invoice and the preview agree."""
        plan = self._quarterly_aligned_plan()
        eur = self.env.company.currency_id
        cases = []
        for start in ("2027-02-10", "2027-01-02", "2027-03-31"):
            for quantity in (1, 3, 7, 13):
                for discount in (0.0, 10.0, 33.33):
                    for price in (100.0, 19.99):
                        cases.append((start, quantity, discount, price))
        contracts = self.env["subscription.contract"]
        for index, (start, quantity, discount, price) in enumerate(cases):
            partner = self.env["res.partner"].create({"name": f"Grid {index}"})
            contracts |= self._create_contract(
                partner=partner,
                plan=plan,
                date_start=start,
                line_ids=[
                    Command.create(
                        {
                            "product_id": self.product_maintenance.id,
                            "quantity": quantity,
                            "discount": discount,
                            "price_unit": price,
                        }
                    )
                ],
            )
        contracts.action_start()
        previews = {}
        for contract in contracts:
            period = contract._get_period_from(contract.next_period_start)
            previews[contract] = contract._get_period_amounts(period)
        with freeze_time("2027-04-01"):
            contracts._generate_invoices()
        for contract, (start, quantity, discount, price) in zip(
            contracts, cases, strict=True
        ):
            invoice = self._invoices(contract)[0]
            days = (invoice.subscription_period_end - D(start)).days + 1
            exact = eur.round(quantity * price * (1 - discount / 100) * days / 90)
            untaxed, total = previews[contract]
            self.assertEqual(
                (invoice.amount_untaxed, invoice.amount_total),
                (eur.round(untaxed), eur.round(total)),
                f"{start} {quantity} x {price} -{discount}%",
            )
            self.assertEqual(invoice.amount_untaxed, exact)
            # The line keeps the contract's unit price and quantity.
            line = invoice.invoice_line_ids
            self.assertEqual((line.price_unit, line.quantity), (price, quantity))
        # The case of the issue: 7 x 100.00 from 10 February, 50 of 90 days.
        seven = contracts.filtered(
            lambda c: (
                c.line_ids.quantity == 7
                and not c.line_ids.discount
                and c.line_ids.price_unit == 100.0
                and c.date_start == D("2027-02-10")
            )
        )
        self.assertEqual(self._invoices(seven)[0].amount_untaxed, 388.89)

    def test_preview_says_the_invoice_amount(self):
        plan = self._quarterly_aligned_plan()
        contract = self._start(
            plan=plan,
            date_start="2027-02-10",
            line_ids=[
                Command.create(
                    {"product_id": self.product_maintenance.id, "quantity": 7}
                )
            ],
        )
        with freeze_time("2027-02-10"):
            message = contract.action_preview_next_invoice()["params"]["message"]
            self.assertIn("388.89", message)
            self.assertIn("(prorated: 50/90 days)", message)
            contract.action_invoice_now()
        self.assertEqual(self._invoices(contract).amount_untaxed, 388.89)

    def test_suspension_prorated_line_says_so(self):
        contract = self._start_suspended_11_to_20_january()
        self._bill("2027-01-31")
        invoice = self._invoices(contract)
        self.assertEqual(invoice.amount_untaxed, 67.74)
        self.assertIn("(prorated: 21/31 days)", invoice.invoice_line_ids.name)

    # --- dates ------------------------------------------------------------------

    def test_invoices_are_dated_the_day_they_are_made(self):
        self.customer.property_payment_term_id = self.env.ref(
            "account.account_payment_term_30days"
        )
        contract = self._start(date_start="2027-01-01")
        self._bill("2027-01-01")  # on its day: the period start
        with freeze_time("2027-01-25"):
            contract.action_suspend()
        with freeze_time("2027-03-10"):
            contract.action_resume()
        self._bill("2027-03-10")  # resumed: February's days, and March
        invoices = self._invoices(contract)
        self.assertEqual(
            [(m.subscription_period_start, m.invoice_date) for m in invoices],
            [
                (D("2027-01-01"), D("2027-01-01")),
                (D("2027-03-01"), D("2027-03-10")),
            ],
        )
        for invoice in invoices:
            self.assertEqual(
                invoice.invoice_date_due,
                fields.Date.add(invoice.invoice_date, days=30),
            )
        # Numbered in the order of their dates.
        self.assertLess(invoices[0].name, invoices[1].name)
        self.assertIn("(prorated: 22/31 days)", invoices[1].invoice_line_ids.name)

    # --- products ---------------------------------------------------------------

    def test_archived_product_is_a_billing_error(self):
        contract = self._start(date_start="2027-01-01", user_id=self.user_sales.id)
        self.product_maintenance.action_archive()
        self._bill("2027-01-01")
        self.assertFalse(self._invoices(contract))
        self.assertIn("is archived", contract.billing_error)
        self.assertEqual(contract.activity_ids.summary, "Billing error")
        with self.assertRaisesRegex(UserError, "is archived"):
            contract.action_invoice_now()

    def test_product_without_income_account_uses_the_journal_account(self):
        category = self.env["product.category"].create({"name": "No account"})
        product = self.env["product.product"].create(
            {
                "name": "Unmapped service",
                "type": "service",
                "list_price": 40.0,
                "categ_id": category.id,
            }
        )
        product.property_account_income_id = False
        category.property_account_income_categ_id = False
        contract = self._start(date_start="2027-01-01", products=product)
        self._bill("2027-01-01")
        invoice = self._invoices(contract)
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(
            invoice.invoice_line_ids.account_id, contract.journal_id.default_account_id
        )
        self.assertFalse(contract.billing_error)
