"""Shared set-up of the tests on committed data (real cursors, separate
transactions or OS processes): the registry of the test database, and one
started contract on a plan, product and customer of its own, removed after
each test."""

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, get_db_name
from odoo.tools import config


class CommittedCase(BaseCase):
    """Tests that open their own cursors on the test database: what they
    create is committed, so each test removes it again."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())

    def _env(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {})

    def _odoo_args(self):
        """Options for an Odoo worker process on this server's database."""
        args = [f"--addons-path={config['addons_path']}"]
        for key in ("db_host", "db_port", "db_user", "db_password"):
            if config.get(key):
                args.append(f"--{key}={config[key]}")
        return args


class CommittedContractCase(CommittedCase):
    """One committed, started one-line contract per test (``self.ids``)."""

    def _create_contract(
        self, env, label, price=10, days_ago=0, partner=None, email=None, **vals
    ):
        """Create and start a contract on a new plan and product (and a new
        customer unless ``partner`` is given), starting ``days_ago`` days before
        today; record their ids in ``self.ids`` for the clean-up."""
        if not partner:
            partner = env["res.partner"].create(
                {"name": f"{label} customer", "email": email}
            )
        plan = env["subscription.plan"].create(
            {"name": f"{label} plan", "company_id": False}
        )
        product = env["product.product"].create(
            {"name": f"{label} service", "type": "service", "list_price": price}
        )
        today = env.company._subscription_today()
        contract = env["subscription.contract"].create(
            {
                "partner_id": partner.id,
                "plan_id": plan.id,
                "date_start": fields.Date.to_string(
                    fields.Date.subtract(today, days=days_ago)
                ),
                "line_ids": [Command.create({"product_id": product.id})],
                **vals,
            }
        )
        contract.action_start()
        self.ids = {
            "plan": plan.id,
            "product": product.id,
            "partner": partner.id,
            "contract": contract.id,
        }
        self.addCleanup(self._cleanup)
        return contract

    def _contract(self, cr):
        return self._env(cr)["subscription.contract"].browse(self.ids["contract"])

    def _moves(self, env, **kw):
        """The contract's invoices, filtered on the ``field=value`` given."""
        domain = [("subscription_contract_id", "=", self.ids["contract"])]
        domain += [(key, "=", value) for key, value in kw.items()]
        return env["account.move"].with_context(active_test=False).search(domain)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            self._remove_records(self._env(cr))

    def _remove_records(self, env):
        """Remove the invoices, the contract, then what it was made of."""
        moves = self._moves(env)
        moves.filtered(lambda m: m.state == "posted").button_draft()
        moves.with_context(force_delete=True).unlink()
        contract = env["subscription.contract"].browse(self.ids["contract"])
        contract.activity_ids.unlink()
        contract.write({"state": "cancelled"})
        contract.unlink()
        for key, model in (
            ("token", "payment.token"),
            ("plan", "subscription.plan"),
            ("product", "product.product"),
            ("partner", "res.partner"),
        ):
            if key in self.ids:
                env[model].browse(self.ids[key]).unlink()
