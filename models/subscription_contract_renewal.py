from odoo import _, api, fields, models

from .subscription_plan import check_consumer_window

CUSTOMER_TYPES = [
    ("b2c", "Consumer (B2C)"),
    ("b2b", "Business (B2B)"),
]


class SubscriptionContract(models.Model):
    _inherit = "subscription.contract"

    customer_type = fields.Selection(
        CUSTOMER_TYPES,
        compute="_compute_customer_type",
        store=True,
        precompute=True,
        readonly=False,
        tracking=True,
        help="A consumer (a customer who is not a company) is protected by the "
        "French Consumer Code (L215-1): the renewal notice must reach them between "
        "3 months and 1 month before the deadline to refuse the renewal.",
    )
    free_termination_date = fields.Date(
        string="Free Termination From",
        copy=False,
        readonly=True,
        tracking=True,
        help="The renewal notice reached the consumer late (L215-1): they may end "
        "the contract at any time from this date, whatever its commitment.",
    )
    renewal_refusal_date = fields.Date(
        string="Refusal Received On", copy=False, readonly=True
    )
    renewal_refusal_late = fields.Boolean(
        string="Refusal After the Deadline",
        copy=False,
        readonly=True,
        help="The refusal came after the deadline: it was recorded anyway.",
    )
    renewal_error_activity_id = fields.Many2one(
        "mail.activity",
        copy=False,
        readonly=True,
        ondelete="set null",
        help="The one activity telling that the end of term keeps failing.",
    )

    # === COMPUTE METHODS === #

    @api.depends("partner_id")
    def _compute_customer_type(self):
        for contract in self:
            contract.customer_type = (
                "b2b"
                if contract.partner_id.commercial_partner_id.is_company
                or not contract.partner_id
                else "b2c"
            )

    # === CONSTRAINT METHODS === #

    @api.constrains(
        "customer_type",
        "auto_renew",
        "commitment_length",
        "commitment_unit",
        "renewal_length",
        "renewal_unit",
        "renewal_notice_days",
        "renewal_refusal_days",
    )
    def _check_consumer_notice_window(self):
        for contract in self.filtered(lambda c: c.customer_type == "b2c"):
            check_consumer_window(
                contract, _("Contract %(contract)s", contract=contract.name)
            )
