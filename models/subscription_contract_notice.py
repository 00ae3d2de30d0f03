from odoo import fields, models

NOTICE_KINDS = [
    ("customer_notice", "Renewal notice to the customer"),
    ("salesperson_alert", "End of term alert to the salesperson"),
    ("renewal", "Renewal"),
    ("expiry", "Expiry"),
]


class SubscriptionContractNotice(models.Model):
    """What happened once per term of a contract: the unique key that makes every
    notice, alert, renewal and expiry happen exactly once."""

    _name = "subscription.contract.notice"
    _description = "Subscription Term Notice"
    _order = "date desc, id desc"
    _sql_constraints = [
        (
            "contract_term_kind_uniq",
            "unique(contract_id, term_end, kind)",
            "This notice was already handled for this term of the contract.",
        ),
    ]

    contract_id = fields.Many2one(
        "subscription.contract", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="contract_id.company_id", store=True, precompute=True
    )
    term_end = fields.Date(required=True, help="End of the term it is about.")
    kind = fields.Selection(NOTICE_KINDS, required=True)
    date = fields.Date(required=True)
