from odoo import api, fields, models


class SubscriptionContractClose(models.TransientModel):
    _name = "subscription.contract.close"
    _description = "Close Subscription Contracts"

    # === DEFAULT METHODS === #

    @api.model
    def _default_contract_ids(self):
        if self.env.context.get("active_model") != "subscription.contract":
            return False
        return [fields.Command.set(self.env.context.get("active_ids", []))]

    contract_ids = fields.Many2many(
        "subscription.contract",
        string="Contracts",
        required=True,
        default=lambda self: self._default_contract_ids(),
    )
    reason_id = fields.Many2one("subscription.close.reason", required=True)
    close_date = fields.Date(required=True, default=fields.Date.context_today)
    note = fields.Text()

    # === ACTION METHODS === #

    def action_close(self):
        self.ensure_one()
        self.contract_ids._close(self.reason_id.id, self.close_date, self.note)
        return {"type": "ir.actions.act_window_close"}
