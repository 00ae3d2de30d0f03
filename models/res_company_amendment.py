from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    subscription_credit_decrease = fields.Boolean(
        string="Credit Decreases at Once",
        help="When a contract line is lowered or removed during a period already "
        "invoiced in advance, give the remaining days back by a credit note. "
        "Otherwise the lower amount applies from the next period.",
    )
