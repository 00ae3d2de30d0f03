from odoo import Command
from odoo.tests import new_test_user, tagged

from .common import SubscriptionCommon


@tagged("post_install", "-at_install")
class TestForecast(SubscriptionCommon):
    """What the running contracts will bill in 2027, by hand:

    - K1 monthly from January, 100, renewed tacitly on 1 January 2028 with
      a 10 % increase; 30 of hosting added from 1 April (dated amendment):
      100 in January to March, 130 from April, 143 in January 2028;
    - K2 quarterly from February, 300: February, May, August, November;
    - K3 yearly from March, 1,200 (another customer);
    - K4 monthly from January, 40, 6-month commitment not renewed: January
      to June only (a third customer).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_customer = cls.env["res.partner"].create({"name": "Fromagerie"})
        cls.third_customer = cls.env["res.partner"].create({"name": "Cave"})
        cls.manager = new_test_user(
            cls.env,
            login="sub_forecast_manager",
            groups="base.group_user,subscription_billing.group_subscription_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )

    def _contract(self, plan, price, start, partner=None, **values):
        contract = self._create_contract(
            plan=plan,
            partner=partner,
            date_start=start,
            line_ids=[
                Command.create(
                    {"product_id": self.product_maintenance.id, "price_unit": price}
                )
            ],
            **values,
        )
        contract.action_start()
        return contract

    def test_forecast_per_month_plan_and_customer(self):
        k1 = self._contract(
            self.plan_monthly, 100, "2027-01-01", renewal_price_increase=10.0
        )
        k1.line_ids = [
            Command.create(
                {
                    "product_id": self.product_hosting.id,
                    "price_unit": 30,
                    "date_start": "2027-04-01",
                }
            )
        ]
        k2 = self._contract(self.plan_quarterly, 300, "2027-02-01")
        k3 = self._contract(
            self.plan_yearly, 1200, "2027-03-01", partner=self.other_customer
        )
        k4 = self._contract(
            self.plan_monthly,
            40,
            "2027-01-01",
            partner=self.third_customer,
            commitment_length=6,
            commitment_unit="month",
            auto_renew=False,
        )
        self.env.flush_all()
        Forecast = self.env["subscription.forecast"].with_user(self.manager)
        domain = [
            ("contract_id", "in", (k1 | k2 | k3 | k4).ids),
            ("date", ">=", "2027-01-01"),
            ("date", "<", "2028-02-01"),
        ]
        per_month = {
            month.strftime("%Y-%m"): amount
            for month, amount in Forecast._read_group(
                domain, ["date:month"], ["amount:sum"]
            )
        }
        self.assertEqual(
            list(per_month.values()),
            [140, 440, 1340, 170, 470, 170, 130, 430, 130, 130, 430, 130, 143],
        )
        self.assertEqual(per_month["2028-01"], 143)
        year = domain[:2] + [("date", "<", "2028-01-01")]
        per_plan = dict(Forecast._read_group(year, ["plan_id"], ["amount:sum"]))
        self.assertEqual(per_plan[self.plan_monthly], 300 + 9 * 130 + 6 * 40)
        self.assertEqual(per_plan[self.plan_quarterly], 1200)
        self.assertEqual(per_plan[self.plan_yearly], 1200)
        per_customer = dict(Forecast._read_group(year, ["partner_id"], ["amount:sum"]))
        self.assertEqual(per_customer[self.other_customer], 1200)
        self.assertEqual(per_customer[self.customer], 300 + 9 * 130 + 1200)
        self.assertEqual(per_customer[self.third_customer], 6 * 40)
        # One row per invoice to come, with its period and renewals.
        k1_rows = Forecast.search([("contract_id", "=", k1.id)] + domain[1:])
        self.assertEqual(len(k1_rows), 13)
        renewed = k1_rows.filtered("renewals")
        self.assertEqual(
            [
                (r.period_start.isoformat(), r.period_end.isoformat(), r.amount)
                for r in renewed
            ],
            [("2028-01-01", "2028-01-31", 143)],
        )
        k4_rows = Forecast.search([("contract_id", "=", k4.id)])
        self.assertEqual(max(k4_rows.mapped("period_end")).isoformat(), "2027-06-30")
        self.assertEqual(len(k4_rows), 6)
