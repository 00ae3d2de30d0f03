from odoo import api, models

from ..lib import recurrence


class SubscriptionContractRenew(models.TransientModel):
    _inherit = "subscription.contract.renew"

    @api.depends("contract_id")
    def _compute_from_contract(self):
        """The renewal starts from the lines that go on, not from the history."""
        res = super()._compute_from_contract()
        for wizard in self:
            ended = wizard.line_ids.filtered(
                lambda line: line.contract_line_id.date_end
            )
            if ended:
                wizard.line_ids -= ended
        return res

    def action_renew(self):
        """Lines changed at renewal apply from the new term."""
        contract = self.contract_id
        day = max(
            contract.date_end + recurrence.ONE_DAY
            if contract.date_end
            else contract._get_today(),
            contract._get_amendment_min_date(),
        )
        return super(
            SubscriptionContractRenew,
            self.with_context(subscription_amendment_date=day),
        ).action_renew()
