from odoo import _, fields, models
from odoo.exceptions import UserError

from ..models.subscription_sepa_batch import REJECTION_CODES


class SubscriptionSepaReject(models.TransientModel):
    _name = "subscription.sepa.reject"
    _description = "Record SEPA Direct Debit Rejections"

    batch_id = fields.Many2one("subscription.sepa.batch", required=True)
    line_ids = fields.Many2many(
        "subscription.sepa.batch.line",
        string="Rejected Debits",
        required=True,
        domain="[('batch_id', '=', batch_id), ('state', '!=', 'rejected')]",
    )
    code = fields.Selection(REJECTION_CODES, string="Reason Code", required=True)
    note = fields.Char()
    date = fields.Date(
        string="Rejection Date",
        required=True,
        default=lambda self: self.env.company._subscription_today(),
        help="The day the bank rejected or returned the debits: the payments are "
        "reversed on that day.",
    )

    # === ACTION METHODS === #

    def action_reject(self):
        self.ensure_one()
        if self.batch_id.state not in ("sent", "done"):
            raise UserError(
                _(
                    "Only a collection sent to the bank can have rejections; cancel "
                    "or edit %(batch)s instead.",
                    batch=self.batch_id.name,
                )
            )
        self.line_ids._reject(self.code, self.note, day=self.date)
        return {"type": "ir.actions.act_window_close"}
