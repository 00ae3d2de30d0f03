from odoo import _, api, fields, models
from odoo.tools import format_date


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
    free_termination_ids = fields.Many2many(
        "subscription.contract",
        compute="_compute_commitment",
        string="Free to End",
        help="Consumers told late of the renewal (L215-1): they may end the "
        "contract at any time, the commitment does not apply.",
    )
    committed_ids = fields.Many2many(
        "subscription.contract",
        compute="_compute_commitment",
        string="Closed Within Their Commitment",
    )

    # === COMPUTE METHODS === #

    @api.depends("contract_ids", "close_date")
    def _compute_commitment(self):
        for wizard in self:
            free = wizard.contract_ids.filtered(
                lambda c, day=wizard.close_date: (
                    day and c.free_termination_date and c.free_termination_date <= day
                )
            )
            wizard.free_termination_ids = free
            wizard.committed_ids = (wizard.contract_ids - free).filtered(
                lambda c, day=wizard.close_date: day and c.date_end and day < c.date_end
            )

    # === ACTION METHODS === #

    def action_close(self):
        self.ensure_one()
        free = self.free_termination_ids
        self.contract_ids._close(self.reason_id.id, self.close_date, self.note)
        for contract in free:
            contract.message_post(
                body=_(
                    "Ended on %(date)s under the consumer's right to end the contract "
                    "at any time (French Consumer Code, L215-1: late renewal "
                    "notice): the commitment until %(end)s does not apply.",
                    date=format_date(self.env, self.close_date),
                    end=format_date(self.env, contract.date_end),
                ),
                subtype_xmlid="mail.mt_note",
            )
        return {"type": "ir.actions.act_window_close"}
