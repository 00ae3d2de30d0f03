from odoo import api, fields, models

from .subscription_contract import RUNNING_STATES
from .subscription_plan_label import billing_rule_label


class SubscriptionContract(models.Model):
    _inherit = "subscription.contract"

    billing_rule_label = fields.Char(
        string="Billing", compute="_compute_billing_rule_label"
    )
    mrr_running = fields.Monetary(
        string="Running MRR",
        compute="_compute_mrr_running",
        store=True,
        aggregator="sum",
        help="MRR of the contract while it runs (active or suspended), 0 otherwise: "
        "its sum is the recurring revenue of the running contracts.",
    )

    @api.depends("billing_interval", "billing_unit")
    @api.depends_context("lang")
    def _compute_billing_rule_label(self):
        for contract in self:
            contract.billing_rule_label = billing_rule_label(
                contract.env, contract.billing_interval, contract.billing_unit
            )

    @api.depends("mrr", "state")
    def _compute_mrr_running(self):
        for contract in self:
            contract.mrr_running = (
                contract.mrr if contract.state in RUNNING_STATES else 0.0
            )

    def action_view_customer_mrr(self):
        """Recurring revenue of the customer's running contracts."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_billing.subscription_contract_action_analysis"
        )
        action["domain"] = [
            ("commercial_partner_id", "=", self.commercial_partner_id.id),
            ("state", "in", RUNNING_STATES),
        ]
        action["context"] = {}
        return action
