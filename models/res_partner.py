from odoo import api, fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    subscription_contract_ids = fields.One2many(
        "subscription.contract", "partner_id", string="Subscriptions"
    )
    subscription_count = fields.Integer(compute="_compute_subscription_stats")
    subscription_mrr = fields.Monetary(
        string="Subscriptions MRR",
        compute="_compute_subscription_stats",
        currency_field="subscription_currency_id",
        help="Monthly recurring revenue of the active contracts of this customer "
        "and its contacts, in the company currency.",
    )
    subscription_currency_id = fields.Many2one(
        "res.currency", compute="_compute_subscription_stats"
    )

    # === COMPUTE METHODS === #

    @api.depends_context("company", "uid")
    def _compute_subscription_stats(self):
        self.subscription_count = 0
        self.subscription_mrr = 0.0
        self.subscription_currency_id = self.env.company.currency_id
        contract_model = self.env["subscription.contract"]
        if not self.ids or not contract_model.has_access("read"):
            return
        all_partners = self.with_context(active_test=False).search_fetch(
            [("id", "child_of", self.ids)], ["parent_id"]
        )
        groups = contract_model._read_group(
            [
                ("partner_id", "in", all_partners.ids),
                ("state", "not in", ("draft", "cancelled")),
            ],
            groupby=["partner_id", "state", "currency_id"],
            aggregates=["__count", "mrr:sum"],
        )
        company = self.env.company
        today = fields.Date.context_today(self)
        self_ids = set(self._ids)
        for partner, state, currency, count, mrr in groups:
            if state == "active":
                mrr = currency._convert(mrr, company.currency_id, company, today)
            else:
                mrr = 0.0
            while partner:
                if partner.id in self_ids:
                    partner.subscription_count += count
                    partner.subscription_mrr += mrr
                partner = partner.parent_id

    # === ACTION METHODS === #

    def action_view_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_billing.subscription_contract_action"
        )
        action["domain"] = [("partner_id", "child_of", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action
