from odoo import _, fields, models


class SubscriptionContractRefuseRenewal(models.TransientModel):
    _name = "subscription.contract.refuse.renewal"
    _description = "Refuse the Renewal of a Subscription Contract"

    contract_id = fields.Many2one("subscription.contract", required=True)
    date_end = fields.Date(related="contract_id.date_end")
    reason = fields.Char(required=True, help="Why the customer does not renew.")

    # === ACTION METHODS === #

    def action_refuse(self):
        self.ensure_one()
        contract = self.contract_id
        contract.write({"renewal_refused": True, "renewal_refusal_reason": self.reason})
        contract.message_post(
            body=_(
                "The customer does not renew: the contract will expire on %(date)s "
                "(%(reason)s).",
                date=contract.date_end,
                reason=self.reason,
            ),
            subtype_xmlid="mail.mt_note",
        )
        return {"type": "ir.actions.act_window_close"}
