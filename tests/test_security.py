from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import SubscriptionCommon


@tagged("post_install", "-at_install")
class TestSecurity(SubscriptionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.team = cls.env["crm.team"].create(
            {"name": "Team Ouest", "company_id": cls.company.id}
        )
        cls.user_teammate = new_test_user(
            cls.env,
            login="sub_teammate",
            name="Thomas Teammate",
            groups="base.group_user,subscription_billing.group_subscription_user",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.env["crm.team.member"].create(
            [
                {"crm_team_id": cls.team.id, "user_id": cls.user_sales.id},
                {"crm_team_id": cls.team.id, "user_id": cls.user_teammate.id},
            ]
        )
        cls.user_employee = new_test_user(
            cls.env,
            login="plain_employee",
            groups="base.group_user",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )

    def test_user_creates_and_starts_own_contract(self):
        contract_model = self.env["subscription.contract"].with_user(self.user_sales)
        contract = contract_model.create(
            {
                "partner_id": self.customer.id,
                "plan_id": self.plan_monthly.id,
                "date_start": "2027-01-01",
                "line_ids": [(0, 0, {"product_id": self.product_maintenance.id})],
            }
        )
        self.assertEqual(contract.user_id, self.user_sales)
        contract.action_start()
        self.assertEqual(contract.state, "active")

    def test_user_sees_own_and_team_contracts_only(self):
        own = self._create_contract(user_id=self.user_sales.id)
        teammate = self._create_contract(
            user_id=self.user_teammate.id, plan=self.plan_yearly
        )
        stranger = self._create_contract(
            user_id=self.user_other_sales.id, plan=self.plan_quarterly
        )
        self.assertEqual(teammate.team_id, self.team)
        visible = (
            self.env["subscription.contract"]
            .with_user(self.user_sales)
            .search([("id", "in", (own | teammate | stranger).ids)])
        )
        self.assertEqual(visible, own | teammate)
        with self.assertRaises(AccessError):
            stranger.with_user(self.user_sales).read(["name"])
        with self.assertRaises(AccessError):
            stranger.line_ids.with_user(self.user_sales).read(["name"])

    def test_manager_sees_every_contract(self):
        stranger = self._create_contract(user_id=self.user_other_sales.id)
        self.assertEqual(
            stranger.with_user(self.user_manager).read(["name"])[0]["name"],
            stranger.name,
        )

    def test_user_cannot_configure(self):
        with self.assertRaises(AccessError):
            self.env["subscription.plan"].with_user(self.user_sales).create(
                {"name": "Sneaky plan"}
            )
        with self.assertRaises(AccessError):
            self.plan_monthly.with_user(self.user_sales).billing_interval = 2
        with self.assertRaises(AccessError):
            self.close_reason.with_user(self.user_sales).name = "Renamed"
        # ...but may read them to fill in a contract.
        self.assertTrue(self.plan_monthly.with_user(self.user_sales).name)

    def test_user_cannot_allow_overlap(self):
        contract = self._create_contract(user_id=self.user_sales.id)
        with self.assertRaises(AccessError):
            contract.with_user(self.user_sales).allow_overlap = True

    def test_manager_configures_plans_and_reasons(self):
        plan = (
            self.env["subscription.plan"]
            .with_user(self.user_manager)
            .create({"name": "Half-yearly", "billing_interval": 6})
        )
        self.assertEqual(plan.billing_unit, "month")
        reason = (
            self.env["subscription.close.reason"]
            .with_user(self.user_manager)
            .create({"name": "Price"})
        )
        self.assertTrue(reason.active)

    def test_employee_without_group_has_no_access(self):
        contract = self._create_contract()
        with self.assertRaises(AccessError):
            contract.with_user(self.user_employee).read(["name"])
        with self.assertRaises(AccessError):
            self.env["subscription.contract"].with_user(self.user_employee).create(
                {"partner_id": self.customer.id, "plan_id": self.plan_monthly.id}
            )

    def test_close_wizard_access_for_user(self):
        contract = self._create_contract(user_id=self.user_sales.id)
        contract.action_start()
        wizard = (
            self.env["subscription.contract.close"]
            .with_user(self.user_sales)
            .with_context(active_model=contract._name, active_ids=contract.ids)
            .create({"reason_id": self.close_reason.id, "close_date": "2027-02-28"})
        )
        wizard.action_close()
        self.assertEqual(contract.state, "closed")

    def test_multi_company_isolation(self):
        other = self.setup_other_company(name="Other Co")["company"]
        other_contract = self.env["subscription.contract"].create(
            {
                "partner_id": self.customer.id,
                "plan_id": self.plan_yearly.id,
                "company_id": other.id,
                "date_start": "2027-01-01",
            }
        )
        manager = self.user_manager
        visible = (
            self.env["subscription.contract"]
            .with_user(manager)
            .search([("id", "=", other_contract.id)])
        )
        self.assertFalse(visible)
        manager.company_ids += other
        visible = (
            self.env["subscription.contract"]
            .with_user(manager)
            .with_context(allowed_company_ids=[self.company.id, other.id])
            .search([("id", "=", other_contract.id)])
        )
        self.assertEqual(visible, other_contract)

    def test_partner_form_shows_subscription_button_to_users(self):
        self._create_contract(user_id=self.user_sales.id).action_start()
        partner = self.customer.with_user(self.user_sales)
        self.assertEqual(partner.subscription_count, 1)
        # Employees without the group see 0 instead of an access error.
        self.assertEqual(
            self.customer.with_user(self.user_employee).subscription_count, 0
        )
