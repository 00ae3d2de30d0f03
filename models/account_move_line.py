from odoo import fields, models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    subscription_proration = fields.Float(
        string="Prorated Share",
        digits=0,
        copy=True,
        readonly=True,
        help="Share of the full period this subscription line bills (billed days "
        "over the days of the period). The line total is the full total times "
        "this share, rounded once, so that it is exact for any quantity. Empty: "
        "the whole period.",
    )
