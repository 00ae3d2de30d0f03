import base64

from odoo import _, fields, models
from odoo.exceptions import UserError


class SubscriptionSepaReturnImport(models.TransientModel):
    _name = "subscription.sepa.return.import"
    _description = "Import SEPA Direct Debit Bank Returns"

    data_file = fields.Binary(string="Bank File", required=True)
    filename = fields.Char()

    # === ACTION METHODS === #

    def action_import(self):
        self.ensure_one()
        if not self.data_file:
            raise UserError(_("Choose the pain.002 or camt.054 file of your bank."))
        record = self.env["subscription.sepa.return"]._import_file(
            base64.b64decode(self.data_file), self.filename or _("Bank file")
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "subscription.sepa.return",
            "res_id": record.id,
            "view_mode": "form",
            "target": "current",
        }
