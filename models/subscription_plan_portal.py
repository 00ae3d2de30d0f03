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
    portal_quantity_change = fields.Boolean(
        string="Customers Change Quantities Online",
        help="Customers may change the quantity of their lines from the portal: "
        "an increase applies at once and is invoiced prorated, a decrease at the "
        "end of the period already invoiced (or at once with a credit, as the "
        "company's amendment setting says).",
    )
    portal_min_quantity = fields.Float(
        string="Minimum Quantity",
        default=1.0,
        help="Lowest quantity a customer may choose online.",
    )
    portal_max_quantity = fields.Float(
        string="Maximum Quantity",
        help="Highest quantity a customer may choose online (0: no maximum).",
    )
