from freezegun import freeze_time
from lxml import etree

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import SubscriptionCommon

D = fields.Date.to_date


@tagged("post_install", "-at_install")
class TestUsageBilling(SubscriptionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product_copies = cls.env["product.product"].create(
            {
                "name": "Copies",
                "type": "service",
                "list_price": 0.10,
                "taxes_id": [Command.set(cls.tax_20.ids)],
            }
        )
        cls.user_billing = cls.env["res.users"].create(
            {
                "name": "Bernard Billing",
                "login": "sub_billing",
                "company_id": cls.company.id,
                "company_ids": [Command.set(cls.company.ids)],
                "groups_id": [
                    Command.set(
                        [
                            cls.env.ref("base.group_user").id,
                            cls.env.ref(
                                "subscription_billing.group_subscription_user"
                            ).id,
                            cls.env.ref("account.group_account_invoice").id,
                        ]
                    )
                ],
            }
        )

    def _metered_contract(
        self, mode="graduated", minimum=0.0, plan_aligned=False, **values
    ):
        """Maintenance at 100.00 a month (fixed) and copies: 1,000 included,
        then 0.05 up to 2,000 billable copies and 0.03 above."""
        values.setdefault("date_start", "2027-01-01")
        values.setdefault("user_id", self.user_billing.id)
        contract = self._create_contract(
            products=self.product_maintenance | self.product_copies, **values
        )
        copies = contract.line_ids.filtered(
            lambda line: line.product_id == self.product_copies
        )
        copies.write(
            {
                "billing_type": "metered",
                "included_quantity": 1000,
                "tier_mode": mode,
                "minimum_amount": minimum,
                "tier_ids": [
                    Command.create({"up_to_quantity": 2000, "price_unit": 0.05}),
                    Command.create({"up_to_quantity": 0, "price_unit": 0.03}),
                ],
            }
        )
        contract.align_to_calendar = plan_aligned
        contract.action_start()
        return contract, copies

    def _record(self, line, *rows, user=None):
        """Record ``(date, quantity, key)`` rows as an integrator does."""
        model = self.env["subscription.usage"].with_user(user or self.user_billing)
        return model.record_usage(
            [
                {
                    "contract_line_id": line.id,
                    "date": date,
                    "quantity": qty,
                    "idempotency_key": key,
                    "description": f"meter {key}",
                }
                for date, qty, key in rows
            ]
        )

    def _usage_lines(self, invoice):
        return invoice.invoice_line_ids.filtered("subscription_usage_line_id")

    def _close_mid_february_and_run_the_daily_usage(self, contract):
        """Bill January, close on February 15th, bill February 1st (two
        invoices), then run the daily usage action twice on the 20th: the
        contract's moves."""
        self._run_cron("2027-01-01")
        with freeze_time("2027-01-20"):
            contract._close(self.close_reason.id, "2027-02-15")
        self._run_cron("2027-02-01")
        self.assertEqual(len(self._invoices(contract)), 2)
        # Nothing left to bill by period: the daily run bills the last days.
        with freeze_time("2027-02-20"):
            self.env["subscription.contract"]._cron_bill_final_usage()
            self.env["subscription.contract"]._cron_bill_final_usage()
        return self.env["account.move"].search(
            [("subscription_contract_id", "=", contract.id)], order="id"
        )

    def _assert_cii_lines_add_up(self, invoice):
        """Each line item of the invoice's CII: quantity x net price is the line
        total (within 0.01); returns the line items."""
        xml, __ = self.env["account.edi.xml.cii"]._export_invoice(invoice)
        items = etree.fromstring(xml).xpath(
            "//*[local-name()='IncludedSupplyChainTradeLineItem']"
        )
        for item in items:

            def value(*names, item=item):
                path = "/".join(f"*[local-name()='{name}']" for name in names)
                return float(item.xpath(f".//{path}")[0].text)

            net = value("NetPriceProductTradePrice", "ChargeAmount")
            self.assertAlmostEqual(
                value("BilledQuantity") * net, value("LineTotalAmount"), delta=0.01
            )
        return items

    def _assert_exact_lines(self, invoice):
        for line in invoice.invoice_line_ids:
            self.assertAlmostEqual(
                line.quantity * line.price_unit, line.price_subtotal, delta=0.01
            )

    def test_usage_billed_with_the_next_period_in_advance(self):
        contract, copies = self._metered_contract()
        self.assertEqual(contract.recurring_amount_untaxed, 100.0)
        self._run_cron("2027-01-01")
        first = self._invoices(contract)
        self.assertEqual(first.amount_untaxed, 100.0)
        self.assertFalse(self._usage_lines(first))
        result = self._record(
            copies,
            ("2027-01-05 10:00:00", 1500, "a"),
            ("2027-01-20 10:00:00", 2000, "b"),
            ("2027-02-03 10:00:00", 10, "c"),  # February: next invoice
        )
        self.assertEqual(result, {"created": 3, "skipped": 0})
        self._run_cron("2027-02-01")
        second = self._invoices(contract) - first
        usage_lines = self._usage_lines(second)
        # 3,500 used, 1,000 included: 2,000 x 0.05 + 500 x 0.03
        self.assertEqual(usage_lines.mapped("quantity"), [2000, 500])
        self.assertEqual(usage_lines.mapped("price_unit"), [0.05, 0.03])
        self.assertEqual(second.amount_untaxed, 100.0 + 100.0 + 15.0)
        self._assert_exact_lines(second)
        head = usage_lines.filtered("subscription_usage_head")
        self.assertEqual(len(head), 1)
        self.assertIn(
            "Usage from 01/01/2027 to 01/31/2027: 3,500.00 Units used, 1,000.00 "
            "included, 2,500.00 billable",
            head.name,
        )
        self.assertIn("Tier 1: billable units 0.00 to 2,000.00", head.name)
        records = copies.usage_ids
        self.assertEqual(
            records.filtered("invoice_line_id").mapped("idempotency_key"), ["b", "a"]
        )
        self.assertEqual(records.filtered("invoice_line_id").invoice_id, second)
        # Rerunning bills nothing twice.
        self._run_cron("2027-02-01")
        self._run_cron("2027-02-15")
        self.assertEqual(len(self._invoices(contract)), 2)

    def test_in_arrears_usage_on_the_first_invoice_after_the_period(self):
        self.plan_monthly.billing_mode = "arrears"
        contract, copies = self._metered_contract()
        self._record(copies, ("2027-01-10 08:00:00", 1200, "a"))
        self._run_cron("2027-01-31")
        january = self._invoices(contract)
        self.assertFalse(self._usage_lines(january), "January is not over yet")
        self._run_cron("2027-02-28")
        february = self._invoices(contract) - january
        self.assertEqual(self._usage_lines(february).mapped("quantity"), [200])
        self.assertAlmostEqual(february.amount_untaxed, 110.0)

    def test_sending_twice_records_once(self):
        contract, copies = self._metered_contract()
        rows = [("2027-01-05 10:00:00", 10, "k1"), ("2027-01-06 10:00:00", 20, "k2")]
        self.assertEqual(self._record(copies, *rows), {"created": 2, "skipped": 0})
        self.assertEqual(self._record(copies, *rows), {"created": 0, "skipped": 2})
        self.assertEqual(len(copies.usage_ids), 2)
        self.assertEqual(sum(copies.usage_ids.mapped("quantity")), 30)

    def test_usage_refused_on_a_fixed_line_or_a_closed_contract(self):
        contract, copies = self._metered_contract()
        fixed = contract.line_ids - copies
        with self.assertRaisesRegex(UserError, "fixed price"):
            self._record(fixed, ("2027-01-05 10:00:00", 1, "x"))
        with self.assertRaisesRegex(UserError, "outside the days"):
            self._record(copies, ("2026-12-31 10:00:00", 1, "x"))
        with freeze_time("2027-01-10"):
            contract.write({"state": "closed", "close_date": D("2027-01-10")})
        with self.assertRaisesRegex(UserError, "active or suspended"):
            self._record(copies, ("2027-01-05 10:00:00", 1, "x"))
        with self.assertRaisesRegex(UserError, "active or suspended"):
            self.env["subscription.usage"].with_user(self.user_billing).create(
                {"contract_line_id": copies.id, "date": "2027-01-05", "quantity": 1}
            )
        self.assertFalse(copies.usage_ids)

    def test_csv_import(self):
        contract, copies = self._metered_contract()
        result = (
            self.env["subscription.usage"]
            .with_user(self.user_billing)
            .load(
                ["contract_line_id/.id", "date", "quantity", "idempotency_key"],
                [
                    [str(copies.id), "2027-01-05 10:00:00", "12", "csv-1"],
                    [str(copies.id), "2027-01-06 10:00:00", "8", "csv-2"],
                ],
            )
        )
        self.assertFalse(result["messages"])
        self.assertEqual(len(result["ids"]), 2)
        self.assertEqual(
            sorted(copies.usage_ids.mapped("usage_date")),
            [D("2027-01-05"), D("2027-01-06")],
        )

    def test_late_record_goes_on_the_next_invoice_with_its_date(self):
        contract, copies = self._metered_contract()
        self._record(copies, ("2027-01-05 10:00:00", 2800, "a"))
        self._run_cron("2027-01-01")
        self._run_cron("2027-02-01")
        # Arrives after January was invoiced.
        self._record(copies, ("2027-01-28 10:00:00", 500, "late"))
        self._run_cron("2027-03-01")
        march = self._invoices(contract)[-1]
        late = self._usage_lines(march).filtered("subscription_usage_late")
        # 1,800 billable before, 2,300 now: 200 more at 0.05, 300 at 0.03
        self.assertEqual(late.mapped("quantity"), [200, 300])
        self.assertIn("recorded late", late[0].name)
        self.assertIn("01/28/2027", late[0].name)
        self.assertEqual(
            copies.usage_ids.filtered(lambda u: u.idempotency_key == "late").invoice_id,
            march,
        )
        self._assert_exact_lines(march)
        self._run_cron("2027-03-01")
        self.assertEqual(len(self._invoices(contract)), 3)

    def test_cancelled_invoice_usage_billed_again_once(self):
        contract, copies = self._metered_contract()
        self._record(copies, ("2027-01-05 10:00:00", 1500, "a"))
        self._run_cron("2027-01-01")
        self._run_cron("2027-02-01")
        february = self._invoices(contract)[-1]
        self.assertEqual(copies.usage_ids.invoice_id, february)
        february.button_draft()
        february.button_cancel()
        self.assertFalse(copies.usage_ids.invoice_line_id)
        with self.assertRaisesRegex(UserError, "set free"):
            february.button_draft()
        self._run_cron("2027-02-02")
        again = self._invoices(contract)[-1]
        self.assertNotEqual(again, february)
        self.assertEqual(self._usage_lines(again).mapped("quantity"), [500])
        self.assertEqual(copies.usage_ids.invoice_id, again)
        self._run_cron("2027-02-03")
        self.assertEqual(len(self._invoices(contract)), 2)

    def test_allowance_and_minimum_prorated_by_the_day(self):
        contract, copies = self._metered_contract(
            minimum=20.0, date_start="2027-01-11", plan_aligned=True
        )
        self._record(copies, ("2027-01-15 10:00:00", 700, "a"))
        self._run_cron("2027-01-11")
        self._run_cron("2027-02-01")
        invoice = self._invoices(contract)[-1]
        lines = self._usage_lines(invoice)
        # 21/31 days: 677.42 included, 22.58 billable at 0.05 = 1.13;
        # minimum 20.00 x 21/31 = 13.55, topped up by 12.42
        self.assertEqual(lines.mapped("quantity"), [22.58, 1.0])
        self.assertAlmostEqual(sum(lines.mapped("price_subtotal")), 13.55)
        self.assertIn("prorated: 21/31 days", lines[0].name)
        self.assertIn("Minimum charge for the period: $\xa013.55", lines[1].name)
        self._assert_exact_lines(invoice)

    def test_volume_tiers_and_nothing_billable(self):
        contract, copies = self._metered_contract(mode="volume")
        self._record(copies, ("2027-01-05 10:00:00", 3500, "a"))
        self._record(copies, ("2027-02-05 10:00:00", 800, "b"))
        self._run_cron("2027-01-01")
        self._run_cron("2027-02-01")
        self._run_cron("2027-03-01")
        february, march = self._invoices(contract)[1:]
        self.assertEqual(
            [(ln.quantity, ln.price_unit) for ln in self._usage_lines(february)],
            [(2500, 0.03)],
        )
        head = self._usage_lines(march)
        self.assertEqual(head.quantity, 0)
        self.assertIn("Nothing to pay beyond the allowance", head.name)

    def test_batch_tier_read_orders_as_the_line(self):
        """Billing reads the tiers of a batch in one query: the same tiers, in
        the same order (the open-ended tier last), as each line reads them."""
        __, copies = self._metered_contract()
        __, other = self._metered_contract(
            mode="volume",
            partner=self.env["res.partner"].create({"name": "Imprimerie Roux"}),
        )
        other.tier_ids = [
            Command.clear(),
            Command.create({"up_to_quantity": 0, "price_unit": 0.01}),
            Command.create({"up_to_quantity": 500, "price_unit": 0.04}),
            Command.create({"up_to_quantity": 100, "price_unit": 0.06}),
        ]
        lines = copies | other
        with self.assertQueryCount(1):
            tiers = lines._read_tiers()
        self.assertEqual(tiers[copies.id], [(2000, 0.05), (None, 0.03)])
        self.assertEqual(tiers[other.id], [(100, 0.06), (500, 0.04), (None, 0.01)])
        self.assertEqual(tiers, {line.id: line._get_tiers() for line in lines})

    def test_amended_terms_apply_by_the_day_and_usage_follows_the_version(self):
        """Amending the allowance and a tier on February 15th ends the line on
        the 14th and continues it with the new terms; the integrator keeps
        sending usage to the line id it knows, each record lands on the version
        in force on its day, and February is billed per version by the day."""
        self.user_billing.email = "bernard.billing@example.com"
        contract, copies = self._metered_contract()
        self._run_cron("2027-01-01")
        first_tier = copies.tier_ids.filtered(lambda t: t.up_to_quantity == 2000)
        # Recorded on the morning of the amendment day, before the change.
        self._record(copies, ("2027-02-15 08:00:00", 200, "morning"))
        with freeze_time("2027-02-15"):
            contract.with_context(subscription_amendment_date="2027-02-15").with_user(
                self.user_billing
            ).line_ids.filtered(lambda line: line == copies).write(
                {
                    "included_quantity": 2000,
                    "tier_ids": [Command.update(first_tier.id, {"price_unit": 0.04})],
                }
            )
        new = contract.line_ids.filtered(lambda line: line.previous_line_id == copies)
        self.assertEqual(copies.date_end, D("2027-02-14"))
        self.assertEqual(
            (new.billing_type, new.included_quantity, new.date_start),
            ("metered", 2000, D("2027-02-15")),
        )
        self.assertEqual(new._get_tiers(), [(2000, 0.04), (None, 0.03)])
        self.assertEqual(copies._get_tiers(), [(2000, 0.05), (None, 0.03)])
        self.assertIn(
            "included per period 1,000.00 → 2,000.00",
            contract.message_ids[0].body.lower(),
        )
        self.assertIn("up to 2,000.00: 0.04", contract.message_ids[0].body)
        # Sent to the old id after the change, to the new id before it.
        self._record(copies, ("2027-02-20 10:00:00", 1500, "after"))
        self._record(new, ("2027-02-05 10:00:00", 1000, "before"))
        # And through the ORM (CSV import, integrators' Python).
        self.env["subscription.usage"].with_user(self.user_billing).create(
            {
                "contract_line_id": copies.id,
                "date": "2027-02-21 10:00:00",
                "quantity": 100,
                "idempotency_key": "orm",
            }
        )
        usage = self.env["subscription.usage"].search(
            [("contract_id", "=", contract.id)]
        )
        self.assertEqual(
            {u.idempotency_key: u.contract_line_id for u in usage},
            {"morning": new, "after": new, "before": copies, "orm": new},
        )
        # The same record sent again is still recorded once.
        self.assertEqual(
            self._record(copies, ("2027-02-20 10:00:00", 1500, "after"))["skipped"], 1
        )
        self._run_cron("2027-02-01")
        self._run_cron("2027-03-01")
        march = self._invoices(contract)[-1]
        heads = self._usage_lines(march).filtered("subscription_usage_head")
        self.assertEqual(
            [
                (h.subscription_usage_line_id, h.subscription_usage_used)
                for h in heads.sorted("subscription_usage_start")
            ],
            [(copies, 1000), (new, 1800)],
        )
        old_lines = self._usage_lines(march).filtered(
            lambda ln: ln.subscription_usage_line_id == copies
        )
        # 14 days of 28: 500 included, 500 billable at 0.05.
        self.assertIn("500.00 included, 500.00 billable", old_lines[0].name)
        self.assertEqual(sum(old_lines.mapped("price_subtotal")), 25.0)
        new_lines = self._usage_lines(march) - old_lines
        # 14 days of 28: 1,000 included, 800 billable at the new 0.04.
        self.assertIn("1,000.00 included, 800.00 billable", new_lines[0].name)
        self.assertEqual(sum(new_lines.mapped("price_subtotal")), 32.0)
        self.assertFalse(
            self.env["subscription.usage"].search_count(
                [("contract_id", "=", contract.id), ("invoice_line_id", "=", False)]
            )
        )
        self._assert_exact_lines(march)

    def test_fixed_line_made_metered_from_the_amendment_date(self):
        """A running fixed line made metered on February 15th: billed as fixed
        until the 14th, metered from the 15th, where its usage goes."""
        self.user_billing.email = "bernard.billing@example.com"
        contract = self._create_contract(
            products=self.product_maintenance | self.product_copies,
            user_id=self.user_billing.id,
        )
        contract.action_start()
        copies = contract.line_ids.filtered(
            lambda line: line.product_id == self.product_copies
        )
        self._run_cron("2027-01-01")
        with freeze_time("2027-02-15"):
            contract.with_context(subscription_amendment_date="2027-02-15").with_user(
                self.user_billing
            ).line_ids.filtered(lambda line: line == copies).write(
                {"billing_type": "metered", "included_quantity": 500}
            )
        new = contract.line_ids.filtered(lambda line: line.previous_line_id == copies)
        self.assertEqual(
            (copies.billing_type, copies.date_end), ("fixed", D("2027-02-14"))
        )
        self.assertEqual((new.billing_type, new.included_quantity), ("metered", 500))
        self._record(copies, ("2027-02-20 10:00:00", 800, "after"))
        self.assertEqual(new.usage_ids.mapped("quantity"), [800])
        with self.assertRaisesRegex(UserError, "fixed price"):
            self._record(copies, ("2027-02-10 10:00:00", 5, "before"))

    def test_line_discount_applies_to_the_usage_and_the_minimum(self):
        """A 10 % discount on the metered line: every line it bills, the top-up
        to the minimum too, is 10 % off, on the PDF's lines and in the CII
        (quantity x net price = line total); the amount so far says the same."""
        contract, copies = self._metered_contract(minimum=150.0)
        copies.discount = 10
        self._record(copies, ("2027-01-05 10:00:00", 3517, "a"))
        with freeze_time("2027-01-20"):
            copies.invalidate_recordset(["current_usage_amount"])
            # 100.00 + 15.51 + the top-up 34.49, each less 10 %
            self.assertAlmostEqual(copies.current_usage_amount, 90.0 + 13.96 + 31.04)
        self._run_cron("2027-01-01")
        self._run_cron("2027-02-01")
        invoice = self._invoices(contract)[-1]
        lines = self._usage_lines(invoice)
        self.assertEqual(lines.mapped("discount"), [10.0, 10.0, 10.0])
        self.assertEqual(lines.mapped("price_subtotal"), [90.0, 13.96, 31.04])
        self.assertAlmostEqual(invoice.amount_untaxed, 100.0 + 135.0)
        self.assertEqual(len(self._assert_cii_lines_add_up(invoice)), 4)

    def test_preview_and_form_show_the_current_usage(self):
        contract, copies = self._metered_contract()
        self._record(copies, ("2027-01-05 10:00:00", 1500, "a"))
        with freeze_time("2027-01-15"):
            copies.invalidate_recordset(["current_usage_quantity"])
            self.assertEqual(copies.current_usage_quantity, 1500)
            self.assertEqual(copies.current_usage_amount, 25.0)
            message = contract.with_user(
                self.user_billing
            ).action_preview_next_invoice()["params"]["message"]
        self.assertIn("Copies: 1,500.00 used this period so far", message)
        self.assertIn("$\xa025.00 untaxed", message)

    def test_last_days_of_a_closed_contract_billed_once(self):
        contract, copies = self._metered_contract()
        self._record(
            copies,
            ("2027-01-05 10:00:00", 1500, "jan"),
            ("2027-02-10 10:00:00", 1200, "feb"),
        )
        moves = self._close_mid_february_and_run_the_daily_usage(contract)
        self.assertFalse(contract.next_invoice_date)
        final = moves[-1]
        self.assertEqual(len(moves), 3)
        self.assertFalse(final.subscription_period_start)
        lines = self._usage_lines(final)
        # 15/28 days: 535.71 included, 664.29 billable at 0.05
        self.assertEqual(lines.mapped("quantity"), [664.29])
        self.assertIn("Usage from 02/01/2027 to 02/15/2027", lines.name)
        self.assertEqual(copies.usage_ids.filtered("invoice_line_id"), copies.usage_ids)
        self.assertEqual(
            copies.usage_ids.filtered(lambda u: u.idempotency_key == "feb").invoice_id,
            final,
        )

    def test_minimum_of_the_last_days_billed_with_no_usage(self):
        """Closed on February 15th with nothing used in February: the minimum of
        its 15 days is still billed, once, by the daily run."""
        contract, copies = self._metered_contract(minimum=28.0)
        self._record(copies, ("2027-01-05 10:00:00", 1500, "jan"))
        moves = self._close_mid_february_and_run_the_daily_usage(contract)
        self.assertEqual(len(moves), 3)
        lines = self._usage_lines(moves[-1])
        # 15/28 of 28.00
        self.assertEqual(lines.mapped("price_subtotal"), [15.0])
        self.assertIn("Minimum charge for the period", lines.name)
        self.assertIn("Usage from 02/01/2027 to 02/15/2027", lines.name)
        # Long after, nothing more.
        with freeze_time("2027-03-20"):
            self.env["subscription.contract"]._cron_bill_final_usage()
        self.assertEqual(
            self.env["account.move"].search_count(
                [("subscription_contract_id", "=", contract.id)]
            ),
            3,
        )

    def test_usage_lines_in_the_cii_add_up(self):
        """Each tier line of the Factur-X (CII): quantity x net price is the
        line total, exactly."""
        contract, copies = self._metered_contract(minimum=150.0)
        self._record(copies, ("2027-01-05 10:00:00", 3517, "a"))
        self._run_cron("2027-01-01")
        self._run_cron("2027-02-01")
        invoice = self._invoices(contract)[-1]
        # Maintenance, tier 1 (2,000 x 0.05), tier 2 (517 x 0.03), minimum top-up
        self.assertEqual(len(self._assert_cii_lines_add_up(invoice)), 4)
        # 100.00 + 15.51 = 115.51, topped up to the minimum of 150.00
        self.assertAlmostEqual(invoice.amount_untaxed, 100.0 + 150.0)
