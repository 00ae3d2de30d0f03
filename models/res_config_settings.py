from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    subscription_reminder_policy_id = fields.Many2one(
        related="company_id.subscription_reminder_policy_id", readonly=False
    )
    subscription_reminder_all_invoices = fields.Boolean(
        related="company_id.subscription_reminder_all_invoices", readonly=False
    )
