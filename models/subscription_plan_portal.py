from odoo import fields, models


class SubscriptionPlan(models.Model):
    _inherit = "subscription.plan"

    portal_termination_b2b = fields.Boolean(
        string="Business Customers End Online",
        help="Business customers may end their contracts of this plan from the "
        "customer portal, within their commitment and notice. Consumers always "
        "may (French Consumer Code, L215-1-1).",
    )
    portal_termination_notice_days = fields.Integer(
        string="Business Notice (days)",
        help="An open-ended contract of a business customer ends this many days "
        "after it is ended online, and never before the end of a period "
        "already invoiced. Consumers give no notice.",
    )
