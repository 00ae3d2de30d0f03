import logging

from odoo import Command, _, api, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import format_date

from ..lib import card

_logger = logging.getLogger(__name__)


class AccountMove(models.Model):
    _inherit = "account.move"

    # === BUSINESS METHODS: CARD CHARGES === #

    @api.model
    def _cron_charge_cards(self, batch_size=200):
        """Daily: charge the saved card of the due card invoices, a bounded batch
        per call; one savepoint per invoice."""
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
                with self.env.cr.savepoint():
                    move._charge_card()
            except Exception as error:  # pylint: disable=broad-except
                _logger.info("Charging %s failed: %s", move.name, error)
                move._card_charge_failed(str(error))
        remaining = self.search_count(domain) if len(moves) == batch_size else 0
        self.env["ir.cron"]._notify_progress(done=len(moves), remaining=remaining)

    def _charge_card(self):
        """Charge the contract's saved card for the residual amount, never twice:
        an invoice with a pending, authorized or done transaction is left to
        Odoo's payment post-processing."""
        self.ensure_one()
        busy = self.transaction_ids.filtered(
            lambda tx: tx.state in ("pending", "authorized", "done")
        )
        if busy:
            self.card_next_try_date = False
            busy.filtered(
                lambda tx: tx.state == "done" and not tx.is_post_processed
            )._post_process()
            return busy
        token = self.subscription_contract_id.payment_token_id
        if not token.active:
            raise UserError(
                _(
                    "%(invoice)s cannot be charged: the contract has no saved card.",
                    invoice=self.display_name,
                )
            )
        transaction_model = self.env["payment.transaction"].sudo()
        tx = transaction_model.create(
            {
                "provider_id": token.provider_id.id,
                "payment_method_id": token.payment_method_id.id,
                "reference": transaction_model._compute_reference(
                    token.provider_id.code, prefix=self.name
                ),
                "amount": self.amount_residual,
                "currency_id": self.currency_id.id,
                "partner_id": self.partner_id.id,
                "token_id": token.id,
                "operation": "offline",
                "invoice_ids": [Command.set(self.ids)],
            }
        )
        tx._send_payment_request()
        if tx.state == "done":
            tx._post_process()
            self.write(
                {"card_next_try_date": False, "payment_collection_pending": False}
            )
        elif tx.state in ("pending", "authorized"):
            self.card_next_try_date = False  # the provider's notification follows
        else:
            self._card_charge_failed(tx.state_message or tx.state)
        return tx

    def _card_charge_failed(self, reason):
        """Retry on the plan; once exhausted, back to the reminders and ask the
        customer to update the card."""
        self.ensure_one()
        attempts = self.card_failed_attempts + 1
        today = self.company_id._subscription_today()
        retry = card.next_retry(attempts, today)
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
