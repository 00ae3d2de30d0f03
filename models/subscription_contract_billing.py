import logging
import uuid

import psycopg2

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.osv import expression
from odoo.tools import SQL, format_date

from ..lib import recurrence
from .row_claim import claim_skip_locked
from .subscription_contract import BILLABLE_STATES

_logger = logging.getLogger(__name__)


class SubscriptionContract(models.Model):
    _inherit = "subscription.contract"

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

    # === ACTION METHODS === #

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
            # The portal link of the emailed invoice: given here, in the batched
            # create, rather than by one write per invoice while sending.
            "access_token": str(uuid.uuid4()),
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
        claimed = claim_skip_locked(self, query)
        if claimed is not None:
            return claimed
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
