from odoo import api, fields, models

from .subscription_plan_label import commitment_label, renewal_term_label


class SubscriptionContract(models.Model):
    """The contract's durations in words, next to (or instead of) their inputs."""

    _inherit = "subscription.contract"

    commitment_label = fields.Char(
        string="Commitment", compute="_compute_commitment_label"
    )
    renewal_term_label = fields.Char(
        string="Renews For", compute="_compute_renewal_term_label"
    )

    @api.depends("commitment_length", "commitment_unit")
    @api.depends_context("lang")
    def _compute_commitment_label(self):
        for contract in self:
            contract.commitment_label = commitment_label(
                contract.env, contract.commitment_length, contract.commitment_unit
            )

    @api.depends("renewal_length", "renewal_unit")
    @api.depends_context("lang")
    def _compute_renewal_term_label(self):
        for contract in self:
            contract.renewal_term_label = renewal_term_label(
                contract.env, contract.renewal_length, contract.renewal_unit
            )
