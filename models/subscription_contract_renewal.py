import logging

import psycopg2
from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import format_date

from ..lib import consumer_law, recurrence
from .subscription_contract import RUNNING_STATES
from .subscription_plan import (
    TERM_UNITS,
    check_consumer_window,
    check_renewal_rule,
)

CUSTOMER_TYPES = [
    ("b2c", "Consumer (B2C)"),
    ("b2b", "Business (B2B)"),
]

_logger = logging.getLogger(__name__)


class SubscriptionContract(models.Model):
    _inherit = "subscription.contract"

    # Renewal rule: copied from the plan with the billing rule
    # (_compute_billing_rule in subscription_contract_billing_schedule.py).
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
        TERM_UNITS,
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

    # === ACTION METHODS === #

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
        if self.partner_id.email:
            self.with_context(renewal_refusal_open=today <= deadline)._email_customer(
                "subscription_billing.mail_template_renewal_notice",
                "subscription_billing.mail_notification_customer",
            )
        else:
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
        self._email_customer(
            "subscription_billing.mail_template_renewed",
            "subscription_billing.mail_notification_customer",
        )
