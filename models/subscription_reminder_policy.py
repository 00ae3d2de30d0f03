from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class SubscriptionReminderPolicy(models.Model):
    _name = "subscription.reminder.policy"
    _description = "Payment Reminder Policy"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company",
        default=lambda self: self.env.company,
        index=True,
        help="Leave empty to share the policy between companies.",
    )
    step_ids = fields.One2many(
        "subscription.reminder.step", "policy_id", string="Steps", copy=True
    )

    # === BUSINESS METHODS === #

    def _get_sorted_steps(self):
        """Steps in the order they are sent: by offset from the due date."""
        self.ensure_one()
        return self.step_ids.sorted(lambda step: (step.offset_days, step.id))


class SubscriptionReminderStep(models.Model):
    _name = "subscription.reminder.step"
    _description = "Payment Reminder Step"
    _order = "policy_id, offset_days, id"
    _sql_constraints = [
        (
            "policy_offset_uniq",
            "unique(policy_id, offset_days)",
            "Two steps of a reminder policy cannot have the same offset: give each "
            "step its own number of days from the due date.",
        ),
    ]

    policy_id = fields.Many2one(
        "subscription.reminder.policy", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="policy_id.company_id")
    name = fields.Char(required=True, translate=True)
    offset_days = fields.Integer(
        string="Days from Due Date",
        required=True,
        help="Negative: before the due date; 0: on the due date; positive: after it.",
    )
    mail_template_id = fields.Many2one(
        "mail.template",
        string="Email Template",
        domain="[('model', '=', 'account.move')]",
        help="The message of this step, written by the company. Placeholders: "
        "the customer, the invoices with their number, amount due and due date, "
        "the days late and the link to pay online.",
    )
    attach_invoice = fields.Boolean(
        string="Attach Invoices", help="Attach the PDF of the invoices to the email."
    )
    print_letter = fields.Boolean(
        string="Reminder Letter",
        help="Also produce a reminder letter (PDF) on the invoice, to post.",
    )
    activity = fields.Selection(
        [
            ("none", "No activity"),
            ("salesperson", "Activity for the salesperson"),
            ("accountant", "Activity for the accountant"),
        ],
        default="none",
        required=True,
    )
    activity_user_id = fields.Many2one(
        "res.users",
        string="Accountant",
        domain="[('share', '=', False)]",
        help="Who gets the activity when the step asks for the accountant.",
    )
    suspend_contract = fields.Boolean(
        string="Suspend the Subscription",
        help="Suspend the contracts of the reminded invoices (last steps).",
    )

    # === CONSTRAINT METHODS === #

    @api.constrains("activity", "activity_user_id")
    def _check_activity_user(self):
        for step in self:
            if step.activity == "accountant" and not step.activity_user_id:
                raise ValidationError(
                    _(
                        "Reminder step %(step)s creates an activity for the "
                        "accountant: choose the accountant.",
                        step=step.name,
                    )
                )
