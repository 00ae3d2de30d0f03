import base64
import io
import logging

import psycopg2
import qrcode

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL, format_date

from ..lib import recurrence
from .subscription_plan import BILLING_MODES, BILLING_UNITS

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
    # Billing rule: copied from the plan when the plan is chosen, then owned by
    # the contract, so that editing a plan never rewrites signed contracts.
    billing_interval = fields.Integer(
        string="Bill Every",
        compute="_compute_billing_rule",
        store=True,
        precompute=True,
        readonly=False,
        tracking=True,
    )
    billing_unit = fields.Selection(
        BILLING_UNITS,
        compute="_compute_billing_rule",
        store=True,
        precompute=True,
        readonly=False,
        tracking=True,
    )
    billing_mode = fields.Selection(
        BILLING_MODES,
        compute="_compute_billing_rule",
        store=True,
        precompute=True,
        readonly=False,
        tracking=True,
    )
    commitment_length = fields.Integer(
        compute="_compute_billing_rule", store=True, readonly=False, precompute=True
    )
    commitment_unit = fields.Selection(
        [("month", "Months"), ("year", "Years")],
        compute="_compute_billing_rule",
        store=True,
        precompute=True,
        readonly=False,
    )
    align_to_calendar = fields.Boolean(
        compute="_compute_billing_rule",
        store=True,
        precompute=True,
        readonly=False,
        help="Bill on calendar boundaries (1st of the month, quarter or year, "
        "Mondays for weeks): the first, partial period is prorated by days.",
    )
    auto_renew = fields.Boolean(
        string="Tacit Renewal",
        compute="_compute_billing_rule",
        store=True,
        precompute=True,
        readonly=False,
        tracking=True,
    )
    renewal_length = fields.Integer(
        string="Renewal Term",
        compute="_compute_billing_rule",
        store=True,
        precompute=True,
        readonly=False,
    )
    renewal_unit = fields.Selection(
        [("month", "Months"), ("year", "Years")],
        compute="_compute_billing_rule",
        store=True,
        precompute=True,
        readonly=False,
    )
    renewal_notice_days = fields.Integer(
        string="Customer Notice (days before end)",
        compute="_compute_billing_rule",
        store=True,
        precompute=True,
        readonly=False,
    )
    renewal_refusal_days = fields.Integer(
        string="Refusal Deadline (days before end)",
        compute="_compute_billing_rule",
        store=True,
        precompute=True,
        readonly=False,
    )
    renewal_alert_days = fields.Integer(
        string="Salesperson Alert (days before end)",
        compute="_compute_billing_rule",
        store=True,
        precompute=True,
        readonly=False,
    )
    renewal_price_increase = fields.Float(
        string="Price Revision at Renewal (%)",
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
    next_period_start = fields.Date(
        compute="_compute_next_period_start",
        store=True,
        precompute=True,
        readonly=False,
        copy=False,
        help="First day of the next period to bill. Every period before it has "
        "been invoiced.",
    )
    next_invoice_date = fields.Date(
        compute="_compute_next_invoice_date",
        store=True,
        precompute=True,
        index=True,
        copy=False,
        help="Date of the next invoice: start of the next period when billing in "
        "advance, its end when billing in arrears. Empty when nothing is left to "
        "bill.",
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
    billing_error = fields.Text(copy=False, readonly=True)
    billing_error_date = fields.Date(copy=False, readonly=True, index="btree_not_null")
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
    invoice_ids = fields.One2many(
        "account.move", "subscription_contract_id", string="Invoices", readonly=True
    )
    invoice_count = fields.Integer(compute="_compute_invoice_stats", store=True)
    amount_invoiced = fields.Monetary(
        string="Total Invoiced",
        compute="_compute_invoice_stats",
        store=True,
        help="Total of the posted invoices minus credit notes, taxes included.",
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

    @api.depends("plan_id")
    def _compute_billing_rule(self):
        for contract in self:
            if contract.plan_id:
                contract.update(contract.plan_id._get_contract_rule_vals())
            elif not contract.billing_interval:
                contract.update(
                    {
                        "billing_interval": 1,
                        "billing_unit": "month",
                        "billing_mode": "advance",
                        "commitment_length": 0,
                        "commitment_unit": "month",
                        "auto_renew": False,
                        "align_to_calendar": False,
                        "renewal_length": 0,
                        "renewal_unit": "month",
                        "renewal_notice_days": 90,
                        "renewal_refusal_days": 30,
                        "renewal_alert_days": 60,
                        "renewal_price_increase": 0.0,
                    }
                )

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

    @api.depends("date_start")
    def _compute_next_period_start(self):
        for contract in self:
            if contract.state in ("draft", False) or not contract.next_period_start:
                contract.next_period_start = contract.date_start

    @api.depends(
        "next_period_start",
        "billing_interval",
        "billing_unit",
        "billing_mode",
        "align_to_calendar",
        "date_end",
        "close_date",
        "state",
    )
    def _compute_next_invoice_date(self):
        for contract in self:
            period = contract._get_period_from(contract.next_period_start)
            contract.next_invoice_date = period.invoice_date if period else False

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

    @api.depends("invoice_ids.state", "invoice_ids.amount_total_in_currency_signed")
    def _compute_invoice_stats(self):
        for contract in self:
            invoices = contract.invoice_ids.filtered(lambda m: m.state != "cancel")
            contract.invoice_count = len(invoices)
            contract.amount_invoiced = sum(
                invoices.filtered(lambda m: m.state == "posted").mapped(
                    "amount_total_in_currency_signed"
                )
            )

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

    @api.constrains("billing_interval", "commitment_length")
    def _check_billing_interval(self):
        for contract in self:
            if contract.billing_interval < 1:
                raise ValidationError(
                    _(
                        "Contract %(contract)s: 'Bill Every' must be 1 or more "
                        "(you entered %(value)s). Use 3 months for quarterly billing.",
                        contract=contract.name,
                        value=contract.billing_interval,
                    )
                )
            if contract.commitment_length < 0:
                raise ValidationError(
                    _(
                        "Contract %(contract)s: the commitment length cannot be "
                        "negative; enter 0 for an open-ended contract.",
                        contract=contract.name,
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

    def action_view_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "account.action_move_out_invoice_type"
        )
        action["domain"] = [("subscription_contract_id", "=", self.id)]
        action["context"] = {
            "default_move_type": "out_invoice",
            "default_partner_id": self.partner_invoice_id.id,
            "create": False,
        }
        if self.invoice_count == 1:
            action["views"] = [(self.env.ref("account.view_move_form").id, "form")]
            action["res_id"] = self.invoice_ids.filtered(
                lambda m: m.state != "cancel"
            ).id
        return action

    def action_invoice_now(self):
        """Invoice the due periods now, or the next period when nothing is due."""
        self.ensure_one()
        if not self.env.user.has_group(
            "subscription_billing.group_subscription_manager"
        ):
            raise AccessError(
                _(
                    "Only a Subscriptions Administrator can invoice a contract by "
                    "hand; the daily run invoices it on its date."
                )
            )
        if self.state not in BILLABLE_STATES:
            raise UserError(
                _(
                    "Contract %(contract)s is %(state)s: only an active contract, or "
                    "a closed one with days left to bill, can be invoiced.",
                    contract=self.name,
                    state=self._get_state_label(),
                )
            )
        moves = self._generate_invoices(raise_errors=True, ahead=True)
        if not moves:
            raise UserError(
                _(
                    "Contract %(contract)s has nothing left to invoice: every period "
                    "up to its end has an invoice.",
                    contract=self.name,
                )
            )
        # Billed and posted; now sent through the path of the sending cron, with
        # its guarantees (what cannot be sent here is left to the cron).
        moves.filtered(lambda m: m.state == "posted")._subscription_send_now()
        return self.action_view_invoices()

    def action_preview_next_invoice(self):
        """Show the next period and its amount without creating anything."""
        self.ensure_one()
        period = self._get_period_from(self.next_period_start)
        if not period:
            raise UserError(
                _(
                    "Contract %(contract)s has nothing left to invoice.",
                    contract=self.name,
                )
            )
        untaxed, total = self._get_period_amounts(period)
        message = _(
            "Next invoice of %(contract)s on %(date)s: %(period)s, "
            "%(untaxed)s untaxed, %(total)s taxes included.",
            contract=self.name,
            date=format_date(self.env, period.invoice_date),
            period=self._get_period_label(
                period,
                self.env.lang,
                recurrence.proration_ratio(period, self._get_pause_intervals()),
            ),
            untaxed=self.currency_id.format(untaxed),
            total=self.currency_id.format(total),
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Invoice preview"),
                "message": message,
                "type": "info",
                "sticky": True,
            },
        }

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

    # === BILLING === #

    def _get_today(self):
        """Today in the time zone of the contract's company (its partner's), so
        that a contract is billed on its date wherever the server runs."""
        self.ensure_one()
        return self.company_id._subscription_today()

    def _get_billing_anchor(self):
        self.ensure_one()
        if self.align_to_calendar:
            return recurrence.aligned_anchor(
                self.date_start, self.billing_interval, self.billing_unit
            )
        return self.date_start

    def _get_billing_last_day(self):
        """Last day that may be billed: the close date or the commitment end."""
        self.ensure_one()
        days = [d for d in (self.close_date, self.date_end) if d]
        return min(days) if days else None

    def _can_compute_periods(self):
        self.ensure_one()
        return bool(
            self.date_start
            and self.billing_unit
            and self.billing_interval
            and self.billing_interval >= 1
        )

    def _get_period_from(self, day):
        """The period that begins on ``day`` (a ``recurrence.Period``), or None."""
        self.ensure_one()
        if not day or self.state == "cancelled" or not self._can_compute_periods():
            return None
        return recurrence.period_from(
            self._get_billing_anchor(),
            day,
            self.billing_interval,
            self.billing_unit,
            self.billing_mode,
            self.date_start,
            self._get_billing_last_day(),
        )

    def _get_due_periods(self, today):
        """Periods due on ``today`` from the next period to bill, oldest first."""
        self.ensure_one()
        if not self.next_period_start or not self._can_compute_periods():
            return []
        return recurrence.due_periods(
            anchor=self._get_billing_anchor(),
            date_start=self.date_start,
            next_start=self.next_period_start,
            interval=self.billing_interval,
            unit=self.billing_unit,
            mode=self.billing_mode,
            today=today,
            last_day=self._get_billing_last_day(),
        )

    def _get_pause_intervals(self):
        self.ensure_one()
        return [(pause.date_from, pause.date_to) for pause in self.pause_ids]

    @api.model
    def _get_billing_due_domain(self):
        """Contracts with a period due today in their company's time zone."""
        return expression.AND(
            [
                [("state", "in", BILLABLE_STATES), ("next_invoice_date", "!=", False)],
                self.env["res.company"]._subscription_due_domain(
                    "next_invoice_date", skip_fields=("billing_error_date",)
                ),
            ]
        )

    def _get_period_label(self, period, lang, ratio=None):
        """'Period from 01/02/2027 to 28/02/2027' in the customer's language,
        with '(prorated: 21/31 days)' when fewer days than the whole period are
        billed (a start, an end, a suspension: ``ratio`` of the period)."""
        env = self.with_context(lang=lang).env
        label = env._(
            "Period from %(start)s to %(end)s",
            start=format_date(env, period.start, lang_code=lang),
            end=format_date(env, period.end, lang_code=lang),
        )
        days = period.days if ratio is None else round(ratio * period.full_days)
        if days != period.full_days:
            label = env._(
                "%(label)s (prorated: %(days)s/%(full_days)s days)",
                label=label,
                days=days,
                full_days=period.full_days,
            )
        return label

    def _get_period_amounts(self, period):
        """(untaxed, taxed) amounts the invoice of ``period`` will carry, computed
        as the invoice computes them (line totals prorated, then rounded)."""
        self.ensure_one()
        ratio = recurrence.proration_ratio(period, self._get_pause_intervals())
        tax_model = self.env["account.tax"]
        base_lines = [
            tax_model._prepare_base_line_for_taxes_computation(
                line,
                price_unit=line.price_unit * ratio,
                quantity=line.quantity,
                discount=line.discount,
                tax_ids=line.tax_ids,
                currency_id=self.currency_id,
                product_id=line.product_id,
                partner_id=self.partner_invoice_id or self.partner_id,
            )
            for line in self.line_ids
        ]
        tax_model._add_tax_details_in_base_lines(base_lines, self.company_id)
        tax_model._round_base_lines_tax_details(base_lines, self.company_id)
        summary = tax_model._get_tax_totals_summary(
            base_lines, self.currency_id, self.company_id
        )
        return summary["base_amount_currency"], summary["total_amount_currency"]

    def _prepare_invoice_line_vals(self, line, period, ratio, period_label):
        """Values of the invoice line billing ``line`` for ``period``: the
        contract's unit price and quantity, the total prorated by ``ratio``."""
        self.ensure_one()
        if line.product_id and not line.product_id.active:
            raise UserError(
                _(
                    "Product %(product)s of contract %(contract)s is archived: "
                    "replace it on the contract, or restore the product, then "
                    "invoice again.",
                    product=line.product_id.display_name,
                    contract=self.name,
                )
            )
        return {
            "display_type": "product",
            "sequence": line.sequence,
            "product_id": line.product_id.id,
            "name": f"{line.name}\n{period_label}",
            "quantity": line.quantity,
            "product_uom_id": line.product_uom_id.id,
            "price_unit": line.price_unit,
            "subscription_proration": ratio if ratio != 1 else 0.0,
            "discount": line.discount,
            "tax_ids": [Command.set(line.tax_ids.ids)],
        }

    def _prepare_invoice_vals(self, period):
        """Values of the invoice billing ``period``; extend to add more."""
        self.ensure_one()
        lang = self.partner_invoice_id.lang or self.partner_id.lang or self.env.lang
        ratio = recurrence.proration_ratio(period, self._get_pause_intervals())
        label = self._get_period_label(period, lang, ratio)
        journal = self.journal_id or self.env["account.journal"].search(
            [
                *self.env["account.journal"]._check_company_domain(self.company_id),
                ("type", "=", "sale"),
            ],
            limit=1,
        )
        return {
            "move_type": "out_invoice",
            "company_id": self.company_id.id,
            "partner_id": self.partner_invoice_id.id or self.partner_id.id,
            "currency_id": self.currency_id.id,
            "journal_id": journal.id,
            "invoice_date": period.invoice_date,
            "invoice_payment_term_id": self.payment_term_id.id,
            "fiscal_position_id": self.fiscal_position_id.id,
            "invoice_user_id": self.user_id.id,
            "invoice_origin": self.name,
            "ref": self.name,
            "subscription_contract_id": self.id,
            "subscription_period_start": period.start,
            "subscription_period_end": period.end,
            "sepa_mandate_id": self.mandate_id.id
            if self.payment_method == "sepa_direct_debit"
            and self.mandate_id.state == "active"
            else False,
            "invoice_line_ids": [
                Command.create(
                    self._prepare_invoice_line_vals(line, period, ratio, label)
                )
                for line in self.line_ids
            ],
        }

    def _lock_for_billing(self, nowait=False):
        """Lock the contracts' rows for this transaction. The cron skips the rows
        another worker holds; a user is told to retry."""
        if not self.ids:
            return self
        query = SQL(
            "SELECT id FROM subscription_contract WHERE id IN %s FOR NO KEY UPDATE %s",
            tuple(self.ids),
            SQL("NOWAIT") if nowait else SQL("SKIP LOCKED"),
        )
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query, log_exceptions=False)
                locked = {row[0] for row in self.env.cr.fetchall()}
        except (
            psycopg2.errors.LockNotAvailable,
            psycopg2.errors.SerializationFailure,
        ):
            # NOWAIT found a lock, or the row changed since this transaction
            # began (another worker billed it): someone else is on it.
            if not nowait:
                return self.browse()
            raise UserError(
                _(
                    "Contract %(contract)s is being invoiced by another process "
                    "right now. Try again in a minute.",
                    contract=", ".join(self.mapped("name")),
                )
            ) from None
        return self.filtered(lambda c: c.id in locked)

    def _prepare_billing(self, today=None, ahead=False):
        """Return ``(todo, handled)``: ``todo`` lists (contract, period, invoice
        values) of every period due that has no invoice yet; ``handled`` maps each
        contract to all its due periods, those skipped included (already invoiced,
        or wholly suspended), so that its next period moves past them.
        ``ahead``: when nothing is due, bill the next period now (manager's
        button)."""
        todo = []
        for contract in self:
            contract_today = today or contract._get_today()
            periods = contract._get_due_periods(contract_today)
            if not periods and ahead:
                period = contract._get_period_from(contract.next_period_start)
                if period:
                    periods = [period]
            todo.extend((contract, period, contract_today) for period in periods)
        handled = {}
        for contract, period, __ in todo:
            handled.setdefault(contract, []).append(period)
        if not todo:
            return [], handled
        # No day billed twice: leave out the days that non-cancelled invoices
        # already bill (a period rebuilt after a cancellation or a renewal, a next
        # period start moved back by a manager). One query for the batch.
        billed = self.env["account.move"]._get_billed_ranges(
            self, min(period.start for __, period, __ in todo)
        )
        for contract, periods in handled.items():
            # Days just after the handled periods already billed (the next period
            # after a cancelled one, billed ahead): the next period starts after.
            day = max(period.end for period in periods) + recurrence.ONE_DAY
            for start, end in sorted(billed.get(contract.id, [])):
                if start <= day <= end:
                    periods.append(recurrence.Period(start, end, start, end, start))
                    day = end + recurrence.ONE_DAY
        result = []
        for contract, period, day in todo:
            for part in recurrence.unbilled_parts(period, billed.get(contract.id, [])):
                ratio = recurrence.proration_ratio(
                    part, contract._get_pause_intervals()
                )
                if not ratio:
                    continue  # wholly suspended: nothing to bill
                # An invoice is dated the day it is made, never before (catch-up
                # runs, resumed contracts, periods billed again): the billed period
                # is on its lines; in advance on its day, that is the period start.
                part.invoice_date = day
                result.append((contract, part, contract._prepare_invoice_vals(part)))
        return result, handled

    def _advance_billing(self, periods_by_contract):
        """Move every contract's next period past the periods just handled."""
        for contract, periods in periods_by_contract.items():
            last_end = max(period.end for period in periods)
            if contract.next_period_start <= last_end:
                contract.next_period_start = last_end + recurrence.ONE_DAY

    def _create_invoices(self, todo, handled):
        """Create and post the invoices of ``todo`` in one batch, then move the
        contracts past the ``handled`` periods."""
        self._advance_billing(handled)
        if not todo:
            return self.env["account.move"]
        moves = (
            self.env["account.move"]
            .with_context(
                default_move_type="out_invoice",
                no_new_invoice=True,
                # The invoice's chatter starts with its email, not with a
                # "created" note and followers for every batch invoice.
                mail_create_nolog=True,
                mail_create_nosubscribe=True,
                mail_notrack=True,
            )
            .sudo()
            .create([vals for __, __, vals in todo])
        )
        moves.filtered(
            lambda m: not m.subscription_contract_id.plan_id.invoice_review
        )._post(soft=False)
        return moves

    def _generate_invoices(
        self, today=None, raise_errors=False, ahead=False, retry=None
    ):
        """Invoice every due period of the contracts, exactly once.

        Rows are locked first, so that two workers never bill the same contract at
        once; an exclusion constraint on the billed days is the last line of
        defence. All invoices are created in one batch; if the batch fails, each
        contract is retried alone in its own savepoint so that one bad contract
        (archived product, locked period...) is flagged and the others billed.

        ``retry``: a list that receives the ids of the contracts left for a next
        call because of another transaction (two workers posting in the same
        journal at once: this transaction's snapshot cannot see the invoice
        numbers the other one just committed). They are not flagged as errors.
        """
        contracts = self._lock_for_billing(nowait=raise_errors)
        failed = self.browse()
        if raise_errors:
            moves = contracts._create_invoices(
                *contracts._prepare_billing(today, ahead=ahead)
            )
            contracts.filtered("billing_error_date").write(
                {"billing_error": False, "billing_error_date": False}
            )
            return moves
        try:
            with self.env.cr.savepoint():
                moves = contracts._create_invoices(
                    *contracts._prepare_billing(today, ahead=ahead)
                )
        except Exception as error:  # pylint: disable=broad-except
            if retry is not None and is_concurrency_error(error):
                _logger.info("Batch billing met another worker, left for the next call")
                retry.extend(contracts.ids)
                return self.env["account.move"]
            _logger.info("Batch billing failed, retrying the contracts one by one")
            moves = None
        if moves is None:
            moves = self.env["account.move"]
            for contract in contracts:
                try:
                    with self.env.cr.savepoint():
                        moves |= contract._create_invoices(
                            *contract._prepare_billing(today, ahead=ahead)
                        )
                except Exception as error:  # pylint: disable=broad-except
                    failed |= contract
                    if retry is not None and is_concurrency_error(error):
                        retry.append(contract.id)
                        continue
                    contract._log_billing_error(error)
        (contracts - failed).filtered("billing_error_date").write(
            {"billing_error": False, "billing_error_date": False}
        )
        return moves

    def _log_billing_error(self, error):
        """Flag the contract, say why on its chatter and ask its salesperson."""
        self.ensure_one()
        message = str(error.args[0]) if getattr(error, "args", None) else str(error)
        _logger.info("Billing contract %s failed: %s", self.name, message)
        self.write({"billing_error": message, "billing_error_date": self._get_today()})
        self.message_post(
            body=_(
                "The invoice of this contract could not be created: %(error)s",
                error=message,
            ),
            subtype_xmlid="mail.mt_note",
        )
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=_("Billing error"),
            note=message,
            user_id=(self.user_id or self.env.user).id,
        )

    @api.model
    def _claim_for_billing(self, domain, limit):
        """Lock up to ``limit`` contracts of ``domain`` for this transaction,
        oldest due first, skipping those another worker holds (SKIP LOCKED), so
        that concurrent workers take different contracts."""
        query = self._search(domain, order="next_invoice_date, id", limit=limit)
        claim = SQL(
            "%s FOR NO KEY UPDATE OF %s SKIP LOCKED",
            query.select(SQL.identifier(self._table, "id")),
            SQL.identifier(self._table),
        )
        self.env.flush_query(claim)
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(claim, log_exceptions=False)
                return self.browse(row[0] for row in self.env.cr.fetchall())
        except psycopg2.errors.SerializationFailure:
            # A contract was billed and committed by another worker since this
            # transaction began: claim one by one, skipping those.
            _logger.info("Contracts billed meanwhile, claiming one by one")
        claimed = self.browse()
        for contract in self.search(domain, order="next_invoice_date, id"):
            claimed |= contract._lock_for_billing()
            if len(claimed) >= limit:
                break
        return claimed

    @api.model
    def _cron_generate_invoices(self, batch_size=200):
        """Daily: invoice the due periods of a bounded batch of contracts. The
        cron runner commits after each call and calls again while work remains.
        Sending is another scheduled action, another transaction: a failure while
        sending never undoes billing."""
        domain = self._get_billing_due_domain()
        contracts = self._claim_for_billing(domain, batch_size)
        retry = []
        contracts._generate_invoices(retry=retry)
        # The truth for the runner: every contract still due, those another worker
        # holds and those left for a next call included (a contract just handled
        # that stays due is not counted, so that it never makes the runner loop).
        handled = contracts - self.browse(retry)
        remaining = self.search_count(
            expression.AND([domain, [("id", "not in", handled.ids)]])
        )
        self.env["ir.cron"]._notify_progress(done=len(contracts), remaining=remaining)
        if contracts:
            # Send what was just posted right after this run.
            send_cron = self.env.ref(
                "subscription_billing.ir_cron_subscription_send",
                raise_if_not_found=False,
            )
            if send_cron:
                send_cron._trigger()

    def _rewind_billing(self, period_start):
        """An invoice of ``period_start`` was cancelled or deleted: bill it again."""
        for contract in self:
            if (
                period_start
                and contract.next_period_start
                and period_start < contract.next_period_start
            ):
                contract.next_period_start = period_start
                contract.message_post(
                    body=_(
                        "The period starting on %(date)s will be invoiced again: its "
                        "invoice was cancelled or deleted.",
                        date=format_date(self.env, period_start),
                    ),
                    subtype_xmlid="mail.mt_note",
                )


def is_concurrency_error(error):
    """True for the errors another transaction causes, that a new transaction
    (a next call of the cron) does not meet again."""
    if isinstance(
        error,
        psycopg2.errors.SerializationFailure
        | psycopg2.errors.DeadlockDetected
        | psycopg2.errors.LockNotAvailable
        | psycopg2.errors.ExclusionViolation,
    ):
        return True
    # Invoice numbers committed by another worker after this transaction began.
    return isinstance(error, psycopg2.errors.UniqueViolation) and (
        getattr(error.diag, "constraint_name", None) == "account_move_unique_name"
    )


def qr_code_data_uri(text):
    """A PNG QR code of ``text`` as a data URI, for QWeb reports."""
    image = qrcode.make(text, box_size=4, border=1)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
