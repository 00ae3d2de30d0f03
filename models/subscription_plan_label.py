from odoo import api, fields, models


def billing_rule_label(env, interval, unit):
    """ "Monthly", "Every 3 months": a billing rule as people say it."""
    if not interval or not unit:
        return ""
    if interval == 1:
        labels = {
            "day": env._("Daily"),
            "week": env._("Weekly"),
            "month": env._("Monthly"),
            "year": env._("Yearly"),
        }
        return labels.get(unit, "")
    labels = {
        "day": env._("Every %(count)s days", count=interval),
        "week": env._("Every %(count)s weeks", count=interval),
        "month": env._("Every %(count)s months", count=interval),
        "year": env._("Every %(count)s years", count=interval),
    }
    return labels.get(unit, "")


def commitment_label(env, length, unit):
    """ "12 months", "1 year", "Open-ended": a commitment as people say it."""
    if not length:
        return env._("Open-ended")
    if unit == "year":
        if length == 1:
            return env._("1 year")
        return env._("%(count)s years", count=length)
    if length == 1:
        return env._("1 month")
    return env._("%(count)s months", count=length)


def renewal_term_label(env, length, unit):
    """ "12 months", "1 year": each renewed term; 0 renews for the commitment."""
    if not length:
        return env._("Same as the commitment")
    return commitment_label(env, length, unit)


class SubscriptionPlan(models.Model):
    _inherit = "subscription.plan"

    billing_rule_label = fields.Char(
        string="Billing", compute="_compute_billing_rule_label"
    )

    commitment_label = fields.Char(
        string="Commitment", compute="_compute_commitment_label"
    )

    renewal_term_label = fields.Char(
        string="Renews For", compute="_compute_renewal_term_label"
    )

    @api.depends("billing_interval", "billing_unit")
    @api.depends_context("lang")
    def _compute_billing_rule_label(self):
        for plan in self:
            plan.billing_rule_label = billing_rule_label(
                plan.env, plan.billing_interval, plan.billing_unit
            )

    @api.depends("commitment_length", "commitment_unit")
    @api.depends_context("lang")
    def _compute_commitment_label(self):
        for plan in self:
            plan.commitment_label = commitment_label(
                plan.env, plan.commitment_length, plan.commitment_unit
            )

    @api.depends("renewal_length", "renewal_unit")
    @api.depends_context("lang")
    def _compute_renewal_term_label(self):
        for plan in self:
            plan.renewal_term_label = renewal_term_label(
                plan.env, plan.renewal_length, plan.renewal_unit
            )
