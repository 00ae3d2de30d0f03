from odoo import _, api, fields, models
from odoo.tools import format_date


class SubscriptionContractRefuseRenewal(models.TransientModel):
    _name = "subscription.contract.refuse.renewal"
    _description = "Refuse the Renewal of a Subscription Contract"

    contract_id = fields.Many2one("subscription.contract", required=True)
    date_end = fields.Date(related="contract_id.date_end")
    refusal_deadline = fields.Date(related="contract_id.renewal_refusal_deadline")
    reason = fields.Char(required=True, help="Why the customer does not renew.")
    refusal_date = fields.Date(
        string="Refusal Received On",
        required=True,
        default=fields.Date.context_today,
    )
    is_late = fields.Boolean(compute="_compute_is_late")

    # === COMPUTE METHODS === #

    @api.depends("refusal_date", "refusal_deadline")
    def _compute_is_late(self):
        for wizard in self:
            wizard.is_late = bool(
                wizard.refusal_deadline
                and wizard.refusal_date
                and wizard.refusal_date > wizard.refusal_deadline
            )

    # === ACTION METHODS === #

    def action_refuse(self):
        self.ensure_one()
        contract = self.contract_id
        contract.write(
            {
                "renewal_refused": True,
                "renewal_refusal_reason": self.reason,
                "renewal_refusal_date": self.refusal_date,
                "renewal_refusal_late": self.is_late,
            }
        )
        body = _(
            "The customer does not renew: the contract will expire on %(date)s "
            "(%(reason)s).",
            date=format_date(self.env, contract.date_end),
            reason=self.reason,
        )
        if self.is_late:
            body += " " + _(
                "Warning: the refusal was received on %(received)s, after the "
                "deadline of %(deadline)s; it was recorded anyway.",
                received=format_date(self.env, self.refusal_date),
                deadline=format_date(self.env, self.refusal_deadline),
            )
        contract.message_post(body=body, subtype_xmlid="mail.mt_note")
        # The customer gets the confirmation on a durable medium (L215-1-1).
        if not contract.termination_request_date:
            contract.termination_request_date = self.refusal_date
        contract._send_termination_confirmation("refusal", contract.date_end)
        return {"type": "ir.actions.act_window_close"}
