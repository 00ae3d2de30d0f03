from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..lib import consumer_law

# Labels that read well after any number ("1 Month(s)", "3 Month(s)"): the
# forms show them next to the number input, with the rule in words beside.
BILLING_UNITS = [
    ("day", "Day(s)"),
    ("week", "Week(s)"),
    ("month", "Month(s)"),
    ("year", "Year(s)"),
]
TERM_UNITS = [("month", "Month(s)"), ("year", "Year(s)")]
RENEWAL_FIELDS = (
    "renewal_length",
    "renewal_notice_days",
    "renewal_refusal_days",
    "renewal_alert_days",
)


def check_renewal_rule(record, label):
    """Validate the renewal rule of a plan or a contract (``label`` names it)."""
    env = record.env
    for fname in RENEWAL_FIELDS:
        if record[fname] < 0:
            raise ValidationError(
                env._(
                    "%(record)s: '%(field)s' cannot be negative; enter 0 or more days.",
                    record=label,
                    field=record._fields[fname].get_description(env)["string"],
                )
            )
    if record.renewal_refusal_days > record.renewal_notice_days:
        raise ValidationError(
            env._(
                "%(record)s: the customer must be told of the renewal before the "
                "refusal deadline: the notice (%(notice)s days before the end) must "
                "come before the deadline (%(refusal)s days before the end).",
                record=label,
                notice=record.renewal_notice_days,
                refusal=record.renewal_refusal_days,
            )
        )


def get_term_min_days(record):
    """Fewest days the shortest term of a plan or contract (its commitment, its
    renewed term) can last; None when open-ended."""
    terms = [
        consumer_law.term_min_days(record.commitment_length, record.commitment_unit),
        consumer_law.term_min_days(
            record.renewal_length or record.commitment_length,
            record.renewal_unit if record.renewal_length else record.commitment_unit,
        ),
    ]
    terms = [days for days in terms if days]
    return min(terms) if terms else None


def check_consumer_window(record, label, strict=True):
    """L215-1: the renewal notice of a consumer contract goes out between three
    months and one month before the refusal deadline. ``strict``: also refuse a
    term too short to hold that window (a plan accepts it: business only)."""
    if not record.auto_renew:
        return
    env = record.env
    min_days = get_term_min_days(record)
    window = consumer_law.notice_window(record.renewal_refusal_days, min_days)
    if window is None:
        if not strict:
            return
        raise ValidationError(
            env._(
                "%(record)s: a consumer must be told of the tacit renewal between "
                "3 months and 1 month before the deadline to refuse it (French "
                "Consumer Code, L215-1), and a term this short cannot hold that "
                "window with a refusal deadline %(refusal)s days before the end. "
                "Lower the refusal deadline, lengthen the term, or do not renew "
                "tacitly.",
                record=label,
                refusal=record.renewal_refusal_days,
            )
        )
    if not window[1] <= record.renewal_notice_days <= window[0]:
        raise ValidationError(
            env._(
                "%(record)s: a consumer must be told of the tacit renewal between "
                "3 months and 1 month before the deadline to refuse it (French "
                "Consumer Code, L215-1). With the refusal deadline %(refusal)s days "
                "before the end, send the notice between %(earliest)s and "
                "%(latest)s days before the end (not %(notice)s).",
                record=label,
                refusal=record.renewal_refusal_days,
                earliest=window[0],
                latest=window[1],
                notice=record.renewal_notice_days,
            )
        )


BILLING_MODES = [
    ("advance", "In advance (start of period)"),
    ("arrears", "In arrears (end of period)"),
]


