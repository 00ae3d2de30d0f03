from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date


class SubscriptionReminderPause(models.TransientModel):
    _name = "subscription.reminder.pause"
    _description = "Pause Payment Reminders"

    partner_ids = fields.Many2many("res.partner", string="Customers", required=True)
    date = fields.Date(string="Paused Until", required=True)
    reason = fields.Char(required=True, help="A dispute, a promise to pay...")

    # === CONSTRAINT METHODS === #

    @api.constrains("date")
    def _check_date(self):
        today = self.env.company._subscription_today()
        for wizard in self:
            if wizard.date < today:
                raise UserError(
                    _(
                        "Reminders cannot be paused until %(date)s, a past date: "
                        "choose today or a later date.",
                        date=format_date(self.env, wizard.date),
                    )
                )

    # === ACTION METHODS === #

    def action_pause(self):
        self.ensure_one()
        self.partner_ids.commercial_partner_id.write(
            {"reminder_paused_until": self.date, "reminder_pause_reason": self.reason}
        )
        return {"type": "ir.actions.act_window_close"}
