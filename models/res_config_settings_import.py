from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    subscription_import_max_catchup = fields.Integer(
        related="company_id.subscription_import_max_catchup", readonly=False
    )
