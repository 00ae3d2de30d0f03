from odoo import fields, models


class SubscriptionReminderLog(models.Model):
    """One reminder step sent for one invoice: the unique key that makes every
    (invoice, step) go out at most once, whatever reruns or workers."""

    _name = "subscription.reminder.log"
    _description = "Payment Reminder Sent"
    _order = "date desc, id desc"
    _sql_constraints = [
        (
            "move_step_uniq",
            "unique(move_id, step_id)",
            "This reminder step was already sent for this invoice.",
        ),
    ]

    move_id = fields.Many2one(
        "account.move", string="Invoice", required=True, index=True, ondelete="cascade"
    )
    step_id = fields.Many2one(
        "subscription.reminder.step", required=True, index=True, ondelete="restrict"
    )
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True
    )
    company_id = fields.Many2one(
        related="move_id.company_id", store=True, precompute=True
    )
    date = fields.Date(required=True)
    channel = fields.Selection(
        [("email", "Email"), ("activity", "Activity (no email address)")],
        required=True,
    )
