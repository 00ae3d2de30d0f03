from odoo import Command, fields
from odoo.tests import new_test_user, tagged

from .common import SubscriptionCommon

D = fields.Date.to_date


@tagged("post_install", "-at_install")
class TestRevenueRecognition(SubscriptionCommon):
    """Two invoice lines, by hand:

    - a year billed on 1 July 2025 for 1 July 2025 - 30 June 2026 (365 days),
      1,200 on the income account: 101.92 earned in July (31 days);
    - a month billed on 16 December 2025 for 16 December - 15 January
      (31 days), 100 on a second income account: 51.61 earned in December,
      48.39 in January.

    At a closing on 31 December 2025, 181 days of the year are billed ahead
    (1200 x 181 / 365 = 595.07) and 15 days of the month (100 x 15 / 31 =
    48.39): 643.46 of deferred revenue.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accountant = new_test_user(
            cls.env,
            login="sub_accountant",
            groups="base.group_user,account.group_account_manager,"
            "subscription_billing.group_subscription_user",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.income = cls.company_data["default_account_revenue"]
        cls.income_hosting = cls.income.copy({"code": "706100"})
        cls.deferred = cls.env["account.account"].create(
            {
                "code": "487000",
                "name": "Produits constatés d'avance",
                "account_type": "liability_current",
            }
        )
        cls.contract = cls._create_contract(date_start="2025-07-01")
        cls.year = cls._period_invoice(
            "2025-07-01", "2025-07-01", "2026-06-30", 1200, cls.income
        )
        cls.month = cls._period_invoice(
            "2025-12-16", "2025-12-16", "2026-01-15", 100, cls.income_hosting
        )

    @classmethod
    def _period_invoice(cls, day, date_from, date_to, price, account):
        move = cls.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": cls.customer.id,
                "subscription_contract_id": cls.contract.id,
                "invoice_date": day,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": cls.product_maintenance.id,
                            "price_unit": price,
                            "account_id": account.id,
                            "subscription_date_from": date_from,
                            "subscription_date_to": date_to,
                        }
                    )
                ],
            }
        )
        move.action_post()
        return move

    def assertEntryLines(self, move, expected):
        """The lines of ``move`` as (account code, debit, credit), in any order."""
        self.assertEqual(
            sorted(
                (line.account_id.code, line.debit, line.credit)
                for line in move.line_ids
            ),
            sorted(expected),
        )

    def test_billed_and_earned_per_month(self):
        Revenue = self.env["subscription.revenue"].with_user(self.accountant)
        domain = [("move_id", "in", (self.year | self.month).ids)]
        per_month = {
            month.strftime("%Y-%m"): (billed, earned)
            for month, billed, earned in Revenue._read_group(
                domain, ["date:month"], ["billed:sum", "earned:sum"]
            )
        }
        self.assertEqual(len(per_month), 12)
        self.assertEqual(per_month["2025-07"], (1200, 101.92))
        # December: the month billed, 16 days of it and 31 days of the year.
        self.assertAlmostEqual(per_month["2025-12"][0], 100)
        self.assertAlmostEqual(
            per_month["2025-12"][1],
            51.61 + round(1200 * 184 / 365 - 1200 * 153 / 365, 2),
        )
        month_rows = Revenue.search([("move_id", "=", self.month.id)])
        self.assertEqual(
            [(r.date, r.billed, r.earned) for r in month_rows.sorted("date")],
            [(D("2025-12-01"), 100, 51.61), (D("2026-01-01"), 0, 48.39)],
        )
        # Every period is earned in full, cent for cent.
        year_rows = Revenue.search([("move_id", "=", self.year.id)])
        self.assertAlmostEqual(sum(year_rows.mapped("earned")), 1200)
        self.assertAlmostEqual(sum(year_rows.mapped("billed")), 1200)

    def test_cutoff_entries(self):
        wizard = (
            self.env["subscription.revenue.cutoff"]
            .with_user(self.accountant)
            .create({"date": "2025-12-31"})
        )
        self.assertEqual(wizard.deferred_account_id, self.deferred)
        self.assertEqual(
            {line.account_id: line.amount for line in wizard.line_ids},
            {self.income: 595.07, self.income_hosting: 48.39},
        )
        self.assertAlmostEqual(wizard.amount_total, 643.46)
        action = wizard.action_post()
        moves = self.env["account.move"].search(action["domain"], order="date")
        self.assertEqual(moves.mapped("date"), [D("2025-12-31"), D("2026-01-01")])
        self.assertEqual(moves.mapped("state"), ["posted", "posted"])
        entry, reversal = moves
        self.assertEntryLines(
            entry,
            [
                (self.income.code, 595.07, 0),
                (self.income_hosting.code, 48.39, 0),
                ("487000", 0, 643.46),
            ],
        )
        self.assertEqual(reversal.reversed_entry_id, entry)
        self.assertEntryLines(
            reversal,
            [
                (self.income.code, 0, 595.07),
                (self.income_hosting.code, 0, 48.39),
                ("487000", 643.46, 0),
            ],
        )

    def test_nothing_to_defer(self):
        wizard = (
            self.env["subscription.revenue.cutoff"]
            .with_user(self.accountant)
            .create({"date": "2026-06-30"})
        )
        self.assertFalse(wizard.line_ids)
        with self.assertRaisesRegex(Exception, "nothing to defer"):
            wizard.action_post()
