import logging

import psycopg2
from dateutil.relativedelta import relativedelta

from odoo import Command, _, api, models
from odoo.osv import expression
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL, format_date

from ..lib import card

_logger = logging.getLogger(__name__)

# First key of the PostgreSQL advisory lock taken on an invoice being charged.
CARD_LOCK = 7413
# Recording a payment that met another transaction (a deadlock, or the payment
# number another payment took meanwhile): tried again by the same run.
CARD_RECORD_CONCURRENCY = (
    *PG_CONCURRENCY_EXCEPTIONS_TO_RETRY,
    psycopg2.errors.UniqueViolation,
)


class AccountMove(models.Model):
    _inherit = "account.move"

    # === BUSINESS METHODS: CARD CHARGES === #

    @api.model
    def _cron_charge_cards(self, batch_size=200):
        """Daily: charge the saved card of the due card invoices, a bounded batch
        per call, each invoice in its own committed unit of work (see
        ``_charge_card``)."""
        domain = expression.AND(
            [
                self._get_open_invoice_domain(),
                [("card_next_try_date", "!=", False)],
                self.env["res.company"]._subscription_due_domain("card_next_try_date"),
            ]
        )
        moves = self.search(domain, order="card_next_try_date, id", limit=batch_size)
        again = []
        for move in moves:
            try:
                move.with_context(subscription_card_again=again)._charge_card()
            except Exception as error:  # pylint: disable=broad-except
                # Not even the unit of work could run (database unreachable):
                # the invoice stays due and the next run tries again.
                _logger.warning("Charging %s failed: %s", move.name, error)
        # Every invoice handled is no longer due today (charged, retried later,
        # or recorded tomorrow), except a charge whose recording met another
        # transaction: counted, so that the runner calls again at once (in a
        # new transaction). This transaction's snapshot does not see what the
        # charges committed, so count what matched before, less them.
        remaining = len(again) + (
            max(self.search_count(domain) - len(moves), 0)
            if len(moves) == batch_size
            else 0
        )
        self.env["ir.cron"]._notify_progress(done=len(moves), remaining=remaining)

    def _charge_card(self):
        """Charge the contract's saved card for the residual amount, never twice.

        A documented exception to "no commit in business code": the charge of
        an invoice is its own unit of work, in a cursor of its own, committed
        step by step: the transaction record (reference unique per invoice and
        attempt) before the provider is asked, then the provider's answer, then
        the payment. Whatever fails after the provider accepted (recording, a
        crash of the calling worker), the accepted charge is committed and the
        next run records it instead of charging again. An advisory lock on the
        invoice keeps two workers from charging it at the same time.

        Call it from a transaction that has not written the invoice; what it
        commits is visible to the caller's transaction only once that one ends
        (REPEATABLE READ), except in tests, where both cursors share one.
        Returns the transactions of the charge, in the caller's environment."""
        self.ensure_one()
        self.env.flush_all()
        if not self.env.registry.ready:
            # Module install or update (the demo book): no other worker runs,
            # and a cursor of its own would wait forever on the table locks of
            # the installing transaction. The charge stays in that transaction.
            with self.env.cr.savepoint():
                return self.with_context(
                    subscription_card_in_caller=True
                )._card_charge_unit(self.env.cr)
        tx_ids = []
        try:
            with self.env.registry.cursor() as cr:
                move = self.with_env(self.env(cr=cr))
                cr.execute(
                    SQL("SELECT pg_try_advisory_lock(%s, %s)", CARD_LOCK, self.id)
                )
                if not cr.fetchone()[0]:
                    _logger.info("%s is being charged by another worker", self.name)
                    return self.env["payment.transaction"]
                try:
                    tx_ids = move._card_charge_unit(cr).ids
                finally:
                    cr.rollback()  # nothing uncommitted is kept
                    cr.execute(
                        SQL("SELECT pg_advisory_unlock(%s, %s)", CARD_LOCK, self.id)
                    )
        finally:
            # What the other cursor committed is read afresh.
            self.env.invalidate_all()
        return self.env["payment.transaction"].sudo().browse(tx_ids)

    def _card_charge_unit(self, cr):
        """The charge of one invoice, run in ``cr`` (see ``_charge_card``)."""
        self.ensure_one()
        transactions = self.sudo().transaction_ids
        busy = transactions.filtered(
            lambda tx: tx.state in ("pending", "authorized", "done")
        )
        if busy:
            self._card_record_charge(busy)
            self._card_commit(cr)
            return busy
        if self.payment_state not in ("not_paid", "partial") or self.state != "posted":
            self.write({"card_next_try_date": False})
            self._card_commit(cr)
            return busy
        # A request that got no answer is asked again under its own reference.
        unanswered = transactions.filtered(
            lambda tx: tx.state == "draft" and tx.operation == "offline"
        )[:1]
        token = unanswered.token_id or self.subscription_contract_id.payment_token_id
        if not token.active:
            self._card_charge_failed(
                _(
                    "%(invoice)s cannot be charged: the contract has no saved card.",
                    invoice=self.display_name,
                )
            )
            self._card_commit(cr)
            return unanswered
        if token._is_card_expired(self.company_id._subscription_today()):
            self._card_expired(token)  # see account_move_card_expiry.py
            self._card_commit(cr)
            return unanswered
        tx = unanswered or self.env["payment.transaction"].sudo().create(
            {
                "provider_id": token.provider_id.id,
                "payment_method_id": token.payment_method_id.id,
                "reference": self._get_card_charge_reference(),
                "amount": self.amount_residual,
                "currency_id": self.currency_id.id,
                "partner_id": self.partner_id.id,
                "token_id": token.id,
                "operation": "offline",
                "invoice_ids": [Command.set(self.ids)],
            }
        )
        self._card_commit(cr)  # the record exists before the provider is asked
        try:
            tx._send_payment_request()
        except Exception as error:  # pylint: disable=broad-except
            _logger.info("Charging %s failed: %s", self.name, error)
            self._card_rollback(cr)
            self._card_charge_failed(str(error))
            self._card_commit(cr)
            return tx
        self._card_commit(cr)  # the provider's answer is kept, whatever follows
        if tx.state in ("pending", "authorized", "done"):
            self._card_record_charge(tx)
        else:
            self._card_charge_failed(tx.state_message or tx.state)
        self._card_commit(cr)
        return tx

    @api.model
    def _card_commit(self, cr):
        """The only commits of the card charges: see ``_charge_card``."""
        if not self.env.context.get("subscription_card_in_caller"):
            cr.commit()  # pylint: disable=invalid-commit

    @api.model
    def _card_rollback(self, cr):
        """Forget the failed request (kept for the caller's savepoint when the
        charge runs in the caller's transaction)."""
        if not self.env.context.get("subscription_card_in_caller"):
            cr.rollback()

    def _get_card_charge_reference(self):
        """Unique per invoice and attempt: a second worker charging the same
        attempt fails on the unique reference."""
        self.ensure_one()
        return f"{self.name}-C{self.card_failed_attempts + 1}"

    def _card_record_charge(self, transactions):
        """Record the accepted charge (payment, reconciliation) in a savepoint:
        when recording fails, the charge stays accepted and the next run
        records it, without charging again."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                transactions.filtered(
                    lambda tx: tx.state == "done" and not tx.is_post_processed
                )._post_process()
                self.write(
                    {
                        "card_next_try_date": False,
                        # Paid once done; a pending charge is still under way.
                        "payment_collection_pending": not any(
                            tx.state == "done" for tx in transactions
                        ),
                    }
                )
        except Exception as error:  # pylint: disable=broad-except
            _logger.info("Recording the card charge of %s failed: %s", self.name, error)
            today = self.company_id._subscription_today()
            again = self.env.context.get("subscription_card_again")
            if isinstance(error, CARD_RECORD_CONCURRENCY) and again is not None:
                # Met another transaction: recorded by the runner's next call.
                self.card_next_try_date = today
                again.append(self.id)
                return False
            self.card_next_try_date = today + relativedelta(days=1)
            self._message_log(
                body=_(
                    "The card charge %(reference)s was accepted but could not be "
                    "recorded (%(error)s): the next run records it, without "
                    "charging the card again.",
                    reference=", ".join(transactions.mapped("reference")),
                    error=str(error),
                )
            )
            return False
        return True

    def _card_charge_failed(self, reason):
        """Retry on the plan; once exhausted, back to the reminders and ask the
        customer to update the card."""
        self.ensure_one()
        attempts = self.card_failed_attempts + 1
        today = self.company_id._subscription_today()
        retry = card.next_retry(
            attempts, today, plan=self.company_id._get_card_retry_plan()
        )
        self.write(
            {
                "card_failed_attempts": attempts,
                "card_next_try_date": retry or False,
                "payment_collection_pending": bool(retry),
            }
        )
        if retry:
            body = _(
                "Card payment declined (%(reason)s): retried on %(date)s.",
                reason=reason,
                date=format_date(self.env, retry),
            )
        else:
            body = _(
                "Card payment declined (%(reason)s) after %(count)s attempts: the "
                "invoice follows the payment reminders and the customer is asked "
                "to update the card.",
                reason=reason,
                count=attempts,
            )
            self._card_email_customer("subscription_billing.mail_template_card_update")
        self._message_log(body=body)

    def _card_email_customer(self, template_xmlid):
        """Queue the company's email ``template_xmlid`` (asking for another
        card) to the customer, when they have an email address."""
        template = self.env.ref(template_xmlid, raise_if_not_found=False)
        if template and self.partner_id.email:
            template.send_mail(self.id, force_send=False)
