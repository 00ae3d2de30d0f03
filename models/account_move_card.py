import logging

from dateutil.relativedelta import relativedelta

from odoo import Command, _, api, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL, format_date

from ..lib import card

_logger = logging.getLogger(__name__)


class AccountMove(models.Model):
    _inherit = "account.move"

    # === BUSINESS METHODS: CARD CHARGES === #

    @api.model
    def _cron_charge_cards(self, batch_size=200):
        """Daily: charge the saved card of the due card invoices, a bounded batch
        per call. Each charge is asked in its own committed unit of work (see
        ``_card_request_charge``) and recorded in a savepoint."""
        domain = expression.AND(
            [
                self._get_open_invoice_domain(),
                [("card_next_try_date", "!=", False)],
                self.env["res.company"]._subscription_due_domain("card_next_try_date"),
            ]
        )
        moves = self.search(domain, order="card_next_try_date, id", limit=batch_size)
        for move in moves:
            try:
                move._charge_card()
            except Exception as error:  # pylint: disable=broad-except
                _logger.info("Charging %s failed: %s", move.name, error)
                move._card_charge_failed(str(error))
        remaining = self.search_count(domain) if len(moves) == batch_size else 0
        self.env["ir.cron"]._notify_progress(done=len(moves), remaining=remaining)

    def _charge_card(self):
        """Charge the contract's saved card for the residual amount, never twice:
        an invoice with a pending, authorized or done transaction is not charged
        again (a done one not recorded yet is recorded now), and a transaction
        whose request got no answer is asked again under its own reference."""
        self.ensure_one()
        self.invalidate_recordset(["transaction_ids"])
        busy = self.sudo().transaction_ids.filtered(
            lambda tx: tx.state in ("pending", "authorized", "done")
        )
        if busy:
            self._card_record_charge(busy)
            return busy
        unanswered = self.sudo().transaction_ids.filtered(
            lambda tx: tx.state == "draft" and tx.operation == "offline"
        )[:1]
        token = unanswered.token_id or self.subscription_contract_id.payment_token_id
        if not token.active:
            raise UserError(
                _(
                    "%(invoice)s cannot be charged: the contract has no saved card.",
                    invoice=self.display_name,
                )
            )
        reference = unanswered.reference or self._get_card_charge_reference()
        tx = self._card_request_charge(token, reference)
        if tx.state in ("pending", "authorized", "done"):
            self._card_record_charge(tx)
        else:
            self._card_charge_failed(tx.state_message or tx.state)
        return tx

    def _get_card_charge_reference(self):
        """Unique per invoice and attempt: a second worker charging the same
        attempt fails on the unique reference before asking the provider."""
        self.ensure_one()
        return f"{self.name}-C{self.card_failed_attempts + 1}"

    def _card_request_charge(self, token, reference):
        """Create the transaction and ask the provider, each step committed in
        a cursor of its own.

        A documented exception to "no commit in business code": the transaction
        must exist, committed, before the provider is asked, and the provider's
        answer must be kept even when recording the payment fails afterwards,
        so that a later run finds the accepted charge and records it instead of
        charging the card again. The reference is the provider's idempotency
        key: an unanswered request is asked again under the same reference."""
        self.ensure_one()
        self.env.flush_all()
        try:
            with self.env.registry.cursor() as cr:
                env = self.env(cr=cr)
                transactions = env["payment.transaction"].sudo()
                tx = transactions.search([("reference", "=", reference)], limit=1)
                if not tx:
                    tx = transactions.create(
                        {
                            "provider_id": token.provider_id.id,
                            "payment_method_id": token.payment_method_id.id,
                            "reference": reference,
                            "amount": self.amount_residual,
                            "currency_id": self.currency_id.id,
                            "partner_id": self.partner_id.id,
                            "token_id": token.id,
                            "operation": "offline",
                            "invoice_ids": [Command.set(self.ids)],
                        }
                    )
                    # the record exists before the provider is asked
                    cr.commit()  # pylint: disable=invalid-commit
                if tx.state == "draft":
                    tx._send_payment_request()
                    # the provider's answer is kept, whatever follows
                    cr.commit()  # pylint: disable=invalid-commit
                tx_id = tx.id
        finally:
            # What the other cursor committed is read afresh.
            self.env.invalidate_all()
        return self.env["payment.transaction"].sudo().browse(tx_id)

    def _card_record_charge(self, transactions):
        """Record the accepted charge (payment, reconciliation) in a savepoint:
        when recording fails, the charge stays accepted and the next run
        records it, without charging again."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                # Lock the transactions: one recorder at a time.
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM payment_transaction WHERE id IN %s FOR UPDATE",
                        tuple(transactions.ids),
                    )
                )
                transactions.invalidate_recordset()
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
            _logger.warning(
                "Recording the card charge of %s failed: %s", self.name, error
            )
            today = self.company_id._subscription_today()
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
            template = self.env.ref(
                "subscription_billing.mail_template_card_update",
                raise_if_not_found=False,
            )
            if template and self.partner_id.email:
                template.send_mail(self.id, force_send=False)
        self._message_log(body=body)
