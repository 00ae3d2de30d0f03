from odoo import Command
from odoo.tests import new_test_user

from odoo.addons.account.tests.common import AccountTestInvoicingCommon


class SubscriptionCommon(AccountTestInvoicingCommon):
    """Records every subscription test needs, built here (never demo data)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.company_data["company"]
        # The accounting test user also administers subscriptions.
        cls.env.user.groups_id += cls.env.ref(
            "subscription_billing.group_subscription_manager"
        )
        cls.plan_monthly = cls.env["subscription.plan"].create(
            {
                "name": "Monthly",
                "billing_interval": 1,
                "billing_unit": "month",
                "commitment_length": 12,
                "commitment_unit": "month",
                "auto_renew": True,
                "company_id": False,
            }
        )
        cls.plan_quarterly = cls.env["subscription.plan"].create(
            {
                "name": "Quarterly",
                "billing_interval": 3,
                "billing_unit": "month",
                "company_id": False,
            }
        )
        cls.plan_yearly = cls.env["subscription.plan"].create(
            {
                "name": "Yearly",
                "billing_interval": 1,
                "billing_unit": "year",
                "company_id": False,
            }
        )
        cls.tax_20 = cls.env["account.tax"].create(
            {
                "name": "VAT 20% (test)",
                "amount": 20.0,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "company_id": cls.company.id,
            }
        )
        cls.product_maintenance = cls.env["product.product"].create(
            {
                "name": "Maintenance",
                "type": "service",
                "list_price": 100.0,
                "taxes_id": [Command.set(cls.tax_20.ids)],
            }
        )
        cls.product_hosting = cls.env["product.product"].create(
            {
                "name": "Hosting",
                "type": "service",
                "list_price": 30.0,
                "taxes_id": [Command.set(cls.tax_20.ids)],
            }
        )
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Boulangerie Martin",
                "email": "compta@martin.example",
                "lang": "en_US",
            }
        )
        cls.close_reason = cls.env.ref(
            "subscription_billing.close_reason_customer_request"
        )
        cls.user_sales = new_test_user(
            cls.env,
            login="sub_user",
            name="Sophie Sales",
            groups="base.group_user,subscription_billing.group_subscription_user",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.user_other_sales = new_test_user(
            cls.env,
            login="sub_user2",
            name="Olivier Other",
            groups="base.group_user,subscription_billing.group_subscription_user",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.user_manager = new_test_user(
            cls.env,
            login="sub_manager",
            name="Marie Manager",
            groups="base.group_user,subscription_billing.group_subscription_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )

    @classmethod
    def _create_portal_user(cls, login, parent=None, email=None, name=None):
        """A portal user (password = login) who is a contact of ``parent``."""
        user = new_test_user(
            cls.env,
            login=login,
            password=login,
            name=name or login,
            groups="base.group_portal",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        if parent:
            user.partner_id.write({"parent_id": parent.id, "email": email})
        return user

    @classmethod
    def _create_contract(cls, partner=None, plan=None, products=None, **values):
        products = products or cls.product_maintenance
        vals = {
            "partner_id": (partner or cls.customer).id,
            "plan_id": (plan or cls.plan_monthly).id,
            "date_start": "2027-01-01",
            "line_ids": [Command.create({"product_id": p.id}) for p in products],
        }
        vals.update(values)
        return cls.env["subscription.contract"].create(vals)
