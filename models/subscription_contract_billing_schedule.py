from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.osv import expression

from ..lib import recurrence
from .subscription_contract import BILLABLE_STATES
from .subscription_plan import BILLING_MODES, BILLING_UNITS


class SubscriptionContract(models.Model):
    """The billing schedule of a contract: its billing rule, the next period to
    bill and the periods it cuts the contract into. The invoices themselves are
    made in subscription_contract_billing.py."""

    _inherit = "subscription.contract"

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
    align_to_calendar = fields.Boolean(
        compute="_compute_billing_rule",
        store=True,
        precompute=True,
        readonly=False,
        help="Bill on calendar boundaries (1st of the month, quarter or year, "
        "Mondays for weeks): the first, partial period is prorated by days.",
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
    billing_error = fields.Text(copy=False, readonly=True)
    billing_error_date = fields.Date(copy=False, readonly=True, index="btree_not_null")

    # === COMPUTE METHODS === #

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

    # === CONSTRAINT METHODS === #

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

    # === BUSINESS METHODS === #

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
