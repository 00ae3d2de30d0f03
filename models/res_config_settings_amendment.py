from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    subscription_credit_decrease = fields.Boolean(
        related="company_id.subscription_credit_decrease", readonly=False
    )
