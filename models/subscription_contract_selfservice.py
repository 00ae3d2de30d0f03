import logging

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date

from ..lib import recurrence, termination
from .subscription_contract import RUNNING_STATES

_logger = logging.getLogger(__name__)

# A refund of an advance is made or scheduled within this many days (L215-1).
REFUND_DAYS = 30


class SubscriptionContract(models.Model):
    """What customers do on their own contract from the portal: end it, refuse
    its renewal (French Consumer Code, L215-1 and L215-1-1), and the credit of
    the advance when a consumer told late of the renewal ends it."""

    _inherit = "subscription.contract"

    termination_request_date = fields.Date(
        string="Ended by the Customer On",
        copy=False,
        readonly=True,
        tracking=True,
        help="Day the customer ended the contract or refused its renewal online.",
    )
    termination_date = fields.Date(
        string="Ends On",
        copy=False,
        readonly=True,
        tracking=True,
        help="Last day of the contract, as the customer ended it.",
    )
    advance_credit_move_id = fields.Many2one(
        "account.move",
        string="Advance Credited By",
        copy=False,
        readonly=True,
        help="Credit note of the days invoiced in advance after a free "
        "termination (French Consumer Code, L215-1).",
    )
    advance_refund_method = fields.Selection(
        [
            ("card", "Refunded to the card"),
            ("transfer", "Refund by bank transfer"),
            ("deducted", "Deducted from the open invoice"),
        ],
        copy=False,
        readonly=True,
    )
    termination_reason_id = fields.Many2one(
        "subscription.close.reason",
        copy=False,
        readonly=True,
        ondelete="restrict",
        help="Close reason of a contract that the customer ended for a later "
        "date: used when it expires.",
    )

    # === BUSINESS METHODS: WHAT ENDS WHEN === #

    def _get_renewal_date(self):
        """First day of the renewed term: the day after the current end."""
        self.ensure_one()
        return self.date_end + recurrence.ONE_DAY if self.date_end else False

    def _get_paid_until(self):
        """Last day already invoiced (in advance), if any."""
        self.ensure_one()
        if self.next_period_start and self.next_period_start > self.date_start:
            return self.next_period_start - recurrence.ONE_DAY
        return None

    def _get_portal_termination(self, today=None):
        """What ending the contract today means: a dict with ``allowed``,
        ``blocked`` (why not, for the customer), ``end`` (last day) and
        ``rule`` (see lib/termination.py)."""
        self.ensure_one()
        today = today or self._get_today()
        info = {"allowed": False, "blocked": False, "end": False, "rule": False}
        if self.state not in RUNNING_STATES:
            info["blocked"] = _("This subscription has ended.")
            return info
        business = self.customer_type == "b2b"
        if business and not self.plan_id.portal_termination_b2b:
            info["blocked"] = _(
                "To end this subscription, please contact your salesperson: it "
                "follows the terms agreed with your company."
            )
            return info
        end, rule = termination.termination_date(
            today,
            date_end=self.date_end,
            refusal_deadline=self.renewal_refusal_deadline,
            renewed_end=self.renewal_next_end,
            auto_renew=self.auto_renew,
            renewal_refused=self.renewal_refused,
            free_from=False if business else self.free_termination_date,
            paid_until=self._get_paid_until(),
            notice_days=self.plan_id.portal_termination_notice_days if business else 0,
        )
        if self.termination_date and rule != termination.FREE:
            info["blocked"] = _(
                "You already ended this subscription: it ends on %(date)s.",
                date=format_date(self.env, self.termination_date),
            )
            return info
        if self.renewal_refused and rule == termination.TERM_END:
            info["blocked"] = _(
                "This subscription is not renewed: it ends on %(date)s.",
                date=format_date(self.env, self.date_end),
            )
            return info
        info.update(allowed=True, end=end, rule=rule)
        return info

    def _can_portal_refuse_renewal(self, today=None):
        self.ensure_one()
        today = today or self._get_today()
        return self.state in RUNNING_STATES and termination.can_refuse_renewal(
            today,
            self.date_end,
            self.renewal_refusal_deadline,
            self.auto_renew,
            self.renewal_refused,
        )

    def _get_termination_summary(self, end, credit_note=None, refund=None):
        """Sentences telling the customer what happens once the contract ends
        on ``end``: open invoices, direct debits or card, advances. In the
        language of ``self.env``."""
        self.ensure_one()
        env = self.env
        lines = []
        day = format_date(env, end)
        open_invoices = self.invoice_ids.filtered(
            lambda m: (
                m.state == "posted"
                and m.move_type == "out_invoice"
                and m.payment_state in ("not_paid", "partial")
            )
        )
        if credit_note:
            open_invoices = open_invoices.filtered(
                lambda m: m.payment_state in ("not_paid", "partial")
            )
        if open_invoices:
            lines.append(
                _(
                    "Invoices still open (%(invoices)s, %(amount)s in all) remain "
                    "due for the days up to %(date)s.",
                    invoices=", ".join(open_invoices.mapped("name")),
                    amount=self.currency_id.format(
                        sum(open_invoices.mapped("amount_residual"))
                    ),
                    date=day,
                )
            )
        else:
            lines.append(_("You have no open invoice on this subscription."))
        if self.payment_method == "sepa_direct_debit":
            lines.append(
                _(
                    "Your direct debit mandate is used only for the invoices still "
                    "due: nothing is debited for the days after %(date)s.",
                    date=day,
                )
            )
        elif self.payment_method == "card":
            lines.append(
                _(
                    "Your card is charged only for the invoices still due: never "
                    "for the days after %(date)s.",
                    date=day,
                )
            )
        lines.append(_("No invoice is issued for the days after %(date)s.", date=day))
        if credit_note:
            lines.append(
                _(
                    "The days invoiced in advance after %(date)s are credited: "
                    "credit note %(move)s, %(amount)s.",
                    date=day,
                    move=credit_note.name,
                    amount=self.currency_id.format(credit_note.amount_total),
                )
            )
            if refund == "card":
                lines.append(_("It is refunded to your card."))
            elif refund == "transfer":
                lines.append(
                    _(
                        "It is refunded by bank transfer to your account by %(date)s.",
                        date=format_date(
                            env, self._get_today() + relativedelta(days=REFUND_DAYS)
                        ),
                    )
                )
            elif refund == "deducted":
                lines.append(_("It is deducted from the invoice still open."))
        else:
            paid_until = self._get_paid_until()
            if paid_until and paid_until >= end and self.next_period_start:
                lines.append(
                    _(
                        "Periods already invoiced run until %(date)s: nothing is "
                        "credited for them.",
                        date=format_date(env, paid_until),
                    )
                )
        return lines

    # === BUSINESS METHODS: ENDING === #

    def _portal_terminate(self, today=None, origin=None):
        """End the contract as the customer asked from the portal: at once
        when the rule allows it, else at the end of its term or notice."""
        self.ensure_one()
        today = today or self._get_today()
        info = self._get_portal_termination(today)
        if not info["allowed"]:
            raise UserError(info["blocked"])
        reason = self.env.ref("subscription_billing.close_reason_customer_request")
        end = info["end"]
        self.write(
            {
                "termination_request_date": today,
                "termination_date": end,
                "termination_reason_id": reason.id,
            }
        )
        body = _(
            "Ended online by the customer on %(today)s: the contract ends on %(date)s.",
            today=format_date(self.env, today),
            date=format_date(self.env, end),
        )
        if origin:
            body += " " + origin
        credit = refund = None
        if end <= today:
            self._close(reason.id, end, _("Ended online by the customer."))
            credit = self.advance_credit_move_id or None
            refund = self.advance_refund_method or None
        elif self.date_end and end == self.date_end:
            self.write(
                {
                    "renewal_refused": True,
                    "renewal_refusal_reason": _("Ended online by the customer"),
                    "renewal_refusal_date": today,
                }
            )
        elif not self.date_end:
            # Open-ended: it now ends once the notice has run.
            self.write({"date_end": end, "auto_renew": False})
        # Past the refusal deadline it renews first: _renew stops it then.
        self.message_post(body=body, subtype_xmlid="mail.mt_note")
        self._notify_salesperson_of_termination(body)
        self._send_termination_confirmation("termination", end, credit, refund)
        return end

    def _portal_refuse_renewal(self, today=None, origin=None):
        """The customer refuses the coming tacit renewal online."""
        self.ensure_one()
        today = today or self._get_today()
        if not self._can_portal_refuse_renewal(today):
            raise UserError(
                _(
                    "The renewal of %(contract)s can no longer be refused online.",
                    contract=self.name,
                )
            )
        reason = self.env.ref("subscription_billing.close_reason_customer_request")
        self.write(
            {
                "renewal_refused": True,
                "renewal_refusal_reason": _("Refused online by the customer"),
                "renewal_refusal_date": today,
                "termination_request_date": today,
                "termination_date": self.date_end,
                "termination_reason_id": reason.id,
            }
        )
        body = _(
            "The customer refused the renewal online on %(today)s: the contract "
            "ends on %(date)s.",
            today=format_date(self.env, today),
            date=format_date(self.env, self.date_end),
        )
        if origin:
            body += " " + origin
        self.message_post(body=body, subtype_xmlid="mail.mt_note")
        self._notify_salesperson_of_termination(body)
        self._send_termination_confirmation("refusal", self.date_end)
        return self.date_end

    def _notify_salesperson_of_termination(self, body):
        self.ensure_one()
        user = self.user_id or self.env.user
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=_("Customer ended the subscription"),
            note=body,
            user_id=user.id,
        )

    def _send_termination_confirmation(self, kind, end, credit=None, refund=None):
        """The confirmation on a durable medium (L215-1-1): an email stating
        the end date and what happens to open invoices, payments, advances."""
        self.ensure_one()
        if not self.partner_id.email:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=_("Send the termination confirmation by post"),
                note=_(
                    "%(customer)s has no email address: post them the "
                    "confirmation that the contract ends on %(date)s.",
                    customer=self.partner_id.display_name,
                    date=format_date(self.env, end),
                ),
                user_id=(self.user_id or self.env.user).id,
            )
            return
        lang = self.partner_id.lang or self.env.lang
        local = self.sudo().with_context(lang=lang)
        summary = local._get_termination_summary(end, credit, refund)
        self.with_context(
            termination_kind=kind,
            termination_end=end,
            termination_summary=summary,
        )._email_customer(
            "subscription_billing.mail_template_termination_confirmation",
            "subscription_billing.mail_notification_customer",
        )

    # === BUSINESS METHODS: ADVANCES (L215-1 al. 2) === #

    def _credit_advance(self):
        """A consumer told late ends the contract free of charge: credit the
        days invoiced after the close date (prorated by the day, as every
        amendment), deduct it from an unpaid advance, refund a paid one within
        30 days. Return (credit note, 'card'|'transfer'|'deducted'|None)."""
        self.ensure_one()
        close_date = self.close_date
        lines = self.line_ids.filtered(
            lambda line: not line.date_end or line.date_end > close_date
        )
        lines.with_context(subscription_amendment_done=True).write(
            {"date_end": close_date}
        )
        segments = [s for s in self._get_amendment_segments() if s["credit"]]
        if not segments:
            return None, None
        untaxed = self._get_segments_amounts(segments)[0]
        if self.currency_id.is_zero(untaxed):
            return None, None
        vals = self._prepare_amendment_invoice_vals(segments)
        credit_note = (
            self.env["account.move"]
            .sudo()
            .with_context(no_new_invoice=True, mail_create_nolog=True)
            .create(vals)
        )
        credit_note._post(soft=False)
        refund = self._settle_advance_credit(credit_note)
        self.message_post(
            body=_(
                "Free termination (French Consumer Code, L215-1): the days invoiced "
                "after %(date)s are credited by %(move)s.",
                date=format_date(self.env, close_date),
                move=credit_note._get_html_link(),
            ),
            subtype_xmlid="mail.mt_note",
        )
        return credit_note, refund

    def _settle_advance_credit(self, credit_note):
        """Deduct the credit from the advance still due; refund what was
        paid: to the card it was charged to when its provider refunds, else
        by an outbound payment to the customer's bank account."""
        self.ensure_one()
        receivable = credit_note.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )
        invoices = self.invoice_ids.filtered(
            lambda m: m.state == "posted" and m.move_type == "out_invoice"
        )
        # Only the advance itself (the invoices of the days credited) is
        # reduced: another open invoice stays due as it is.
        unpaid = invoices.filtered(
            lambda m: (
                m.payment_state in ("not_paid", "partial")
                and m.subscription_period_end
                and m.subscription_period_end > self.close_date
            )
        )
        result = None
        for invoice in unpaid.sorted("invoice_date", reverse=True):
            if credit_note.currency_id.is_zero(credit_note.amount_residual):
                break
            (
                receivable
                + invoice.line_ids.filtered(
                    lambda line: (
                        line.account_id == receivable.account_id and not line.reconciled
                    )
                )
            ).reconcile()
            result = "deducted"
        amount = credit_note.amount_residual
        if credit_note.currency_id.is_zero(amount):
            return result
        source = (
            invoices.sudo()
            .transaction_ids.filtered(
                lambda tx: (
                    tx.state == "done"
                    and tx.operation != "refund"
                    and tx.provider_id.support_refund in ("full_only", "partial")
                    and tx.currency_id == credit_note.currency_id
                    and tx.amount >= amount
                )
            )
            .sorted("id", reverse=True)[:1]
        )
        if source and (
            source.provider_id.support_refund == "partial"
            or not source.currency_id.compare_amounts(source.amount, amount)
        ):
            try:
                with self.env.cr.savepoint():
                    refund_tx = self._refund_to_card(source, amount, credit_note)
                if refund_tx:
                    return "card"
            except Exception as error:  # pylint: disable=broad-except
                _logger.info("Card refund of %s failed: %s", credit_note.name, error)
        self._schedule_refund_transfer(credit_note, amount)
        return "transfer"

    def _refund_to_card(self, source, amount, credit_note):
        source.sudo().action_refund(amount_to_refund=amount)
        refund_tx = source.child_transaction_ids.filtered(
            lambda tx: tx.operation == "refund"
        ).sorted("id")[-1:]
        if not refund_tx:
            return refund_tx
        refund_tx.invoice_ids = credit_note
        if refund_tx.state == "done" and not refund_tx.is_post_processed:
            refund_tx._post_process()
        return refund_tx

    def _schedule_refund_transfer(self, credit_note, amount):
        """A draft outbound payment to the customer's bank account and one
        activity for the accountant to make it within 30 days."""
        partner = self.commercial_partner_id
        bank = (self.mandate_id.partner_bank_id if self.mandate_id else False) or (
            partner.bank_ids[:1]
        )
        journal = self.env["account.journal"].search(
            [
                ("type", "=", "bank"),
                ("company_id", "=", self.company_id.id),
            ],
            limit=1,
        )
        payment = (
            self.env["account.payment"]
            .sudo()
            .create(
                {
                    "payment_type": "outbound",
                    "partner_type": "customer",
                    "partner_id": partner.id,
                    "amount": amount,
                    "currency_id": credit_note.currency_id.id,
                    "journal_id": journal.id,
                    "company_id": self.company_id.id,
                    "partner_bank_id": bank.id if bank else False,
                    "memo": credit_note.name,
                    "invoice_ids": [fields.Command.set(credit_note.ids)],
                }
            )
        )
        deadline = self._get_today() + relativedelta(days=REFUND_DAYS)
        credit_note.activity_schedule(
            "mail.mail_activity_data_todo",
            date_deadline=deadline,
            summary=_(
                "Refund the advance by %(date)s", date=format_date(self.env, deadline)
            ),
            note=_(
                "%(customer)s ended %(contract)s free of charge (L215-1): pay the "
                "refund %(payment)s of %(amount)s to %(account)s by %(date)s.",
                customer=partner.display_name,
                contract=self.name,
                payment=payment.display_name,
                amount=credit_note.currency_id.format(amount),
                account=bank.display_name if bank else _("their bank account"),
                date=format_date(self.env, deadline),
            ),
            user_id=self._get_accountant().id,
        )
        return payment

    def _get_accountant(self):
        self.ensure_one()
        group = self.env.ref("account.group_account_manager")
        users = group.sudo().users.filtered(
            lambda u: u.active and not u.share and self.company_id in u.company_ids
        )
        return users.sorted("id")[:1] or self.user_id or self.env.user

    # === OVERRIDES === #

    def _close(self, reason_id, close_date, note=False):
        """A contract the customer ended for a later date keeps their reason
        when it expires; a consumer told late (L215-1) gets the advance after
        the close date credited."""
        expired = self.env.ref(
            "subscription_billing.close_reason_expired", raise_if_not_found=False
        )
        ended = self.filtered(
            lambda c: c.termination_reason_id and expired and reason_id == expired.id
        )
        for contract in ended:
            super(SubscriptionContract, contract)._close(
                contract.termination_reason_id.id, close_date, note
            )
        result = super(SubscriptionContract, self - ended)._close(
            reason_id, close_date, note
        )
        for contract in self - ended:
            if (
                contract.customer_type == "b2c"
                and contract.free_termination_date
                and contract.free_termination_date <= close_date
            ):
                credit_note, refund = contract._credit_advance()
                if credit_note:
                    contract.sudo().write(
                        {
                            "advance_credit_move_id": credit_note.id,
                            "advance_refund_method": refund or False,
                        }
                    )
        return result

    def _renew(self, length=None, unit=None, price_increase=None, today=None):
        """Ended online past the refusal deadline: it renews, then ends at the
        end of the renewed term."""
        result = super()._renew(
            length=length, unit=unit, price_increase=price_increase, today=today
        )
        if self.termination_date and self.termination_date <= self.date_end:
            self.write(
                {
                    "renewal_refused": True,
                    "renewal_refusal_reason": _("Ended online by the customer"),
                    "renewal_refusal_date": self.termination_request_date,
                }
            )
        return result

    @api.model
    def _get_portal_termination_rules(self):
        return {
            termination.FREE: _(
                "As the renewal notice reached you late, you may end this "
                "subscription at once, free of charge (French Consumer Code, "
                "L215-1)."
            ),
            termination.TERM_END: _(
                "It ends at the end of its current term: it is not renewed."
            ),
            termination.RENEWED_END: _(
                "The deadline to refuse the renewal has passed: it ends at the end "
                "of the renewed term."
            ),
            termination.NOTICE: _(
                "It ends once the notice has run, and not before the end of the "
                "period already invoiced."
            ),
        }
