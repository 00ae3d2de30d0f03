from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    subscription_import_max_catchup = fields.Integer(
        string="Imported Contracts: Periods Billed Back",
        default=1,
        help="An imported contract whose first billing run would invoice more "
        "periods than this is refused by the import, unless its row confirms the "
        "catch-up. 1: only the current period.",
    )
