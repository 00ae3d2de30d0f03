from odoo import Command, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from .common import SubscriptionCommon


@tagged("post_install", "-at_install")
class TestContract(SubscriptionCommon):
    # --- creation and computed values ---------------------------------------

    def test_create_takes_reference_from_company_sequence(self):
        first = self._create_contract()
        second = self._create_contract(date_start="2027-03-01")
        self.assertRegex(first.name, r"^SUB/2027/\d{5}$")
        self.assertEqual(
            int(second.name.rsplit("/", 1)[1]), int(first.name.rsplit("/", 1)[1]) + 1
        )
        self.assertEqual(first.state, "draft")
        self.assertEqual(first.company_id, self.company)

    def test_sequence_is_per_company(self):
        other = self.setup_other_company(name="Other Co")["company"]
        self._create_contract()
        contract_other = self.env["subscription.contract"].create(
            {
                "partner_id": self.customer.id,
                "plan_id": self.plan_yearly.id,
                "company_id": other.id,
                "date_start": "2027-01-01",
            }
        )
        self.assertEqual(contract_other.name, "SUB/2027/00001")
        sequences = self.env["ir.sequence"].search(
            [("code", "=", "subscription.contract"), ("company_id", "=", other.id)]
        )
        self.assertEqual(len(sequences), 1)

    def test_billing_rule_is_copied_from_plan_and_kept(self):
        contract = self._create_contract(plan=self.plan_quarterly)
        self.assertEqual(
            (contract.billing_interval, contract.billing_unit, contract.billing_mode),
            (3, "month", "advance"),
        )
        # Editing the plan later does not rewrite the signed contract.
        self.plan_quarterly.billing_interval = 4
        self.assertEqual(contract.billing_interval, 3)
        # The contract's own rule can be edited.
        contract.billing_interval = 2
        self.assertEqual(contract.billing_interval, 2)

    def test_commitment_end_and_next_invoice_date(self):
        contract = self._create_contract(plan=self.plan_monthly)
        self.assertEqual(contract.date_end, fields.Date.to_date("2027-12-31"))
        self.assertEqual(contract.next_invoice_date, fields.Date.to_date("2027-01-01"))
        open_ended = self._create_contract(plan=self.plan_quarterly)
        self.assertFalse(open_ended.date_end)

    def test_next_invoice_date_in_arrears_is_end_of_first_period(self):
        self.plan_quarterly.billing_mode = "arrears"
        contract = self._create_contract(
            plan=self.plan_quarterly, date_start="2027-01-15"
        )
        self.assertEqual(contract.next_invoice_date, fields.Date.to_date("2027-04-14"))

    def test_line_defaults_from_product_and_amounts(self):
        contract = self._create_contract(
            products=self.product_maintenance | self.product_hosting
        )
        maintenance = contract.line_ids.filtered(
            lambda line: line.product_id == self.product_maintenance
        )
        self.assertEqual(maintenance.price_unit, 100.0)
        self.assertEqual(maintenance.tax_ids, self.tax_20)
        self.assertEqual(maintenance.product_uom_id, self.product_maintenance.uom_id)
        self.assertIn("Maintenance", maintenance.name)
        maintenance.write({"quantity": 2, "discount": 10})
        self.assertEqual(maintenance.price_subtotal, 180.0)
        self.assertEqual(maintenance.price_total, 216.0)
        self.assertEqual(contract.recurring_amount_untaxed, 210.0)
        self.assertEqual(contract.recurring_amount_total, 252.0)
        self.assertEqual(contract.recurring_amount_tax, 42.0)

    def test_mrr_is_normalised_to_one_month(self):
        monthly = self._create_contract(plan=self.plan_monthly)
        quarterly = self._create_contract(plan=self.plan_quarterly)
        yearly = self._create_contract(plan=self.plan_yearly)
        self.assertEqual(monthly.mrr, 100.0)
        self.assertEqual(quarterly.mrr, 33.33)
        self.assertEqual(yearly.mrr, 8.33)
        weekly = self._create_contract(billing_interval=2, billing_unit="week")
        self.assertEqual(weekly.mrr, 217.41)  # 100 / 2 weeks * 4.348 weeks

    def test_taxes_mapped_through_fiscal_position(self):
        tax_export = self.tax_20.copy({"name": "Export 0%", "amount": 0.0})
        fiscal_position = self.env["account.fiscal.position"].create(
            {
                "name": "Export",
                "tax_ids": [
                    Command.create(
                        {"tax_src_id": self.tax_20.id, "tax_dest_id": tax_export.id}
                    )
                ],
            }
        )
        self.customer.property_account_position_id = fiscal_position
        contract = self._create_contract()
        self.assertEqual(contract.fiscal_position_id, fiscal_position)
        self.assertEqual(contract.line_ids.tax_ids, tax_export)
        self.assertEqual(contract.recurring_amount_total, 100.0)

    def test_form_onchanges(self):
        with Form(self.env["subscription.contract"]) as form:
            form.partner_id = self.customer
            form.plan_id = self.plan_quarterly
            form.date_start = fields.Date.to_date("2027-02-01")
            with form.line_ids.new() as line:
                line.product_id = self.product_hosting
                self.assertEqual(line.price_unit, 30.0)
                line.quantity = 3
            self.assertEqual(form.billing_interval, 3)
            self.assertEqual(form.recurring_amount_untaxed, 90.0)
            self.assertEqual(form.mrr, 30.0)
            self.assertEqual(form.partner_invoice_id, self.customer)
        contract = form.save()
        self.assertEqual(contract.line_ids.quantity, 3)

    def test_partner_smart_button_counts_and_mrr(self):
        contact = self.env["res.partner"].create(
            {"name": "Paul", "parent_id": self.customer.id}
        )
        running = self._create_contract(partner=contact)
        running.action_start()
        self._create_contract(plan=self.plan_yearly)  # draft: not counted
        self.customer.invalidate_recordset(["subscription_count", "subscription_mrr"])
        self.assertEqual(self.customer.subscription_count, 1)
        self.assertEqual(self.customer.subscription_mrr, 100.0)
        action = self.customer.action_view_subscriptions()
        self.assertEqual(
            self.env["subscription.contract"].search(action["domain"]),
            self.customer.subscription_contract_ids | running,
        )

    def test_invoice_is_linked_and_counted(self):
        contract = self._create_contract()
        contract.action_start()
        invoice = self.init_invoice(
            "out_invoice", partner=self.customer, amounts=[120.0], post=True
        )
        invoice.write(
            {
                "subscription_contract_id": contract.id,
                "subscription_period_start": "2027-01-01",
                "subscription_period_end": "2027-01-31",
            }
        )
        self.assertEqual(contract.invoice_count, 1)
        self.assertEqual(contract.amount_invoiced, invoice.amount_total)
        action = contract.action_view_invoices()
        self.assertEqual(action["res_id"], invoice.id)
        found = self.env["account.move"].search(
            [("subscription_contract_id", "=", contract.id)]
        )
        self.assertEqual(found, invoice)

    # --- validation messages ------------------------------------------------

    def test_end_before_start_is_refused(self):
        with self.assertRaisesRegex(
            ValidationError, "commitment end .* before the start"
        ):
            self._create_contract(date_start="2027-05-01", date_end="2027-04-30")

    def test_interval_below_one_is_refused_on_plan(self):
        with self.assertRaisesRegex(ValidationError, "'Bill Every' must be 1 or more"):
            self.env["subscription.plan"].create(
                {"name": "Broken", "billing_interval": 0, "billing_unit": "month"}
            )

    def test_interval_below_one_is_refused_on_contract(self):
        contract = self._create_contract()
        with self.assertRaisesRegex(ValidationError, "'Bill Every' must be 1 or more"):
            contract.billing_interval = -1

    def test_negative_commitment_is_refused(self):
        with self.assertRaisesRegex(
            ValidationError, "commitment length cannot be negative"
        ):
            self.plan_monthly.commitment_length = -3

    def test_negative_quantity_is_refused(self):
        contract = self._create_contract()
        with self.assertRaisesRegex(ValidationError, "quantity -2.0 is negative"):
            contract.line_ids.quantity = -2

    def test_discount_out_of_range_is_refused(self):
        contract = self._create_contract()
        with self.assertRaisesRegex(ValidationError, "between 0 and 100%"):
            contract.line_ids.discount = 120

    def test_product_of_another_company_is_refused(self):
        other = self.setup_other_company(name="Other Co")["company"]
        foreign_product = self.env["product.product"].create(
            {"name": "Foreign service", "type": "service", "company_id": other.id}
        )
        with self.assertRaisesRegex(UserError, "Product"):
            self._create_contract(products=foreign_product)

    def test_plan_of_another_company_is_refused(self):
        other = self.setup_other_company(name="Other Co")["company"]
        foreign_plan = self.env["subscription.plan"].create(
            {"name": "Foreign plan", "company_id": other.id}
        )
        with self.assertRaisesRegex(UserError, "Plan"):
            self._create_contract(plan=foreign_plan)

    def test_currency_must_match_journal(self):
        usd_journal = self.company_data["default_journal_sale"].copy(
            {"name": "Sales USD", "code": "SUSD"}
        )
        other_currency = self.setup_other_currency("CHF")
        usd_journal.currency_id = other_currency
        contract = self._create_contract()
        # Choosing a journal in CHF switches the contract to CHF...
        contract.journal_id = usd_journal
        self.assertEqual(contract.currency_id, other_currency)
        # ...and another currency is then refused, saying what to do.
        with self.assertRaisesRegex(ValidationError, "only accepts CHF"):
            contract.currency_id = self.company.currency_id

    def test_uom_of_another_category_is_refused(self):
        contract = self._create_contract()
        with self.assertRaisesRegex(ValidationError, "cannot measure this product"):
            contract.line_ids.product_uom_id = self.env.ref("uom.product_uom_kgm")

    # --- duplicate guard ----------------------------------------------------

    def test_duplicate_contract_is_refused_naming_the_other(self):
        first = self._create_contract()
        first.action_start()
        duplicate = self._create_contract(date_start="2027-06-01")
        with self.assertRaisesRegex(UserError, f"duplicates {first.name}"):
            duplicate.action_start()
        self.assertEqual(duplicate.state, "draft")

    def test_duplicate_guard_ignores_other_products_plans_and_dates(self):
        first = self._create_contract()
        first.action_start()
        other_product = self._create_contract(products=self.product_hosting)
        other_plan = self._create_contract(plan=self.plan_quarterly)
        after_end = self._create_contract(date_start="2028-01-01")
        (other_product | other_plan | after_end).action_start()
        self.assertEqual(
            set((other_product | other_plan | after_end).mapped("state")), {"active"}
        )

    def test_duplicate_guard_checks_the_commercial_entity(self):
        contact = self.env["res.partner"].create(
            {"name": "Paul", "parent_id": self.customer.id}
        )
        first = self._create_contract()
        first.action_start()
        duplicate = self._create_contract(partner=contact)
        with self.assertRaisesRegex(UserError, "duplicates"):
            duplicate.action_start()

    def test_manager_can_allow_a_deliberate_overlap(self):
        first = self._create_contract()
        first.action_start()
        second = self._create_contract()
        second.with_user(self.user_manager).allow_overlap = True
        second.action_start()
        self.assertEqual(second.state, "active")
