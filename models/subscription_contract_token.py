import uuid

from odoo import api, models
from odoo.tools import SQL


class SubscriptionContract(models.Model):
    """Every contract has its portal access token from its creation: the
    portal pages (list, contract, PDF) only read it. Odoo writes a missing token
    when a page shows the link, and that write, in a customer's GET request,
    waited for the billing batch holding the contract."""

    _inherit = "subscription.contract"

    def init(self):
        res = super().init()
        # Contracts created before: one statement at install or update.
        self.env.cr.execute(
            SQL(
                "UPDATE subscription_contract"
                " SET access_token = gen_random_uuid()::text"
                " WHERE access_token IS NULL"
            )
        )
        return res

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get("access_token"):
                vals["access_token"] = str(uuid.uuid4())
        return super().create(vals_list)
