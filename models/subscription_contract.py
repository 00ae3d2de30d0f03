import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression

from ..lib import recurrence
from .subscription_plan import TERM_UNITS

CONTRACT_STATES = [
    ("draft", "Draft"),
    ("active", "Active"),
    ("suspended", "Suspended"),
    ("closed", "Closed"),
    ("cancelled", "Cancelled"),
]
# States in which a contract runs and may be billed or suspended.
RUNNING_STATES = ("active", "suspended")
# States whose due periods the billing cron invoices (a closed contract still
# bills its last days up to the close date, e.g. in arrears).
BILLABLE_STATES = ("active", "closed")

_logger = logging.getLogger(__name__)


class SubscriptionContract(models.Model):
    _name = "subscription.contract"
    _description = "Subscription Contract"
    _inherit = ["portal.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "date_start desc, id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Reference",
        required=True,
        copy=False,
        readonly=True,
        index="trigram",
        default=lambda self: _("New"),
    )
    state = fields.Selection(
        CONTRACT_STATES,
        string="Status",
        default="draft",
        required=True,
        copy=False,
        index=True,
        tracking=True,
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
        ondelete="restrict",
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        check_company=True,
        ondelete="restrict",
    )
    commercial_partner_id = fields.Many2one(
        related="partner_id.commercial_partner_id", store=True, index=True
    )
    partner_invoice_id = fields.Many2one(
        "res.partner",
        string="Invoice Address",
        compute="_compute_partner_invoice_id",
        store=True,
        precompute=True,
        readonly=False,
        check_company=True,
        help="Address the invoices are made out and sent to.",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Salesperson",
        default=lambda self: self.env.user,
        index=True,
        tracking=True,
        domain="[('share', '=', False)]",
    )
    team_id = fields.Many2one(
        "crm.team",
        string="Sales Team",
        compute="_compute_team_id",
        store=True,
        precompute=True,
        readonly=False,
        index=True,
        check_company=True,
    )
    plan_id = fields.Many2one(
        "subscription.plan",
        required=True,
        index=True,
        tracking=True,
        check_company=True,
        ondelete="restrict",
    )
    # Commitment: copied from the plan with the billing rule
    # (_compute_billing_rule in subscription_contract_billing_schedule.py).
    commitment_length = fields.Integer(
        compute="_compute_billing_rule", store=True, readonly=False, precompute=True
    )
    commitment_unit = fields.Selection(
        TERM_UNITS,
        compute="_compute_billing_rule",
        store=True,
        precompute=True,
        readonly=False,
    )
    churned_mrr = fields.Monetary(
        string="Churned MRR",
        compute="_compute_churned_mrr",
        store=True,
        help="MRR lost when the contract closed (0 while it runs).",
    )
    journal_id = fields.Many2one(
        "account.journal",
        string="Invoice Journal",
        compute="_compute_journal_id",
        store=True,
        precompute=True,
        readonly=False,
        domain="[('type', '=', 'sale')]",
        check_company=True,
    )
    currency_id = fields.Many2one(
        "res.currency",
        compute="_compute_currency_id",
        store=True,
        precompute=True,
        readonly=False,
        required=True,
        tracking=True,
    )
    fiscal_position_id = fields.Many2one(
        "account.fiscal.position",
        compute="_compute_fiscal_position_id",
        store=True,
        precompute=True,
        readonly=False,
        check_company=True,
        help="Maps the products' taxes and accounts for this customer.",
    )
    payment_term_id = fields.Many2one(
        "account.payment.term",
        string="Payment Terms",
        compute="_compute_payment_term_id",
        store=True,
        precompute=True,
        readonly=False,
        check_company=True,
    )
    line_ids = fields.One2many(
        "subscription.contract.line", "contract_id", string="Lines", copy=True
    )
    date_start = fields.Date(
        string="Start Date",
        required=True,
        default=fields.Date.context_today,
        tracking=True,
        index=True,
    )
    date_end = fields.Date(
        string="Commitment End",
        compute="_compute_date_end",
        store=True,
        precompute=True,
        readonly=False,
        tracking=True,
        index=True,
        help="Last day of the current commitment. Empty: open-ended contract.",
    )
    reminder_policy_id = fields.Many2one(
        "subscription.reminder.policy",
        check_company=True,
        help="Payment reminders of this contract's invoices, instead of the "
        "customer's or the plan's.",
    )
    suspended_non_payment = fields.Boolean(
        string="Suspended for Non-Payment", copy=False, readonly=True, tracking=True
    )
    partner_payment_status = fields.Selection(
        related="commercial_partner_id.subscription_payment_status",
        string="Customer Payment Status",
    )
    payment_method = fields.Selection(
        [
            ("transfer", "Bank transfer"),
            ("sepa_direct_debit", "SEPA direct debit"),
            ("card", "Card"),
        ],
        default="transfer",
        required=True,
        tracking=True,
    )
    mandate_id = fields.Many2one(
        "subscription.sepa.mandate",
        string="SEPA Mandate",
        tracking=True,
        check_company=True,
        domain="[('commercial_partner_id', '=', commercial_partner_id), "
        "('state', 'in', ('draft', 'active'))]",
    )
    payment_token_id = fields.Many2one(
        "payment.token",
        string="Saved Card",
        tracking=True,
        domain="[('partner_id', 'child_of', commercial_partner_id)]",
        help="Charged automatically when an invoice of this contract is posted.",
    )
    pause_ids = fields.One2many(
        "subscription.contract.pause", "contract_id", string="Suspensions", copy=False
    )
    terms = fields.Html(string="Terms and Conditions")
    close_reason_id = fields.Many2one(
        "subscription.close.reason",
        tracking=True,
        copy=False,
        ondelete="restrict",
    )
    close_date = fields.Date(tracking=True, copy=False)
    close_note = fields.Text(copy=False)
    allow_overlap = fields.Boolean(
        string="Allow Overlapping Contract",
        groups="subscription_billing.group_subscription_manager",
        tracking=True,
        copy=False,
        help="Set by a Subscriptions Administrator to start this contract although "
        "the customer already has a running contract on the same plan for the same "
        "products over the same dates.",
    )
    recurring_amount_untaxed = fields.Monetary(
        string="Recurring Amount (Untaxed)",
        compute="_compute_amounts",
        store=True,
        help="Untaxed amount billed every period.",
    )
    recurring_amount_tax = fields.Monetary(
        string="Recurring Taxes", compute="_compute_amounts", store=True
    )
    recurring_amount_total = fields.Monetary(
        string="Recurring Amount (Taxed)",
        compute="_compute_amounts",
        store=True,
        help="Amount including taxes billed every period.",
    )
    mrr = fields.Monetary(
        string="MRR",
        compute="_compute_amounts",
        store=True,
        aggregator="sum",
        help="Monthly Recurring Revenue: the untaxed recurring amount normalised "
        "to one month.",
    )

    # === COMPUTE METHODS === #

    @api.depends("state", "mrr")
    def _compute_churned_mrr(self):
        for contract in self:
            contract.churned_mrr = contract.mrr if contract.state == "closed" else 0.0

    @api.depends("partner_id")
    def _compute_partner_invoice_id(self):
        for contract in self:
            contract.partner_invoice_id = (
                contract.partner_id.address_get(["invoice"])["invoice"]
                if contract.partner_id
                else False
            )

    @api.depends("user_id", "company_id")
    def _compute_team_id(self):
        for contract in self:
            team = contract.user_id.sale_team_id
            if team.company_id and team.company_id != contract.company_id:
                team = False
            contract.team_id = team or contract.team_id

    @api.depends("plan_id", "company_id")
    def _compute_journal_id(self):
        for contract in self:
            contract.journal_id = contract.plan_id.journal_id or self.env[
                "account.journal"
            ].search(
                [
                    *self.env["account.journal"]._check_company_domain(
                        contract.company_id
                    ),
                    ("type", "=", "sale"),
                ],
                limit=1,
            )

    @api.depends("journal_id", "company_id")
    def _compute_currency_id(self):
        for contract in self:
            contract.currency_id = (
                contract.journal_id.currency_id or contract.company_id.currency_id
            )

    @api.depends("partner_id", "company_id")
    def _compute_fiscal_position_id(self):
        for contract in self:
            if not contract.partner_id:
                contract.fiscal_position_id = False
                continue
            contract.fiscal_position_id = (
                self.env["account.fiscal.position"]
                .with_company(contract.company_id)
                ._get_fiscal_position(
                    contract.partner_invoice_id or contract.partner_id
                )
            )

    @api.depends("partner_id", "company_id")
    def _compute_payment_term_id(self):
        for contract in self:
            contract.payment_term_id = contract.partner_id.with_company(
                contract.company_id
            ).property_payment_term_id

    @api.depends("date_start", "commitment_length", "commitment_unit")
    def _compute_date_end(self):
        for contract in self:
            if contract.date_start and contract.commitment_unit:
                contract.date_end = recurrence.commitment_end(
                    contract.date_start,
                    contract.commitment_length,
                    contract.commitment_unit,
                )
            else:
                contract.date_end = False

    @api.depends(
        "line_ids.price_subtotal",
        "line_ids.price_total",
        "billing_interval",
        "billing_unit",
        "currency_id",
    )
    def _compute_amounts(self):
        for contract in self:
            untaxed = sum(contract.line_ids.mapped("price_subtotal"))
            total = sum(contract.line_ids.mapped("price_total"))
            currency = contract.currency_id or contract.company_id.currency_id
            factor = (
                recurrence.monthly_factor(
                    contract.billing_interval, contract.billing_unit
                )
                if contract.billing_interval >= 1 and contract.billing_unit
                else 0.0
            )
            contract.recurring_amount_untaxed = currency.round(untaxed)
            contract.recurring_amount_total = currency.round(total)
            contract.recurring_amount_tax = currency.round(total - untaxed)
            contract.mrr = currency.round(untaxed * factor)

    # === CONSTRAINT METHODS === #

    @api.constrains("date_start", "date_end")
    def _check_dates(self):
        for contract in self:
            if contract.date_end and contract.date_end < contract.date_start:
                raise ValidationError(
                    _(
                        "Contract %(contract)s: the commitment end "
                        "(%(end)s) is before the start date (%(start)s). "
                        "Set an end date after the start, or leave it empty for an "
                        "open-ended contract.",
                        contract=contract.name,
                        end=contract.date_end,
                        start=contract.date_start,
                    )
                )

    @api.constrains("currency_id", "journal_id")
    def _check_currency_journal(self):
        for contract in self:
            journal_currency = contract.journal_id.currency_id
            if journal_currency and journal_currency != contract.currency_id:
                raise ValidationError(
                    _(
                        "Contract %(contract)s is in %(currency)s but its invoice "
                        "journal %(journal)s only accepts %(journal_currency)s. "
                        "Choose a journal without a currency or in %(currency)s, or "
                        "set the contract currency to %(journal_currency)s.",
                        contract=contract.name,
                        currency=contract.currency_id.name,
                        journal=contract.journal_id.display_name,
                        journal_currency=journal_currency.name,
                    )
                )

    @api.constrains("close_date", "date_start")
    def _check_close_date(self):
        for contract in self:
            if contract.close_date and contract.close_date < contract.date_start:
                raise ValidationError(
                    _(
                        "Contract %(contract)s cannot be closed on %(close)s, before "
                        "its start date %(start)s. Choose a later close date.",
                        contract=contract.name,
                        close=contract.close_date,
                        start=contract.date_start,
                    )
                )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", _("New")) == _("New"):
                company = self.env["res.company"].browse(
                    vals.get("company_id") or self.env.company.id
                )
                vals["name"] = self._get_next_reference(company, vals.get("date_start"))
        return super().create(vals_list)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_running_or_invoiced(self):
        for contract in self:
            if contract.state not in ("draft", "cancelled"):
                raise UserError(
                    _(
                        "Contract %(contract)s is %(state)s and cannot be deleted. "
                        "Close it instead, so that its history is kept.",
                        contract=contract.name,
                        state=contract._get_state_label(),
                    )
                )

    # === ACTION METHODS === #

    def action_start(self):
        for contract in self:
            if contract.state != "draft":
                raise UserError(
                    _(
                        "Contract %(contract)s is %(state)s: only a draft contract "
                        "can be started.",
                        contract=contract.name,
                        state=contract._get_state_label(),
                    )
                )
            contract._check_startable()
        self._check_duplicates()
        self.write({"state": "active"})
        return True

    def action_suspend(self):
        self._check_state_for(_("suspend"), ("active",))
        self.env["subscription.contract.pause"].create(
            [
                {"contract_id": contract.id, "date_from": contract._get_today()}
                for contract in self
            ]
        )
        self.write({"state": "suspended"})
        return True

    def action_resume(self):
        self._check_state_for(_("resume"), ("suspended",))
        for contract in self:
            contract.pause_ids.filtered(lambda p: not p.date_to)._end(
                contract._get_today()
            )
        self.write({"state": "active", "suspended_non_payment": False})
        return True

    def action_open_close_wizard(self):
        self._check_state_for(_("close"), RUNNING_STATES)
        return {
            "type": "ir.actions.act_window",
            "name": _("Close Contract"),
            "res_model": "subscription.contract.close",
            "view_mode": "form",
            "target": "new",
            "context": {"active_model": self._name, "active_ids": self.ids},
        }

    def action_cancel(self):
        self._check_state_for(_("cancel"), ("draft", "active", "suspended"))
        for contract in self:
            invoices = contract.invoice_ids.filtered(lambda m: m.state != "cancel")
            if invoices:
                raise UserError(
                    _(
                        "Contract %(contract)s has already been invoiced "
                        "(%(invoices)s): it cannot be cancelled. Close it instead, "
                        "with a reason.",
                        contract=contract.name,
                        invoices=", ".join(invoices.mapped("display_name")),
                    )
                )
        self.write({"state": "cancelled"})
        return True

    def action_draft(self):
        self._check_state_for(_("reset to draft"), ("cancelled",))
        self.write({"state": "draft"})
        return True

    # === BUSINESS METHODS === #

    def _get_state_label(self):
        self.ensure_one()
        return dict(self._fields["state"]._description_selection(self.env))[self.state]

    def _check_state_for(self, operation, allowed_states):
        """Refuse ``operation`` on contracts whose state is not allowed."""
        labels = dict(self._fields["state"]._description_selection(self.env))
        for contract in self:
            if contract.state not in allowed_states:
                raise UserError(
                    _(
                        "Contract %(contract)s is %(state)s: you can only "
                        "%(operation)s a contract that is %(allowed)s.",
                        contract=contract.name,
                        state=labels[contract.state],
                        operation=operation,
                        allowed=_(" or ").join(labels[s] for s in allowed_states),
                    )
                )

    def _check_startable(self):
        """Say what is missing before a contract can start."""
        self.ensure_one()
        missing = []
        if not self.partner_id:
            missing.append(_("a customer"))
        if not self.plan_id:
            missing.append(_("a plan"))
        if not self.line_ids:
            missing.append(_("at least one line"))
        if (
            self.payment_method == "sepa_direct_debit"
            and self.mandate_id.state != "active"
        ):
            missing.append(_("an active SEPA mandate"))
        if self.payment_method == "card" and not self.payment_token_id.active:
            missing.append(_("a saved card"))
        if missing:
            raise UserError(
                _(
                    "Contract %(contract)s cannot start: add %(missing)s.",
                    contract=self.name,
                    missing=_(" and ").join(missing),
                )
            )
        if self.date_end and self.date_end < self.date_start:
            raise UserError(
                _(
                    "Contract %(contract)s cannot start: its commitment end is "
                    "before its start date.",
                    contract=self.name,
                )
            )

    def _get_overlap_domain(self):
        """Running contracts that would bill the same thing over the same dates."""
        self.ensure_one()
        domain = [
            ("id", "!=", self.id),
            ("company_id", "=", self.company_id.id),
            ("commercial_partner_id", "=", self.commercial_partner_id.id),
            ("plan_id", "=", self.plan_id.id),
            ("state", "in", RUNNING_STATES),
            ("line_ids.product_id", "in", self.line_ids.product_id.ids),
            "|",
            ("date_end", "=", False),
            ("date_end", ">=", self.date_start),
        ]
        if self.date_end:
            domain = expression.AND([domain, [("date_start", "<=", self.date_end)]])
        return domain

    def _check_duplicates(self):
        """Refuse to start a contract that duplicates a running one, unless a
        Subscriptions Administrator allowed the overlap on the contract."""
        for contract in self:
            if contract.sudo().allow_overlap:
                continue
            others = self.sudo().search(contract._get_overlap_domain(), limit=3)
            if others:
                raise UserError(
                    _(
                        "Contract %(contract)s duplicates %(others)s: %(customer)s "
                        "already has a running contract on plan %(plan)s for the "
                        "same products over overlapping dates. Add the lines to "
                        "the existing contract, change the dates, or ask a "
                        "Subscriptions Administrator to tick 'Allow Overlapping "
                        "Contract' if both are really needed.",
                        contract=contract.name,
                        others=", ".join(others.mapped("name")),
                        customer=contract.commercial_partner_id.display_name,
                        plan=contract.plan_id.display_name,
                    )
                )

    def _close(self, reason_id, close_date, note=False):
        """Close running contracts for the reason ``reason_id`` (an id) on
        ``close_date``."""
        self._check_state_for(_("close"), RUNNING_STATES)
        self.write(
            {
                "state": "closed",
                "close_reason_id": reason_id,
                "close_date": close_date,
                "close_note": note,
            }
        )
        return True

    @api.model
    def _get_next_reference(self, company, date=None):
        """Next reference from the company's own sequence (SUB/2027/00001),
        created on first use for a company that has none yet."""
        sequence_model = self.env["ir.sequence"].sudo()
        code = "subscription.contract"
        sequence = sequence_model.search(
            [("code", "=", code), ("company_id", "=", company.id)], limit=1
        )
        if not sequence:
            template = sequence_model.search(
                [("code", "=", code), ("company_id", "=", False)], limit=1
            )
            if template:
                sequence = template.copy({"company_id": company.id})
            else:
                sequence = sequence_model.create(
                    {
                        "name": _("Subscription Contract"),
                        "code": code,
                        "company_id": company.id,
                        "prefix": "SUB/%(range_year)s/",
                        "padding": 5,
                        "use_date_range": True,
                    }
                )
        return sequence.next_by_id(sequence_date=date)

    def _get_today(self):
        """Today in the time zone of the contract's company (its partner's), so
        that a contract is billed on its date wherever the server runs."""
        self.ensure_one()
        return self.company_id._subscription_today()

    def _email_customer(self, template_xmlid, email_layout_xmlid):
        """Post ``template_xmlid`` to the customers who have an email address,
        queued with the other emails rather than sent in this transaction."""
        template = self.env.ref(template_xmlid, raise_if_not_found=False)
        for contract in self.filtered(lambda c: c.partner_id.email):
            if template:
                contract.with_context(
                    mail_notify_force_send=False
                ).message_post_with_source(
                    template,
                    subtype_xmlid="mail.mt_comment",
                    email_layout_xmlid=email_layout_xmlid,
                )
