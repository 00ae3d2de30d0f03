from odoo import fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    subscription_contract_id = fields.Many2one(
        "subscription.contract",
        string="Subscription",
        index="btree_not_null",
        copy=False,
        readonly=True,
        check_company=True,
        ondelete="restrict",
    )
    subscription_period_start = fields.Date(
        string="Billed Period Start", copy=False, readonly=True
    )
    subscription_period_end = fields.Date(
        string="Billed Period End", copy=False, readonly=True
    )
