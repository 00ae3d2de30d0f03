import base64
import io
import logging

import psycopg2
import qrcode
from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools import format_date

from ..lib import consumer_law, recurrence
from .subscription_plan import BILLING_MODES, BILLING_UNITS, check_renewal_rule

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
    renewal_refused = fields.Boolean(
        copy=False,
        tracking=True,
        help="The customer refused the renewal: the contract expires at the end of "
        "its commitment.",
    )
    renewal_refusal_reason = fields.Char(copy=False, tracking=True)
    renewal_refusal_deadline = fields.Date(
        compute="_compute_renewal_dates",
        help="Last day on which the customer may refuse the tacit renewal.",
    )
    renewal_next_end = fields.Date(
        string="End after Renewal", compute="_compute_renewal_dates"
    )
    renewal_notice_date = fields.Date(
        compute="_compute_renewal_schedule",
        store=True,
        index="btree_not_null",
        help="When the customer gets the renewal notice of the current term.",
    )
    renewal_alert_date = fields.Date(
        compute="_compute_renewal_schedule",
        store=True,
        index="btree_not_null",
        help="When the salesperson is warned of the end of the current term.",
    )
    renewal_error_date = fields.Date(copy=False, readonly=True)
    renewal_count = fields.Integer(copy=False, readonly=True)
    origin_contract_id = fields.Many2one(
        "subscription.contract",
        string="Renews",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="The contract this new commitment follows.",
    )
    notice_ids = fields.One2many(
        "subscription.contract.notice", "contract_id", string="Notices", copy=False
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

    @api.depends(
        "date_end",
        "renewal_refusal_days",
        "renewal_length",
        "renewal_unit",
        "commitment_length",
        "commitment_unit",
    )
    def _compute_renewal_dates(self):
        for contract in self:
            if not contract.date_end:
                contract.renewal_refusal_deadline = False
                contract.renewal_next_end = False
                continue
            contract.renewal_refusal_deadline = fields.Date.subtract(
                contract.date_end, days=contract.renewal_refusal_days
            )
            contract.renewal_next_end = contract._get_renewed_end()

    @api.depends(
        "state",
        "date_end",
        "auto_renew",
        "renewal_refused",
        "renewal_notice_days",
        "renewal_alert_days",
        "notice_ids.kind",
        "notice_ids.term_end",
    )
    def _compute_renewal_schedule(self):
        for contract in self:
            done = {
                notice.kind
                for notice in contract.notice_ids
                if notice.term_end == contract.date_end
            }
            running = contract.state in RUNNING_STATES and contract.date_end
            renews = contract.auto_renew and not contract.renewal_refused
            contract.renewal_notice_date = (
                fields.Date.subtract(
                    contract.date_end, days=contract.renewal_notice_days
                )
                if running and renews and "customer_notice" not in done
                else False
            )
            contract.renewal_alert_date = (
                fields.Date.subtract(
                    contract.date_end, days=contract.renewal_alert_days
                )
                if running and "salesperson_alert" not in done
                else False
            )

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

    def _compute_access_url(self):
        res = super()._compute_access_url()
        for contract in self:
            contract.access_url = f"/my/subscriptions/{contract.id}"
        return res

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

    @api.constrains(
        "renewal_length",
        "renewal_notice_days",
        "renewal_refusal_days",
        "renewal_alert_days",
    )
    def _check_renewal_rule(self):
        for contract in self:
            check_renewal_rule(
                contract, _("Contract %(contract)s", contract=contract.name)
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

    def action_renew_now(self):
        self.ensure_one()
        self._check_renewable()
        return {
            "type": "ir.actions.act_window",
            "name": _("Renew Contract"),
            "res_model": "subscription.contract.renew",
            "view_mode": "form",
            "target": "new",
            "context": {"default_contract_id": self.id},
        }

    def action_refuse_renewal(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Do Not Renew"),
            "res_model": "subscription.contract.refuse.renewal",
            "view_mode": "form",
            "target": "new",
            "context": {"default_contract_id": self.id},
        }

    def action_propose_new_commitment(self):
        """A draft contract starting the day after this one ends, for the
        salesperson to adjust and start."""
        self.ensure_one()
        if not self.date_end:
            raise UserError(
                _(
                    "Contract %(contract)s is open-ended: set its commitment end "
                    "before proposing a new commitment.",
                    contract=self.name,
                )
            )
        start = self.date_end + recurrence.ONE_DAY
        proposal = self.copy(
            {
                "date_start": start,
                "date_end": recurrence.commitment_end(
                    start, self.commitment_length, self.commitment_unit
                ),
                "origin_contract_id": self.id,
                "user_id": self.user_id.id,
            }
        )
        self.message_post(
            body=_(
                "New commitment proposed: %(proposal)s, from %(date)s.",
                proposal=proposal._get_html_link(),
                date=format_date(self.env, proposal.date_start),
            ),
            subtype_xmlid="mail.mt_note",
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": proposal.id,
            "view_mode": "form",
            "views": [(False, "form")],
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

    def _get_today(self):
        """Today in the time zone of the contract's company (its partner's), so
        that a contract is billed on its date wherever the server runs."""
        self.ensure_one()
        return self.company_id._subscription_today()

    def _suspend_for_non_payment(self, day):
        """Suspended by the last step of a payment reminder policy."""
        self.env["subscription.contract.pause"].create(
            [{"contract_id": contract.id, "date_from": day} for contract in self]
        )
        self.write({"state": "suspended", "suspended_non_payment": True})
        for contract in self:
            body = _("Suspended for non-payment by the payment reminders.")
            partners = self.env["res.partner"]
            renews = contract.auto_renew and not contract.renewal_refused
            if contract.date_end and renews:
                # The salesperson is alerted: no tacit renewal while unpaid.
                body += " " + _(
                    "It does not renew tacitly while suspended: it resumes and "
                    "renews when the customer pays, else it expires on %(date)s.",
                    date=format_date(contract.env, contract.date_end),
                )
                partners = contract.user_id.partner_id
            contract.message_post(
                body=body, subtype_xmlid="mail.mt_note", partner_ids=partners.ids
            )

    def _get_portal_qr_code(self):
        """PNG data URI of a QR code to this contract in the customer portal."""
        self.ensure_one()
        return qr_code_data_uri(self.get_base_url() + self.get_portal_url())

    # === RENEWAL === #

    def _get_renewal_term(self):
        """(length, unit) of a renewed term: the renewal term, else the
        commitment's."""
        self.ensure_one()
        if self.renewal_length:
            return self.renewal_length, self.renewal_unit
        return self.commitment_length, self.commitment_unit

    def _get_renewed_end(self, length=None, unit=None):
        self.ensure_one()
        if not self.date_end:
            return False
        if not length:
            length, unit = self._get_renewal_term()
        if not length:
            return False
        return recurrence.commitment_end(
            self.date_end + recurrence.ONE_DAY, length, unit
        )

    def _get_renewed_amount(self, price_increase=None):
        self.ensure_one()
        rate = self.renewal_price_increase if price_increase is None else price_increase
        return self.currency_id.round(self.recurring_amount_untaxed * (1 + rate / 100))

    def _check_renewable(self):
        for contract in self:
            if contract.state not in RUNNING_STATES or not contract.date_end:
                raise UserError(
                    _(
                        "Contract %(contract)s cannot be renewed: only an active or "
                        "suspended contract with a commitment end can be.",
                        contract=contract.name,
                    )
                )

    def _renew(self, length=None, unit=None, price_increase=None, today=None):
        """Renew for a new term from the day after the current end: record it
        once for the term (unique key), revise prices, tell the chatter."""
        self.ensure_one()
        self._check_renewable()
        old_end = self.date_end
        new_end = self._get_renewed_end(length, unit)
        if not new_end:
            raise UserError(
                _(
                    "Contract %(contract)s has no renewal term: set a renewal term "
                    "or a commitment length.",
                    contract=self.name,
                )
            )
        self.env["subscription.contract.notice"].sudo().create(
            {
                "contract_id": self.id,
                "term_end": old_end,
                "kind": "renewal",
                "date": today or self._get_today(),
            }
        )
        rate = self.renewal_price_increase if price_increase is None else price_increase
        if rate:
            for line in self.line_ids:
                line.price_unit = self.currency_id.round(
                    line.price_unit * (1 + rate / 100)
                )
        self.write(
            {
                "date_end": new_end,
                "renewal_count": self.renewal_count + 1,
                "renewal_refused": False,
                "renewal_refusal_reason": False,
                "renewal_refusal_date": False,
                "renewal_refusal_late": False,
            }
        )
        body = _(
            "Renewed: the commitment that ended on %(old)s now runs until %(new)s.",
            old=format_date(self.env, old_end),
            new=format_date(self.env, new_end),
        )
        if rate:
            body += " " + _(
                "Prices revised by %(rate)s%%: %(amount)s per period.",
                rate=rate,
                amount=self.currency_id.format(self.recurring_amount_untaxed),
            )
        self.message_post(body=body, subtype_xmlid="mail.mt_note")
        return True

    def _expire(self, today=None):
        """Close at the end of the commitment, as expired; a suspension still
        open ends with the contract."""
        self.ensure_one()
        unpaid = self.state == "suspended" and self.suspended_non_payment
        self.pause_ids.filtered(lambda p: not p.date_to)._end(
            self.date_end + recurrence.ONE_DAY
        )
        self.env["subscription.contract.notice"].sudo().create(
            {
                "contract_id": self.id,
                "term_end": self.date_end,
                "kind": "expiry",
                "date": today or self._get_today(),
            }
        )
        reason = self.env.ref(
            "subscription_billing.close_reason_expired", raise_if_not_found=False
        )
        self._close(reason.id if reason else False, self.date_end)
        body = _(
            "Expired at the end of its commitment on %(date)s.",
            date=format_date(self.env, self.date_end),
        )
        if unpaid and self.auto_renew and not self.renewal_refused:
            body += " " + _(
                "It was not renewed tacitly: it was still suspended for non-payment."
            )
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=_("Expired unpaid"),
                note=body,
                user_id=(self.user_id or self.env.user).id,
            )
        self.message_post(body=body, subtype_xmlid="mail.mt_note")

    def _send_renewal_notice(self, today):
        """Tell the customer of the tacit renewal. Sent late (after one month
        before the refusal deadline), it gives a consumer the right to end the
        contract at any time after the renewal (L215-1), recorded here; a past
        refusal deadline is never printed."""
        self.ensure_one()
        self.env["subscription.contract.notice"].sudo().create(
            {
                "contract_id": self.id,
                "term_end": self.date_end,
                "kind": "customer_notice",
                "date": today,
            }
        )
        deadline = self.renewal_refusal_deadline
        if self.customer_type == "b2c" and consumer_law.notice_is_late(today, deadline):
            renewal_day = self.date_end + recurrence.ONE_DAY
            self.free_termination_date = renewal_day
            self.message_post(
                body=_(
                    "The renewal notice was sent late, on %(today)s (the consumer "
                    "had to get it by %(latest)s): after the renewal, from "
                    "%(date)s, the customer may end the contract at any time "
                    "(French Consumer Code, L215-1).",
                    today=format_date(self.env, today),
                    latest=format_date(self.env, deadline - relativedelta(months=1)),
                    date=format_date(self.env, renewal_day),
                ),
                subtype_xmlid="mail.mt_note",
            )
        template = self.env.ref(
            "subscription_billing.mail_template_renewal_notice",
            raise_if_not_found=False,
        )
        if template and self.partner_id.email:
            self.with_context(
                mail_notify_force_send=False,
                renewal_refusal_open=today <= deadline,
            ).message_post_with_source(
                template,
                subtype_xmlid="mail.mt_comment",
                email_layout_xmlid="subscription_billing.mail_notification_customer",
            )
        elif not self.partner_id.email:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=_("Send the renewal notice by post"),
                note=_(
                    "%(customer)s has no email address: post the renewal notice "
                    "before %(date)s.",
                    customer=self.partner_id.display_name,
                    date=format_date(self.env, max(deadline, today)),
                ),
                user_id=(self.user_id or self.env.user).id,
            )

    def _send_renewal_alert(self, today):
        self.ensure_one()
        self.env["subscription.contract.notice"].sudo().create(
            {
                "contract_id": self.id,
                "term_end": self.date_end,
                "kind": "salesperson_alert",
                "date": today,
            }
        )
        renews = self.auto_renew and not self.renewal_refused
        if renews and self.state == "suspended" and self.suspended_non_payment:
            renews = False
        summary = (
            _("Renews on %(date)s", date=format_date(self.env, self.date_end))
            if renews
            else _("Expires on %(date)s", date=format_date(self.env, self.date_end))
        )
        note = (
            _(
                "%(contract)s (%(customer)s) renews tacitly after %(date)s for a new "
                "term, until %(new_end)s.",
                contract=self.name,
                customer=self.partner_id.display_name,
                date=format_date(self.env, self.date_end),
                new_end=format_date(self.env, self.renewal_next_end),
            )
            if renews
            else _(
                "%(contract)s (%(customer)s) expires on %(date)s. Propose a new "
                "commitment to keep the customer.",
                contract=self.name,
                customer=self.partner_id.display_name,
                date=format_date(self.env, self.date_end),
            )
        )
        if self.auto_renew and not self.renewal_refused and not renews:
            note += " " + _(
                "It is suspended for non-payment: it renews only if the customer "
                "pays before the end."
            )
        user = self.user_id or self.env.user
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            date_deadline=self.date_end,
            summary=summary,
            note=note,
            user_id=user.id,
        )
        if user.partner_id.email:
            self.message_notify(
                partner_ids=user.partner_id.ids,
                subject=f"{self.name}: {summary}",
                body=note,
            )

    @api.model
    def _get_renewal_domains(self):
        """(kind, domain) of the contracts with something due today."""

        def per_company(field, op):
            return self.env["res.company"]._subscription_due_domain(
                field, op, skip_fields=("renewal_error_date",)
            )

        running = [("state", "in", RUNNING_STATES)]
        return [
            ("end", expression.AND([running, per_company("date_end", "<")])),
            (
                "notice",
                expression.AND([running, per_company("renewal_notice_date", "<=")]),
            ),
            (
                "alert",
                expression.AND([running, per_company("renewal_alert_date", "<=")]),
            ),
        ]

    @api.model
    def _cron_process_renewals(self, batch_size=200):
        """Daily: end of terms (renew or expire), then customer notices, then
        salesperson alerts, each once per term, in bounded batches."""
        done = remaining = 0
        for kind, domain in self._get_renewal_domains():
            contracts = self.search(domain, order="date_end, id", limit=batch_size)
            contracts._process_renewal(kind)
            done += len(contracts)
            if len(contracts) == batch_size:
                remaining += self.search_count(domain)
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)

    def _process_renewal(self, kind):
        """Handle ``kind`` ('end', 'notice', 'alert') for each contract in its own
        savepoint: a failing contract is flagged, the others go on."""
        for contract in self:
            today = contract._get_today()
            try:
                with self.env.cr.savepoint():
                    if kind == "end":
                        contract._process_term_end(today)
                    elif kind == "notice":
                        contract._send_renewal_notice(today)
                    else:
                        contract._send_renewal_alert(today)
            except psycopg2.errors.UniqueViolation:
                _logger.info("Renewal %s of %s already done", kind, contract.name)
            except Exception as error:  # pylint: disable=broad-except
                contract._log_renewal_error(error, today)
            else:
                contract._clear_renewal_error()

    def _process_term_end(self, today):
        """Renew tacitly, else expire. A contract suspended for non-payment does
        not renew; one whose notice was never sent gets it first (late)."""
        self.ensure_one()
        unpaid = self.state == "suspended" and self.suspended_non_payment
        if self.auto_renew and not self.renewal_refused and not unpaid:
            if not self.notice_ids.filtered(
                lambda n: n.kind == "customer_notice" and n.term_end == self.date_end
            ):
                self._send_renewal_notice(today)
            self._renew(today=today)
            self._send_renewed_email()
        else:
            self._expire(today=today)

    def _log_renewal_error(self, error, today):
        """Retry tomorrow; only the first failure gets a note and an activity,
        not one a day while it keeps failing."""
        self.ensure_one()
        message = str(error.args[0]) if error.args else str(error)
        _logger.info("Renewal of contract %s failed: %s", self.name, message)
        self.renewal_error_date = today
        if self.renewal_error_activity_id:
            return
        body = _(
            "The end of term of this contract could not be processed: %(error)s. "
            "It is tried again every day.",
            error=message,
        )
        self.message_post(body=body, subtype_xmlid="mail.mt_note")
        self.renewal_error_activity_id = self.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=_("Renewal error"),
            note=body,
            user_id=(self.user_id or self.env.user).id,
        )

    def _clear_renewal_error(self):
        if self.renewal_error_date:
            self.renewal_error_activity_id.action_feedback(
                feedback=_("The end of term was processed.")
            )
            self.renewal_error_date = False

    def _send_renewed_email(self):
        template = self.env.ref(
            "subscription_billing.mail_template_renewed", raise_if_not_found=False
        )
        for contract in self.filtered(lambda c: c.partner_id.email):
            if template:
                contract.with_context(
                    mail_notify_force_send=False
                ).message_post_with_source(
                    template,
                    subtype_xmlid="mail.mt_comment",
                    email_layout_xmlid="subscription_billing.mail_notification_customer",
                )


def qr_code_data_uri(text):
    """A PNG QR code of ``text`` as a data URI, for QWeb reports."""
    image = qrcode.make(text, box_size=4, border=1)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
