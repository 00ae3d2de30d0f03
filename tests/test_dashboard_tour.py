from odoo import Command, fields
from odoo.tests import HttpCase, new_test_user, tagged

from .common import SubscriptionCommon


@tagged("post_install", "-at_install")
class TestDashboardTour(SubscriptionCommon, HttpCase):
    def test_manager_opens_the_dashboard_and_a_figure(self):
        manager = new_test_user(
            self.env,
            login="sub_dash_tour",
            password="sub_dash_tour",
            groups="base.group_user,account.group_account_invoice,"
            "subscription_billing.group_subscription_manager",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        customer = self.env["res.partner"].create({"name": "Dashboard Customer"})
        contract = self.env["subscription.contract"].create(
            {
                "partner_id": customer.id,
                "plan_id": self.plan_monthly.id,
                "date_start": fields.Date.today().replace(day=1),
                "line_ids": [
                    Command.create(
                        {"product_id": self.product_maintenance.id, "price_unit": 250}
                    )
                ],
            }
        )
        contract.action_start()
        self.start_tour(
            "/odoo/action-subscription_billing.subscription_dashboard_action",
            "subscription_dashboard_tour",
            login=manager.login,
        )
