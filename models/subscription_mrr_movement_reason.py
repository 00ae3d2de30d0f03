from odoo import api, fields, models


class SubscriptionMrrMovement(models.Model):
    _inherit = "subscription.mrr.movement"

    close_reason_id = fields.Many2one(
        "subscription.close.reason",
        string="Churn Reason",
        compute="_compute_close_reason_id",
        help="Why the contract ended, on its churn.",
    )

    @api.depends("movement", "contract_id.close_reason_id")
    def _compute_close_reason_id(self):
        for movement in self:
            movement.close_reason_id = (
                movement.contract_id.close_reason_id
                if movement.movement == "churn"
                else False
            )
