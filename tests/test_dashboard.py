from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import SubscriptionCommon

D = fields.Date.to_date


@tagged("post_install", "-at_install")
class TestDashboard(SubscriptionCommon):
    """A year of MRR movements (2025), computed by hand:

    ====  ========  =====  ===============================================
    key   customer  plan   lines (monthly price unless yearly)
    ====  ========  =====  ===============================================
    A     Alpha     month  100 from 10/01/2025
    B     Beta      month  200 from 01/02; +50 from 01/05 (expansion)
    C     Gamma     month  300 from 01/03 to 31/08, then 120 (contraction
                           -180 in September); suspended now
    D     Delta     month  80 from 01/01, closed 10/06 (churn -80 in June)
    E     Delta     month  90 from 01/10 (Delta comes back: reactivation)
    F     Epsilon   month  60 from 01/11/2024, closed 05/12 (churn -60)
    G     Zeta      month  40 from 01/12 (new)
    H     Eta       year   1200 from 01/12/2024 (MRR 100); +240 a year
                           from 01/07 (expansion +20)
    ====  ========  =====  ===============================================

    MRR at the end of each month: Dec 2024 160, Jan 340, Feb 540, Mar 840,
    Apr 840, May 890, Jun 810, Jul 830, Aug 830, Sep 650, Oct 740, Nov 740,
    Dec 720.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        names = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta", "Eta"]
        cls.customers = {name: Partner.create({"name": name}) for name in names}
        cls.manager = new_test_user(
            cls.env,
            login="sub_dash_manager",
            groups="base.group_user,account.group_account_invoice,"
            "subscription_billing.group_subscription_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )

        def contract(customer, start, lines, plan=None, state="active", close=None):
            record = cls.env["subscription.contract"].create(
                {
                    "partner_id": cls.customers[customer].id,
                    "plan_id": (plan or cls.plan_monthly).id,
                    "date_start": start,
                    "line_ids": [
                        Command.create(
                            {
                                "product_id": cls.product_maintenance.id,
                                "price_unit": price,
                                "date_start": line_start,
                                "date_end": line_end,
                            }
                        )
                        for price, line_start, line_end in lines
                    ],
                }
            )
            record.write({"state": state, "close_date": close})
            return record

        cls.a = contract("Alpha", "2025-01-10", [(100, False, False)])
        cls.b = contract("Beta", "2025-02-01", [(200, False, False)])
        cls.b.line_ids = [
            Command.create(
                {
                    "product_id": cls.product_hosting.id,
                    "price_unit": 50,
                    "date_start": "2025-05-01",
                }
            )
        ]
        cls.b.write({"auto_renew": False, "date_end": "2026-02-28"})
        cls.c = contract(
            "Gamma",
            "2025-03-01",
            [(300, False, "2025-08-31"), (120, "2025-09-01", False)],
            state="suspended",
        )
        cls.d = contract("Delta", "2025-01-01", [(80, False, False)], state="closed")
        cls.d.close_date = "2025-06-10"
        cls.e = contract("Delta", "2025-10-01", [(90, False, False)])
        cls.f = contract("Epsilon", "2024-11-01", [(60, False, False)], state="closed")
        cls.f.close_date = "2025-12-05"
        cls.g = contract("Zeta", "2025-12-01", [(40, False, False)])
        cls.h = contract(
            "Eta",
            "2024-12-01",
            [(1200, False, False), (240, "2025-07-01", False)],
            plan=cls.plan_yearly,
        )
        cls.env.flush_all()
        cls.dashboard = cls.env["subscription.dashboard"].with_user(cls.manager)

    def _data(self):
        with freeze_time("2025-12-20"):
            return self.dashboard.get_dashboard_data("2025-12-01")

    def _opened(self, figure):
        """The records the figure opens, read as the manager."""
        with freeze_time("2025-12-20"):
            action = self.dashboard.get_figure_action(figure, "2025-12-01")
        return (
            self.env[action["res_model"]]
            .with_user(self.manager)
            .search(action["domain"])
        )

    def test_mrr_series(self):
        series = self._data()["series"]
        self.assertEqual(len(series), 24)
        self.assertEqual(series[0]["month"], "2024-01-01")
        self.assertEqual(series[-1]["month"], "2025-12-01")
        self.assertEqual(
            [entry["mrr"] for entry in series[11:]],
            [160, 340, 540, 840, 840, 890, 810, 830, 830, 650, 740, 740, 720],
        )
        self.assertEqual(series[-1]["arr"], 8640)
        self.assertEqual(series[10]["mrr"], 60)
        july = series[18]
        self.assertEqual(july["month"], "2025-07-01")
        self.assertEqual(july["expansion"], 20)
        self.assertEqual(series[20]["contraction"], -180)
        self.assertEqual(series[21]["reactivation"], 90)
        self.assertEqual(series[17]["churn"], -80)

    def test_mrr_is_the_sum_of_its_movements(self):
        figures = self._data()["figures"]
        self.assertEqual(figures["mrr"], 720)
        self.assertEqual(figures["arr"], 8640)
        movements = self._opened("mrr")
        self.assertEqual(sum(movements.mapped("amount")), 720)
        self.assertEqual(sum(self._opened("arr").mapped("amount")) * 12, 8640)

    def test_month_movements(self):
        figures = self._data()["figures"]
        expected = {
            "new": 40,
            "expansion": 0,
            "contraction": 0,
            "churn": -60,
            "reactivation": 0,
            "net_change": -20,
        }
        for figure, amount in expected.items():
            self.assertEqual(figures[figure], amount, figure)
            self.assertEqual(sum(self._opened(figure).mapped("amount")), amount)
        self.assertEqual(self._opened("new").contract_id, self.g)
        self.assertEqual(self._opened("churn").contract_id, self.f)
        reactivation = self.env["subscription.mrr.movement"].search(
            [("movement", "=", "reactivation")]
        )
        self.assertEqual(reactivation.contract_id, self.e)
        self.assertEqual(reactivation.date, D("2025-10-01"))

    def test_churn_rates(self):
        figures = self._data()["figures"]
        # Customers paying at the end of November: Alpha, Beta, Gamma, Delta,
        # Epsilon, Eta; Epsilon left in December.
        self.assertEqual(figures["customers_before"], 6)
        self.assertEqual(figures["churned_customers"], 1)
        self.assertAlmostEqual(figures["logo_churn"], 100 / 6)
        self.assertEqual(
            self._opened("logo_churn"), self.customers["Epsilon"].commercial_partner_id
        )
        # 60 lost over the 740 of the end of November.
        self.assertAlmostEqual(figures["revenue_churn"], 60 / 740 * 100)
        lost = -sum(self._opened("revenue_churn").mapped("amount"))
        self.assertAlmostEqual(lost / 740 * 100, figures["revenue_churn"])

    def test_revenue_retention(self):
        figures = self._data()["figures"]
        # Running at the end of December 2024: F (60) and H (100); since then
        # F churned (-60) and H grew (+20).
        self.assertEqual(figures["retention_base"], 160)
        self.assertAlmostEqual(figures["nrr"], 75.0)
        self.assertAlmostEqual(figures["grr"], 62.5)
        net = sum(self._opened("nrr").mapped("amount"))
        self.assertEqual(net, -40)
        self.assertAlmostEqual((160 + net) / 160 * 100, figures["nrr"])
        loss = sum(self._opened("grr").mapped("amount"))
        self.assertEqual(loss, -60)
        self.assertAlmostEqual((160 + loss) / 160 * 100, figures["grr"])

    def test_arpa(self):
        figures = self._data()["figures"]
        # 720 over Alpha, Beta, Gamma, Delta, Zeta and Eta.
        self.assertEqual(figures["customers"], 6)
        self.assertEqual(figures["arpa"], 120)
        customers = self._opened("arpa")
        self.assertEqual(sum(customers.mapped("amount")), 720)
        self.assertEqual(len(self._opened("customers")), 6)

    def test_contract_counts(self):
        figures = self._data()["figures"]
        self.assertEqual(figures["running"], 5)
        self.assertEqual(figures["suspended"], 1)
        # B ends on 28 February 2026 without tacit renewal.
        self.assertEqual(figures["ending"], 1)
        self.assertEqual(len(self._opened("running")), 5)
        self.assertEqual(self._opened("suspended"), self.c)
        self.assertEqual(self._opened("ending"), self.b)

    def _invoice(self, contract, day, due, price):
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": contract.partner_id.id,
                "subscription_contract_id": contract.id,
                "invoice_date": day,
                "invoice_date_due": due,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_maintenance.id,
                            "price_unit": price,
                            "tax_ids": [Command.set(self.tax_20.ids)],
                        }
                    )
                ],
            }
        )
        move.action_post()
        return move

    def test_overdue_and_dso(self):
        self._invoice(self.a, "2025-11-01", "2025-11-15", 100)  # 120 overdue
        self._invoice(self.b, "2025-12-01", "2025-12-31", 200)  # 240 not due
        partly_paid = self._invoice(self.c, "2025-10-01", "2025-10-31", 300)
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=partly_paid.ids
        ).create({"amount": 100, "payment_date": "2025-11-05"})._create_payments()
        self._invoice(self.f, "2025-08-01", "2025-08-31", 50)  # 60 overdue
        paid = self._invoice(self.a, "2025-12-01", "2025-12-15", 100)
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=paid.ids
        ).create({"payment_date": "2025-12-10"})._create_payments()
        figures = self._data()["figures"]
        # Overdue: 120 + (360 - 100) + 60; open: that and the 240 not due.
        self.assertEqual(figures["overdue"], 440)
        self.assertEqual(figures["receivable"], 680)
        # Billed over the last 90 days: 120 + 240 + 360 + 120 = 840.
        self.assertAlmostEqual(figures["dso"], 680 / 840 * 90)
        overdue = self._opened("overdue")
        self.assertEqual(sum(overdue.mapped("amount_residual_signed")), 440)
        self.assertEqual(len(overdue), 3)
        self.assertEqual(sum(self._opened("dso").mapped("amount_residual_signed")), 680)

    def test_other_currency_and_company(self):
        """A contract in another currency counts at its rate; another
        company's contracts only when that company is allowed."""
        other = self.setup_other_company(name="Dash Other Co")["company"]
        eur = self.setup_other_currency("EUR", rates=[("2025-01-01", 2.0)])
        journal = self.env["account.journal"].create(
            {
                "name": "Sales EUR",
                "code": "SEUR",
                "type": "sale",
                "currency_id": eur.id,
                "company_id": self.company.id,
            }
        )
        contract = self.env["subscription.contract"].create(
            {
                "partner_id": self.customers["Alpha"].id,
                "plan_id": self.plan_monthly.id,
                "date_start": "2025-12-01",
                "journal_id": journal.id,
                "currency_id": eur.id,
                "line_ids": [
                    Command.create(
                        {"product_id": self.product_maintenance.id, "price_unit": 100}
                    )
                ],
            }
        )
        contract.state = "active"
        foreign = self.env["subscription.contract"].create(
            {
                "partner_id": self.customers["Alpha"].id,
                "plan_id": self.plan_yearly.id,
                "company_id": other.id,
                "date_start": "2025-12-01",
                "line_ids": [
                    Command.create(
                        {"product_id": self.product_maintenance.id, "price_unit": 1200}
                    )
                ],
            }
        )
        foreign.state = "active"
        self.env.flush_all()
        figures = self._data()["figures"]
        # 100 EUR at 2 EUR per dollar: 50 more than 720.
        self.assertEqual(figures["mrr"], 770)
        self.assertEqual(figures["new"], 90)
        both = self.env["subscription.dashboard"].with_context(
            allowed_company_ids=[self.company.id, other.id]
        )
        with freeze_time("2025-12-20"):
            figures = both.get_dashboard_data("2025-12-01")["figures"]
        self.assertEqual(figures["mrr"], 870)

    def test_cohorts(self):
        with freeze_time("2025-12-20"):
            cohorts = self.dashboard.get_cohort_data("2025-12-01")
        rows = {row["cohort"]: row for row in cohorts["rows"]}
        # F and H started before 2025; Delta's comeback (E) is October's.
        self.assertEqual(
            list(rows),
            ["2025-01-01", "2025-02-01", "2025-03-01", "2025-10-01", "2025-12-01"],
        )
        january = rows["2025-01-01"]
        self.assertEqual((january["contracts"], january["mrr"]), (2, 180))
        self.assertEqual(len(january["cells"]), 12)
        # D churned in June (month 5): A alone is left.
        self.assertEqual(january["cells"][4]["contract_rate"], 100)
        self.assertEqual(january["cells"][5]["contracts"], 1)
        self.assertEqual(january["cells"][5]["contract_rate"], 50)
        self.assertAlmostEqual(january["cells"][5]["mrr_rate"], 100 / 180 * 100)
        # B grew by 50 in May (month 3), C fell to 120 in September (month 6).
        self.assertEqual(rows["2025-02-01"]["cells"][3]["mrr_rate"], 125)
        self.assertEqual(rows["2025-03-01"]["cells"][6]["mrr_rate"], 40)
        self.assertEqual(len(rows["2025-12-01"]["cells"]), 1)
        action = self.dashboard.get_cohort_action("2025-01-01")
        contracts = self.env["subscription.contract"].search(action["domain"])
        self.assertEqual(contracts, self.a | self.d)
        self.assertEqual(sum(contracts.mapped("line_ids.price_subtotal")), 180)

    def test_only_subscription_managers(self):
        """The dashboard is the managers': a salesperson is refused, with
        Odoo's access message, rather than shown a part of it."""
        with self.assertRaises(AccessError):
            self.env["subscription.dashboard"].with_user(
                self.user_sales
            ).get_dashboard_data("2025-12-01")
        menu = self.env.ref("subscription_billing.subscription_dashboard_menu")
        self.assertFalse(menu.with_user(self.user_sales)._filter_visible_menus())
        self.assertTrue(menu.with_user(self.manager)._filter_visible_menus())
