from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

# What two plans must share for a contract to move from one to the other
# mid-term: the billed periods stay the same, only the lines change.
SAME_RULE_FIELDS = ("billing_interval", "billing_unit", "billing_mode")


class SubscriptionPlan(models.Model):
    _inherit = "subscription.plan"

    portal_product_id = fields.Many2one(
        "product.product",
        string="Plan Product",
        domain="[('sale_ok', '=', True)]",
        help="The contract line that stands for this plan. A customer who moves "
        "to another plan online gets that line replaced with the other plan's "
        "product, at its sales price, same quantity.",
    )
    portal_target_plan_ids = fields.Many2many(
        "subscription.plan",
        "subscription_plan_portal_target_rel",
        "plan_id",
        "target_plan_id",
        string="Customers Move To",
        domain="[('id', '!=', id), ('portal_product_id', '!=', False)]",
        help="Plans a customer of this plan may move to from the customer portal. "
        "A higher amount applies at once and is invoiced prorated; a lower one "
        "at the end of the period already invoiced (or at once with a credit, "
        "as the company's amendment setting says). A longer commitment must be "
        "accepted by the customer.",
    )

    @api.constrains("portal_target_plan_ids", "portal_product_id", *SAME_RULE_FIELDS)
    def _check_portal_target_plans(self):
        for plan in self:
            if not plan.portal_target_plan_ids:
                continue
            if not plan.portal_product_id or plan in plan.portal_target_plan_ids:
                raise ValidationError(
                    _(
                        "Plan %(plan)s: to let customers move to other plans "
                        "online, choose its Plan Product, and not the plan itself "
                        "as a target.",
                        plan=plan.display_name,
                    )
                )
            for target in plan.portal_target_plan_ids:
                if not target.portal_product_id or any(
                    plan[fname] != target[fname] for fname in SAME_RULE_FIELDS
                ):
                    raise ValidationError(
                        _(
                            "Plan %(plan)s: customers can only move online to a "
                            "plan billed the same way (same period, in advance or "
                            "in arrears) that has a Plan Product; %(target)s is "
                            "not.",
                            plan=plan.display_name,
                            target=target.display_name,
                        )
                    )