class SubscriptionPlan(models.Model):
    _name = "subscription.plan"
    _description = "Subscription Plan"
    _order = "sequence, name, id"

    # === DEFAULT METHODS === #

    @api.model
    def _default_invoice_mail_template_id(self):
        return self.env.ref(
            "subscription_billing.mail_template_subscription_invoice",
            raise_if_not_found=False,
        )

    @api.model
    def _default_reminder_policy_id(self):
        return self.env.company.subscription_reminder_policy_id

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company",
        default=lambda self: self.env.company,
        index=True,
        help="Leave empty to share the plan between companies.",
    )
    billing_interval = fields.Integer(
        string="Bill Every",
        default=1,
        required=True,
        help="Number of units between two invoices: 3 months is quarterly.",
    )
    billing_unit = fields.Selection(BILLING_UNITS, default="month", required=True)
    billing_mode = fields.Selection(
        BILLING_MODES,
        default="advance",
        required=True,
        help="In advance: the invoice is dated at the start of the billed period. "
        "In arrears: at its end.",
    )
    commitment_length = fields.Integer(
        help="Minimum duration of a contract, in commitment units. "
        "0 means open-ended: the contract runs until it is closed."
    )
    commitment_unit = fields.Selection(TERM_UNITS, default="month", required=True)
    align_to_calendar = fields.Boolean(
        help="Bill on calendar boundaries (1st of the month, quarter or year, "
        "Mondays for weeks): the first, partial period is prorated by days."
    )
    auto_renew = fields.Boolean(
        string="Tacit Renewal",
        help="At the end of the commitment the contract renews for the same term "
        "unless the customer refused it.",
    )
    renewal_length = fields.Integer(
        string="Renewal Term",
        help="Length of each renewed term, in renewal units. 0: the commitment length.",
    )
    renewal_unit = fields.Selection(TERM_UNITS, default="month", required=True)
    renewal_notice_days = fields.Integer(
        string="Customer Notice (days before end)",
        compute="_compute_renewal_days",
        store=True,
        precompute=True,
        readonly=False,
        help="The customer is told of the tacit renewal this many days before the "
        "end of the term (French consumer law: between 3 months and 1 month before "
        "the refusal deadline).",
    )
    renewal_refusal_days = fields.Integer(
        string="Refusal Deadline (days before end)",
        compute="_compute_renewal_days",
        store=True,
        precompute=True,
        readonly=False,
        help="The customer may refuse the renewal until this many days before the "
        "end of the term.",
    )
    renewal_alert_days = fields.Integer(
        string="Salesperson Alert (days before end)",
        compute="_compute_renewal_days",
        store=True,
        precompute=True,
        readonly=False,
        help="The salesperson is warned this many days before the end of the term.",
    )
    renewal_price_increase = fields.Float(
        string="Price Revision at Renewal (%)",
        digits=(16, 2),
        help="Unit prices are raised by this percentage at each renewal "
        "(negative to lower them).",
    )
    journal_id = fields.Many2one(
        "account.journal",
        string="Invoice Journal",
        domain="[('type', '=', 'sale')]",
        check_company=True,
        help="Sales journal of the invoices. Empty: the company's default sales "
        "journal.",
    )
    invoice_review = fields.Boolean(
        string="Leave Invoices as Draft for Review",
        help="Invoices are created as drafts for an accountant to check and "
        "post; they are sent once posted. Otherwise they are posted and sent "
        "automatically.",
    )
    invoice_mail_template_id = fields.Many2one(
        "mail.template",
        string="Invoice Email Template",
        domain="[('model', '=', 'account.move')]",
        default=lambda self: self._default_invoice_mail_template_id(),
        help="Email sent with each invoice, in the customer's language.",
    )
    reminder_policy_id = fields.Many2one(
        "subscription.reminder.policy",
        default=lambda self: self._default_reminder_policy_id(),
        check_company=True,
        help="Payment reminders of the invoices of this plan's contracts.",
    )
    payment_reference_model = fields.Selection(
        [
            ("euro", "European (RF creditor reference)"),
            ("journal", "The journal's"),
        ],
        string="Transfer Reference",
        default="euro",
        required=True,
        help="Communication the customer gives with a transfer, printed on the "
        "invoice with the SEPA QR code: the structured European creditor "
        "reference (RF), or the journal's own standard.",
    )
    description = fields.Html(translate=True)
    contract_ids = fields.One2many("subscription.contract", "plan_id")
    contract_count = fields.Integer(compute="_compute_contract_count")

    # === COMPUTE METHODS === #

    def _compute_contract_count(self):
        counts = dict(
            self.env["subscription.contract"]._read_group(
                [("plan_id", "in", self.ids)], ["plan_id"], ["__count"]
            )
        )
        for plan in self:
            plan.contract_count = counts.get(plan, 0)

    @api.depends(
        "commitment_length", "commitment_unit", "renewal_length", "renewal_unit"
    )
    def _compute_renewal_days(self):
        """Notice, refusal deadline and alert that suit the term: 90/30/60 days
        before the end when it is long enough, shorter otherwise (a 1-month term
        cannot have a 90-day notice)."""
        for plan in self:
            notice, refusal, alert = consumer_law.default_days(get_term_min_days(plan))
            plan.renewal_notice_days = notice
            plan.renewal_refusal_days = refusal
            plan.renewal_alert_days = alert

    # === CONSTRAINT METHODS === #

    @api.constrains("billing_interval")
    def _check_billing_interval(self):
        for plan in self:
            if plan.billing_interval < 1:
                raise ValidationError(
                    _(
                        "Plan %(plan)s: 'Bill Every' must be 1 or more "
                        "(you entered %(value)s). Use 3 months for quarterly billing.",
                        plan=plan.name,
                        value=plan.billing_interval,
                    )
                )

    @api.constrains(
        "auto_renew",
        "commitment_length",
        "commitment_unit",
        "renewal_unit",
        "renewal_length",
        "renewal_notice_days",
        "renewal_refusal_days",
        "renewal_alert_days",
    )
    def _check_commitment_length(self):
        for plan in self:
            check_renewal_rule(plan, _("Plan %(plan)s", plan=plan.name))
            check_consumer_window(
                plan, _("Plan %(plan)s", plan=plan.name), strict=False
            )
            if plan.commitment_length < 0:
                raise ValidationError(
                    _(
                        "Plan %(plan)s: the commitment length cannot be negative; "
                        "enter 0 for an open-ended plan.",
                        plan=plan.name,
                    )
                )

    # === ACTION METHODS === #

    def action_view_contracts(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_billing.subscription_contract_action"
        )
        action["domain"] = [("plan_id", "=", self.id)]
        action["context"] = {"default_plan_id": self.id}
        return action

    # === BUSINESS METHODS === #

    def _get_contract_rule_vals(self):
        """Values a contract copies from its plan when it is created or the plan
        changes on a draft contract. Extend to copy more."""
        self.ensure_one()
        return {
            "billing_interval": self.billing_interval,
            "billing_unit": self.billing_unit,
            "billing_mode": self.billing_mode,
            "commitment_length": self.commitment_length,
            "commitment_unit": self.commitment_unit,
            "auto_renew": self.auto_renew,
            "align_to_calendar": self.align_to_calendar,
            "renewal_length": self.renewal_length,
            "renewal_unit": self.renewal_unit,
            "renewal_notice_days": self.renewal_notice_days,
            "renewal_refusal_days": self.renewal_refusal_days,
            "renewal_alert_days": self.renewal_alert_days,
            "renewal_price_increase": self.renewal_price_increase,
        }
